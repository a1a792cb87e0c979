// Byte-pair merging of one pre-tokenized piece. Start from one token per byte;
// repeatedly merge the adjacent pair with the lowest rank, the leftmost one on
// ties, until no adjacent pair has a merge. For a tiktoken file the rank of a
// pair is the rank of the token it forms; for tokenizer.json it is the line of
// the merge in "merges". Both references merge in exactly this order.
#include <stdlib.h>
#include <string.h>
#include "tokenizer_impl.h"
#include "util.h"

// Short pieces (nearly all of them) are fastest with a linear rescan of a small
// array; the heap bounds long ones (digit or letter runs, invalid bytes) at
// O(n log n) instead of O(n^2).
#define SCAN_MAX_BYTES 48

static void work_reserve(BpeWork *w, size_t n) {
    if (n <= w->cap) return;
    CachedPiece *cache = w->cache;
    w->cache = NULL;
    bpe_work_free(w);
    w->cache = cache;
    w->cap = n < 256 ? 256 : n * 2;
    w->id = xmalloc(w->cap * sizeof *w->id);
    w->rank = xmalloc(w->cap * sizeof *w->rank);
    w->merged = xmalloc(w->cap * sizeof *w->merged);
    w->prev = xmalloc(w->cap * sizeof *w->prev);
    w->next = xmalloc(w->cap * sizeof *w->next);
    w->heap = xmalloc(3 * w->cap * sizeof *w->heap);
}

void bpe_work_free(BpeWork *w) {
    free(w->cache);
    free(w->id);
    free(w->rank);
    free(w->merged);
    free(w->prev);
    free(w->next);
    free(w->heap);
    memset(w, 0, sizeof *w);
}

void bpe_merge_scan(const Tokenizer *t, BpeWork *w, const uint8_t *piece, size_t n, TokenIds *out) {
    work_reserve(w, n);
    int32_t *id = w->id, *rank = w->rank, *merged = w->merged;
    size_t m = n;
    for (size_t i = 0; i < n; i++) id[i] = t->byte_id[piece[i]];
    for (size_t i = 0; i + 1 < m; i++) rank[i] = pair_map_get(&t->pairs, id[i], id[i + 1], &merged[i]);
    while (m > 1) {
        size_t best = 0;
        for (size_t i = 1; i + 1 < m; i++)
            if (rank[i] < rank[best]) best = i;
        if (rank[best] == NO_MERGE) break;
        id[best] = merged[best];
        size_t tail = m - best - 2;   // elements after best+1
        memmove(id + best + 1, id + best + 2, tail * sizeof *id);
        memmove(rank + best + 1, rank + best + 2, tail * sizeof *rank);
        memmove(merged + best + 1, merged + best + 2, tail * sizeof *merged);
        m--;
        if (best + 1 < m) rank[best] = pair_map_get(&t->pairs, id[best], id[best + 1], &merged[best]);
        else rank[best] = NO_MERGE;
        if (best > 0) rank[best - 1] = pair_map_get(&t->pairs, id[best - 1], id[best], &merged[best - 1]);
    }
    for (size_t i = 0; i < m; i++) token_ids_push(out, id[i]);
}

// min-heap of (rank << 32 | node): lowest rank first, then leftmost node
static void heap_push(int64_t *h, size_t *size, int64_t v) {
    size_t i = (*size)++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (h[parent] <= v) break;
        h[i] = h[parent];
        i = parent;
    }
    h[i] = v;
}

static int64_t heap_pop(int64_t *h, size_t *size) {
    int64_t top = h[0], last = h[--*size];
    size_t i = 0, n = *size;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && h[c + 1] < h[c]) c++;
        if (last <= h[c]) break;
        h[i] = h[c];
        i = c;
    }
    if (n) h[i] = last;
    return top;
}

// rank[i]/merged[i] describe the pair (i, next[i]); pushed when it can merge
static void heap_update(const Tokenizer *t, BpeWork *w, int32_t i, size_t *size) {
    int32_t j = w->next[i];
    w->rank[i] = j < 0 ? NO_MERGE : pair_map_get(&t->pairs, w->id[i], w->id[j], &w->merged[i]);
    if (w->rank[i] != NO_MERGE) heap_push(w->heap, size, (int64_t)w->rank[i] << 32 | i);
}

void bpe_merge_heap(const Tokenizer *t, BpeWork *w, const uint8_t *piece, size_t n, TokenIds *out) {
    work_reserve(w, n);
    size_t size = 0;
    for (size_t i = 0; i < n; i++) {
        w->id[i] = t->byte_id[piece[i]];
        w->prev[i] = (int32_t)i - 1;
        w->next[i] = i + 1 < n ? (int32_t)i + 1 : -1;
    }
    for (size_t i = 0; i < n; i++) heap_update(t, w, (int32_t)i, &size);
    while (size) {
        int64_t top = heap_pop(w->heap, &size);
        int32_t i = (int32_t)(top & 0xffffffff), r = (int32_t)(top >> 32);
        // stale entries: node merged away, or its pair changed since the push
        if (w->id[i] < 0 || w->rank[i] != r) continue;
        int32_t j = w->next[i];
        w->id[i] = w->merged[i];
        w->id[j] = -1;
        w->rank[j] = NO_MERGE;
        w->next[i] = w->next[j];
        if (w->next[j] >= 0) w->prev[w->next[j]] = i;
        heap_update(t, w, i, &size);
        if (w->prev[i] >= 0) heap_update(t, w, w->prev[i], &size);
    }
    for (int32_t i = 0; i >= 0; i = w->next[i]) token_ids_push(out, w->id[i]);
}

void bpe_encode(const Tokenizer *t, BpeWork *w, const uint8_t *piece, size_t n, TokenIds *out) {
    if (n == 1) {
        token_ids_push(out, t->byte_id[piece[0]]);
        return;
    }
    if (t->whole_piece_lookup) {
        int id = bytes_map_get(t, &t->ordinary, (const char *)piece, n);
        if (id >= 0) {
            token_ids_push(out, id);
            return;
        }
    }
    if (n > sizeof w->cache->bytes) {
        if (n <= SCAN_MAX_BYTES) bpe_merge_scan(t, w, piece, n, out);
        else bpe_merge_heap(t, w, piece, n, out);
        return;
    }
    // short pieces recur (words of several tokens): look the merge up first
    if (!w->cache) w->cache = xcalloc(PIECE_CACHE_SLOTS, sizeof *w->cache);
    CachedPiece *c = &w->cache[hash_bytes(piece, n, load_head(piece, n)) & (PIECE_CACHE_SLOTS - 1)];
    if (c->len == n && memcmp(c->bytes, piece, n) == 0) {
        token_ids_reserve(out, c->n_ids);
        memcpy(out->ids + out->len, c->ids, c->n_ids * sizeof *c->ids);
        out->len += c->n_ids;
        return;
    }
    size_t before = out->len;
    bpe_merge_scan(t, w, piece, n, out);
    size_t n_ids = out->len - before;
    if (n_ids <= sizeof c->ids / sizeof *c->ids) {
        c->len = (uint8_t)n;
        c->n_ids = (uint8_t)n_ids;
        memcpy(c->bytes, piece, n);
        memcpy(c->ids, out->ids + before, n_ids * sizeof *c->ids);
    }
}
