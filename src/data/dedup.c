// Exact and near-duplicate detection (see include/dedup.h). One-permutation
// MinHash: each shingle's 64-bit hash goes to one of BINS bins by its top bits
// and keeps the smallest low part there; empty bins borrow the next non-empty
// bin's value (rotation densification), so a signature costs one hash per
// shingle. Two texts agree in a bin with probability close to their Jaccard
// similarity; LSH on BANDS bands of ROWS bins finds the earlier documents that
// agree in a whole band, and the fraction of equal bins decides.
#include "dedup.h"

#include <stdlib.h>
#include <string.h>
#include "rng.h"
#include "util.h"

#define BINS 128
#define BANDS 16
#define ROWS (BINS / BANDS)
#define SHINGLE 5

typedef uint16_t Sig[BINS];   // 16 bits per bin: false agreement 1 in 65536

typedef struct {
    uint64_t key;   // 0: empty slot
    int32_t doc;
} Slot;

typedef struct {
    Slot *slots;
    size_t cap, n;
} Table;

struct Dedup {
    int near;
    double threshold;
    Table exact, bands;
    Sig *sigs;            // of the documents kept
    size_t n_sigs, cap_sigs;
};

static uint64_t bytes_hash(const char *s, size_t n, uint64_t seed) {
    uint64_t h = 0xcbf29ce484222325ull ^ seed;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
    return mix64(h ^ n);
}

// ---- a hash table of 64-bit keys to the first document that had them ----------------

static int32_t *table_find(Table *t, uint64_t key) {
    if (!t->cap) return NULL;
    key |= 1;   // 0 marks an empty slot
    for (size_t i = key & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
        if (t->slots[i].key == key) return &t->slots[i].doc;
        if (!t->slots[i].key) return NULL;
    }
}

static void table_put(Table *t, uint64_t key, int32_t doc) {
    if (2 * (t->n + 1) > t->cap) {
        Table bigger = {xcalloc(t->cap ? 2 * t->cap : 1024, sizeof(Slot)), t->cap ? 2 * t->cap : 1024, 0};
        for (size_t i = 0; i < t->cap; i++)
            if (t->slots[i].key) table_put(&bigger, t->slots[i].key, t->slots[i].doc);
        free(t->slots);
        *t = bigger;
    }
    key |= 1;
    size_t i = key & (t->cap - 1);
    while (t->slots[i].key && t->slots[i].key != key) i = (i + 1) & (t->cap - 1);
    if (!t->slots[i].key) t->n++, t->slots[i] = (Slot){key, doc};
}

// ---- signatures ----------------------------------------------------------------------

static int is_word_byte(unsigned char c) {
    return c >= 0x80 || (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || c == '_' || c == '\'';
}

// The text's signature; returns its word count (0: no signature worth comparing).
static int signature(const char *text, size_t len, Sig sig) {
    uint64_t mins[BINS];
    for (int b = 0; b < BINS; b++) mins[b] = UINT64_MAX;
    uint64_t window[SHINGLE];
    int words = 0;
    char lower[64];
    for (size_t i = 0; i < len;) {
        while (i < len && !is_word_byte((unsigned char)text[i])) i++;
        if (i == len) break;
        uint64_t h = 0x9e3779b97f4a7c15ull;
        while (i < len && is_word_byte((unsigned char)text[i])) {
            size_t n = 0;   // lowercased in pieces of up to 64 bytes
            for (; n < sizeof lower && i < len && is_word_byte((unsigned char)text[i]); n++, i++)
                lower[n] = (char)(text[i] >= 'A' && text[i] <= 'Z' ? text[i] | 0x20 : text[i]);
            h = bytes_hash(lower, n, h);
        }
        window[words++ % SHINGLE] = h;
        if (words >= SHINGLE) {
            uint64_t s = 0;
            for (int k = 0; k < SHINGLE; k++) s = mix64(s + window[(words + k) % SHINGLE]);
            int bin = (int)(s >> 57);
            uint64_t v = s & ((1ull << 57) - 1);
            if (v < mins[bin]) mins[bin] = v;
        }
    }
    if (words > 0 && words < SHINGLE) {   // a short text is one shingle
        uint64_t s = 0;
        for (int k = 0; k < words; k++) s = mix64(s + window[k]);
        mins[s >> 57] = s & ((1ull << 57) - 1);
    }
    int any = 0;
    for (int b = 0; b < BINS; b++) any |= mins[b] != UINT64_MAX;
    for (int b = 0; b < BINS; b++) {
        int from = b, hops = 0;
        while (any && mins[from] == UINT64_MAX) from = (from + 1) % BINS, hops++;
        // a borrowed value is marked by how far it came, so that two texts agree
        // on it only when their empty bins agree too
        sig[b] = any ? (uint16_t)mix64(mins[from] + (uint64_t)hops * 0x9e3779b97f4a7c15ull) : 0;
    }
    return words;
}

static double agreement(const uint16_t *a, const uint16_t *b) {
    int same = 0;
    for (int i = 0; i < BINS; i++) same += a[i] == b[i];
    return (double)same / BINS;
}

double dedup_similarity(const char *a, size_t a_len, const char *b, size_t b_len) {
    Sig x, y;
    signature(a, a_len, x);
    signature(b, b_len, y);
    return agreement(x, y);
}

// ---- the checker ----------------------------------------------------------------------

Dedup *dedup_new(int near, double threshold) {
    Dedup *d = xcalloc(1, sizeof *d);
    d->near = near;
    d->threshold = threshold;
    return d;
}

void dedup_free(Dedup *d) {
    if (!d) return;
    free(d->exact.slots);
    free(d->bands.slots);
    free(d->sigs);
    free(d);
}

static uint64_t band_key(const uint16_t *sig, int band) {
    return bytes_hash((const char *)(sig + band * ROWS), ROWS * sizeof *sig, (uint64_t)band + 1);
}

DupKind dedup_check(Dedup *d, const char *text, size_t len) {
    // two independent 64-bit hashes: a false exact match needs both to collide
    uint64_t h1 = bytes_hash(text, len, 1), h2 = bytes_hash(text, len, 2);
    uint64_t exact_key = h1 ^ mix64(h2);
    if (table_find(&d->exact, exact_key)) return DUP_EXACT;
    Sig sig;
    int near = d->near && signature(text, len, sig) > 0;   // text without words: exact matches only
    if (near) {
        for (int band = 0; band < BANDS; band++) {
            int32_t *hit = table_find(&d->bands, band_key(sig, band));
            if (hit && agreement(sig, d->sigs[*hit]) >= d->threshold) return DUP_NEAR;
        }
    }
    table_put(&d->exact, exact_key, 0);
    if (near) {
        if (d->n_sigs == d->cap_sigs) {
            d->cap_sigs = d->cap_sigs ? 2 * d->cap_sigs : 1024;
            d->sigs = realloc(d->sigs, d->cap_sigs * sizeof *d->sigs);
            if (!d->sigs) die("out of memory remembering documents for --dedup");
        }
        memcpy(d->sigs[d->n_sigs], sig, sizeof sig);
        for (int band = 0; band < BANDS; band++) table_put(&d->bands, band_key(sig, band), (int32_t)d->n_sigs);
        d->n_sigs++;
    }
    return DUP_NONE;
}
