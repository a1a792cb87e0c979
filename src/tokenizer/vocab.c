// The tokenizer's tables, below every file format and the merge loop: token
// bytes and their hash maps, merge ranks, the split pattern compiled, and the
// queries on them. tokenizer_tiktoken.c and tokenizer_hf.c fill them, bpe.c
// reads them, tokenizer.c (loading dispatch, encode/decode) sits on top.
#include <stdlib.h>
#include <string.h>
#include "tokenizer_impl.h"
#include "util.h"

// The split patterns exactly as tiktoken writes them (r50k_base and Meta's
// Llama 3 tokenizer.py; Llama 3's tokenizer.json holds the same string).
const char TOKENIZER_PATTERN_GPT2[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
const char TOKENIZER_PATTERN_LLAMA3[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
    "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

// ---- growable id array -------------------------------------------------------

void token_ids_reserve(TokenIds *v, size_t extra) {
    if (v->len + extra <= v->cap) return;
    size_t cap = v->cap ? v->cap * 2 : 1024;
    while (cap < v->len + extra) cap *= 2;
    int32_t *ids = realloc(v->ids, cap * sizeof *ids);
    if (!ids) die("out of memory growing a token array to %zu ids", cap);
    v->ids = ids;
    v->cap = cap;
}

void token_ids_free(TokenIds *v) {
    free(v->ids);
    memset(v, 0, sizeof *v);
}

// ---- maps --------------------------------------------------------------------

static size_t pow2_at_least(size_t n) {
    size_t c = 16;
    while (c < n) c *= 2;
    return c;
}

// -1 when the bytes are already there (their id in *dup)
static int bytes_map_put(const Tokenizer *t, BytesMap *m, int id, int *dup) {
    const uint8_t *p = (const uint8_t *)t->blob + t->off[id];
    size_t len = t->len[id];
    int other = bytes_map_get(t, m, (const char *)p, len);
    if (other >= 0) {
        *dup = other;
        return -1;
    }
    uint64_t head = load_head(p, len), i = hash_bytes(p, len, head) & m->mask;
    while (m->slots[i].len) i = (i + 1) & m->mask;
    m->slots[i] = (BytesSlot){head, (uint32_t)len, id};
    return 0;
}

static void bytes_map_init(BytesMap *m, size_t expected) {
    size_t cap = pow2_at_least(2 * expected);
    m->slots = xcalloc(cap, sizeof *m->slots);
    m->mask = cap - 1;
}

void pair_map_init(PairMap *m, size_t expected) {
    size_t cap = pow2_at_least(2 * expected);
    m->slots = xcalloc(cap, sizeof *m->slots);
    m->mask = cap - 1;
    m->count = 0;
}

// Keeps the first (lowest-rank) merge of a pair; grows at half full.
void pair_map_put(PairMap *m, int left, int right, int rank, int merged) {
    if (2 * (m->count + 1) > m->mask + 1) {
        PairMap bigger;
        pair_map_init(&bigger, 2 * (m->mask + 1));
        for (uint64_t i = 0; i <= m->mask; i++) {
            const PairSlot *s = &m->slots[i];
            if (s->key) pair_map_put(&bigger, (int)((s->key - 1) >> 32), (int)((s->key - 1) & 0xffffffff), s->rank, s->merged);
        }
        free(m->slots);
        *m = bigger;
    }
    uint64_t key = ((uint64_t)(uint32_t)left << 32 | (uint32_t)right) + 1;
    for (uint64_t i = pair_hash(key) & m->mask;; i = (i + 1) & m->mask) {
        if (m->slots[i].key == key) return;
        if (m->slots[i].key == 0) {
            m->slots[i] = (PairSlot){key, rank, merged};
            m->count++;
            return;
        }
    }
}

// ---- building --------------------------------------------------------------

int tokenizer_add_token(Tokenizer *t, int id, const char *bytes, size_t len, int special) {
    if (id < 0 || id >= (1 << 30)) {
        scpt_set_error("%s: token id %d is out of range", t->path, id);
        return -1;
    }
    if (len == 0) {
        scpt_set_error("%s: token id %d is empty", t->path, id);
        return -1;
    }
    if (id >= t->vocab_cap) {
        size_t cap = pow2_at_least(id + 1);
        t->off = realloc(t->off, cap * sizeof *t->off);
        t->len = realloc(t->len, cap * sizeof *t->len);
        t->special = realloc(t->special, cap);
        if (!t->off || !t->len || !t->special) die("out of memory loading %s", t->path);
        for (size_t i = t->vocab_cap; i < cap; i++) t->len[i] = -1;
        t->vocab_cap = (int)cap;
    }
    if (id >= t->vocab_size) t->vocab_size = id + 1;
    if (t->len[id] >= 0) {
        scpt_set_error("%s: token id %d appears twice", t->path, id);
        return -1;
    }
    if (t->blob_len + len > t->blob_cap) {
        t->blob_cap = pow2_at_least(t->blob_len + len + (1 << 20));
        t->blob = realloc(t->blob, t->blob_cap);
        if (!t->blob) die("out of memory loading %s", t->path);
    }
    if (t->blob_len + len > UINT32_MAX) {
        scpt_set_error("%s: token bytes exceed 4 GiB", t->path);
        return -1;
    }
    memcpy(t->blob + t->blob_len, bytes, len);
    t->off[id] = (uint32_t)t->blob_len;
    t->len[id] = (int32_t)len;
    t->special[id] = (uint8_t)special;
    t->blob_len += len;
    return 0;
}

int tokenizer_index(Tokenizer *t) {
    size_t n_ordinary = 0, n_special = 0;
    for (int id = 0; id < t->vocab_size; id++)
        if (t->len[id] >= 0) *(t->special[id] ? &n_special : &n_ordinary) += 1;
    bytes_map_init(&t->ordinary, n_ordinary);
    bytes_map_init(&t->specials, n_special);
    for (int id = 0; id < t->vocab_size; id++) {
        if (t->len[id] < 0) continue;
        int dup;
        if (bytes_map_put(t, t->special[id] ? &t->specials : &t->ordinary, id, &dup) != 0) {
            scpt_set_error("%s: token ids %d and %d have the same bytes", t->path, dup, id);
            return -1;
        }
    }
    for (int b = 0; b < 256; b++) {
        char c = (char)b;
        t->byte_id[b] = bytes_map_get(t, &t->ordinary, &c, 1);
        if (t->byte_id[b] < 0) {
            scpt_set_error("%s: not a byte-level BPE vocabulary: no token for the byte 0x%02x", t->path, b);
            return -1;
        }
    }
    return 0;
}

// tiktoken and Hugging Face take \s as Unicode White_Space; PCRE2's \s also
// matches U+180E (no longer a space since Unicode 6.3), so \s and \S are spelled
// out. Everything else in the pattern is PCRE2-compatible as written.
#define WHITE_SPACE "\\t-\\r\\x{85}\\p{Z}"
static char *pattern_for_pcre2(const char *p) {
    size_t n = strlen(p);
    char *out = xmalloc(n * 24 + 1), *o = out;
    int in_class = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\\' && i + 1 < n) {
            char c = p[++i];
            if (c == 's') o += sprintf(o, in_class ? WHITE_SPACE : "[" WHITE_SPACE "]");
            else if (c == 'S' && !in_class) o += sprintf(o, "[^" WHITE_SPACE "]");
            else *o++ = '\\', *o++ = c;   // (\S inside a class keeps PCRE2's meaning)
            continue;
        }
        if (!in_class && p[i] == '[') {
            in_class = 1;
            *o++ = p[i];
            if (i + 1 < n && p[i + 1] == '^') *o++ = p[++i];
            if (i + 1 < n && p[i + 1] == ']') *o++ = p[++i];   // a leading ] is literal
            continue;
        }
        if (in_class && p[i] == '[' && i + 1 < n && p[i + 1] == ':') {   // [:alpha:]
            const char *end = strstr(p + i, ":]");
            size_t k = end ? (size_t)(end - (p + i)) + 2 : 1;
            memcpy(o, p + i, k);
            o += k;
            i += k - 1;
            continue;
        }
        if (in_class && p[i] == ']') in_class = 0;
        *o++ = p[i];
    }
    *o = '\0';
    return out;
}

static int contains_cut_point(const char *s, size_t n) {
    for (size_t i = 1; i < n; i++)
        if (is_cut_point(s, i)) return 1;
    return 0;
}

int tokenizer_finish(Tokenizer *t, const char *pattern) {
    int builtin = 1;
    if (strcmp(pattern, TOKENIZER_PATTERN_GPT2) == 0) strcpy(t->name, "gpt2");
    else if (strcmp(pattern, TOKENIZER_PATTERN_LLAMA3) == 0) strcpy(t->name, "llama3");
    else strcpy(t->name, "custom"), builtin = 0;
    t->eot = tokenizer_token_id(t, "<|endoftext|>");
    if (t->eot < 0) t->eot = tokenizer_token_id(t, "<|end_of_text|>");
    t->bos = tokenizer_token_id(t, "<|begin_of_text|>");
    t->can_cut = builtin;
    for (int id = 0; id < t->vocab_size; id++) {
        if (t->len[id] < 0 || !t->special[id]) continue;
        const char *s = t->blob + t->off[id];
        t->special_first[(uint8_t)s[0]] = 1;
        if (contains_cut_point(s, t->len[id])) t->can_cut = 0;
        int k = 0;
        while (k < t->n_special_lens && t->special_lens[k] != t->len[id]) k++;
        if (k == t->n_special_lens) {
            if (k == (int)(sizeof t->special_lens / sizeof *t->special_lens)) {
                scpt_set_error("%s: special tokens of more than %d different lengths", t->path, k);
                return -1;
            }
            // kept in decreasing order: the longest special token wins
            while (k > 0 && t->special_lens[k - 1] < t->len[id]) {
                t->special_lens[k] = t->special_lens[k - 1];
                k--;
            }
            t->special_lens[k] = t->len[id];
            t->n_special_lens++;
        }
    }
    char *pcre_pattern = pattern_for_pcre2(pattern);
    int err;
    PCRE2_SIZE err_offset;
    t->re = pcre2_compile((PCRE2_SPTR)pcre_pattern, PCRE2_ZERO_TERMINATED,
                          PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &err, &err_offset, NULL);
    free(pcre_pattern);
    if (!t->re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof msg);
        scpt_set_error("%s: the split pattern does not compile (PCRE2: %s): %s", t->path, (char *)msg, pattern);
        return -1;
    }
    t->jit = pcre2_jit_compile(t->re, PCRE2_JIT_COMPLETE) == 0;
    return 0;
}

// ---- queries -----------------------------------------------------------------

int tokenizer_vocab_size(const Tokenizer *t) { return t->vocab_size; }
int tokenizer_eot(const Tokenizer *t) { return t->eot; }
int tokenizer_bos(const Tokenizer *t) { return t->bos; }
const char *tokenizer_name(const Tokenizer *t) { return t->name; }

int tokenizer_token_id(const Tokenizer *t, const char *text) {
    size_t n = strlen(text);
    if (n == 0) return -1;
    int id = bytes_map_get(t, &t->specials, text, n);
    return id >= 0 ? id : bytes_map_get(t, &t->ordinary, text, n);
}

const char *tokenizer_token_bytes(const Tokenizer *t, int id, size_t *len) {
    if (id < 0 || id >= t->vocab_size || t->len[id] < 0) return NULL;
    *len = t->len[id];
    return t->blob + t->off[id];
}

int tokenizer_is_special(const Tokenizer *t, int id) {
    return id >= 0 && id < t->vocab_size && t->len[id] >= 0 && t->special[id];
}
