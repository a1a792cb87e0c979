// Internals shared by the tokenizer's source files (not a public contract: the
// API is include/tokenizer.h).
#ifndef SCPT_TOKENIZER_IMPL_H
#define SCPT_TOKENIZER_IMPL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "tokenizer.h"

// Open-addressing map from byte strings to ids. A slot keeps the first 8 bytes
// and the length, so most lookups (short pieces) never touch the token bytes.
typedef struct {
    uint64_t head;       // first min(8, len) bytes, zero-padded
    uint32_t len;        // 0: empty slot
    int32_t id;
} BytesSlot;
typedef struct {
    BytesSlot *slots;
    uint64_t mask;
} BytesMap;

// Open-addressing map from an adjacent token pair to the merge it allows.
typedef struct {
    uint64_t key;        // (left << 32 | right) + 1; 0: empty slot
    int32_t rank;        // merge priority: lower merges first
    int32_t merged;      // id of the merged token
} PairSlot;
typedef struct {
    PairSlot *slots;
    uint64_t mask;
    size_t count;
} PairMap;

typedef struct Scratch Scratch;

struct Tokenizer {
    char *path;
    char name[16];             // "gpt2", "llama3", "custom"
    int vocab_size;
    int vocab_cap;    // entries allocated in off/len/special
    // bytes of every id: blob[off[id] .. off[id] + len[id]); len -1 = no such id
    char *blob;
    size_t blob_len, blob_cap;
    uint32_t *off;
    int32_t *len;
    uint8_t *special;          // 1 for special (added) tokens
    BytesMap ordinary;         // mergeable tokens by bytes
    BytesMap specials;         // special tokens by bytes
    int byte_id[256];          // the single-byte tokens
    PairMap pairs;
    int whole_piece_lookup;    // a piece that is itself a token is not merged (tiktoken; HF ignore_merges)
    int eot, bos;
    // special-token scanning: which bytes can start one, and their distinct lengths
    uint8_t special_first[256];
    int special_lens[64], n_special_lens;
    int can_cut;               // tokenizer_safe_cut's rule holds (built-in pattern)
    pcre2_code *re;
    int jit;
    // per-thread scratch, created on a thread's first encode, freed with the tokenizer
    pthread_key_t key;
    pthread_mutex_t lock;
    Scratch *scratch_list;
};

// vocab.c: building the tables. A file reader adds every token, calls
// tokenizer_index (maps by bytes, byte tokens), fills t->pairs, then
// tokenizer_finish (special tokens, split pattern).
int tokenizer_add_token(Tokenizer *t, int id, const char *bytes, size_t len, int special);
int tokenizer_index(Tokenizer *t);
int tokenizer_finish(Tokenizer *t, const char *pattern);
void pair_map_init(PairMap *m, size_t expected);
// the cut point of tokenizer_safe_cut: an ASCII letter, then a space or newline
static inline int is_cut_point(const char *s, size_t i) {
    char a = s[i - 1] | 0x20;
    return (s[i] == ' ' || s[i] == '\n') && a >= 'a' && a <= 'z';
}

// tokenizer_tiktoken.c / tokenizer_hf.c: the file readers (fill t, then tokenizer_finish)
int tokenizer_read_tiktoken(Tokenizer *t, const char *data, size_t size, TokenizerFamily family);
int tokenizer_read_hf(Tokenizer *t, const char *data, size_t size);

// the split patterns as the references write them
extern const char TOKENIZER_PATTERN_GPT2[];
extern const char TOKENIZER_PATTERN_LLAMA3[];

void pair_map_put(PairMap *m, int left, int right, int rank, int merged);

// The first min(8, n) bytes of p as a little-endian integer, reading only p[0, n).
static inline uint64_t load_head(const uint8_t *p, size_t n) {
    uint64_t w;
    uint32_t lo, hi;
    if (n >= 8) {
        memcpy(&w, p, 8);
        return w;
    }
    if (n >= 4) {   // two overlapping 4-byte loads
        memcpy(&lo, p, 4);
        memcpy(&hi, p + n - 4, 4);
        return lo | (uint64_t)hi << (8 * (n - 4));
    }
    if (n == 0) return 0;
    return p[0] | (uint64_t)p[n / 2] << (8 * (n / 2)) | (uint64_t)p[n - 1] << (8 * (n - 1));
}

static inline uint64_t hash_bytes(const uint8_t *p, size_t n, uint64_t head) {
    uint64_t h = (head ^ (n * 0x9e3779b97f4a7c15ull)) * 0xff51afd7ed558ccdull;
    for (size_t i = 8; i < n; i += 8) {
        h = (h ^ load_head(p + i, n - i < 8 ? n - i : 8)) * 0xc4ceb9fe1a85ec53ull;
        h ^= h >> 29;
    }
    return h ^ (h >> 32);
}

static inline int bytes_map_get(const Tokenizer *t, const BytesMap *m, const char *bytes, size_t len) {
    const uint8_t *p = (const uint8_t *)bytes;
    uint64_t head = load_head(p, len);
    for (uint64_t i = hash_bytes(p, len, head) & m->mask;; i = (i + 1) & m->mask) {
        const BytesSlot *s = &m->slots[i];
        if (s->len == 0) return -1;
        if (s->head == head && s->len == len &&
            (len <= 8 || memcmp(t->blob + t->off[s->id] + 8, p + 8, len - 8) == 0))
            return s->id;
    }
}

#define NO_MERGE INT32_MAX

static inline uint64_t pair_hash(uint64_t key) {
    key ^= key >> 29;
    key *= 0xbf58476d1ce4e5b9ull;
    return key ^ (key >> 32);
}

// rank of merging left+right (NO_MERGE if none) and the merged id
static inline int32_t pair_map_get(const PairMap *m, int left, int right, int32_t *merged) {
    uint64_t key = ((uint64_t)(uint32_t)left << 32 | (uint32_t)right) + 1;
    for (uint64_t i = pair_hash(key) & m->mask;; i = (i + 1) & m->mask) {
        const PairSlot *s = &m->slots[i];
        if (s->key == key) {
            *merged = s->merged;
            return s->rank;
        }
        if (s->key == 0) return NO_MERGE;
    }
}

// bpe.c: one pre-tokenized piece to ids. The work arrays are per thread.
// Recently merged pieces of up to 22 bytes and 6 ids, direct-mapped by hash.
#define PIECE_CACHE_SLOTS 4096
typedef struct {
    uint8_t len, n_ids;
    uint8_t bytes[22];
    int32_t ids[6];
} CachedPiece;

typedef struct {
    int32_t *id, *rank, *merged, *prev, *next;
    int64_t *heap;
    size_t cap;
    CachedPiece *cache;   // PIECE_CACHE_SLOTS, allocated on first use
} BpeWork;
void bpe_encode(const Tokenizer *t, BpeWork *w, const uint8_t *piece, size_t n, TokenIds *out);
// The two merge loops, exposed so the tests can check they agree.
void bpe_merge_scan(const Tokenizer *t, BpeWork *w, const uint8_t *piece, size_t n, TokenIds *out);
void bpe_merge_heap(const Tokenizer *t, BpeWork *w, const uint8_t *piece, size_t n, TokenIds *out);
void bpe_work_free(BpeWork *w);

#endif
