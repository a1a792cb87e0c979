// Tokenizer tables, loading dispatch, and encode/decode. The file readers are
// tokenizer_tiktoken.c and tokenizer_hf.c; the merge loop is bpe.c.
#include <ctype.h>
#include <errno.h>
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

// the cut point of tokenizer_safe_cut: an ASCII letter, then a space or newline
static int is_cut_point(const char *s, size_t i) {
    char a = s[i - 1] | 0x20;
    return (s[i] == ' ' || s[i] == '\n') && a >= 'a' && a <= 'z';
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

// ---- loading ---------------------------------------------------------------

static char *read_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        scpt_set_error("%s: cannot open vocabulary file: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 20, n = 0;
    char *data = xmalloc(cap + 1);
    size_t got;
    while ((got = fread(data + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            data = realloc(data, (cap *= 2) + 1);
            if (!data) die("out of memory reading %s", path);
        }
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(data);
        scpt_set_error("%s: cannot read vocabulary file: %s", path, strerror(errno));
        return NULL;
    }
    data[n] = '\0';
    *size = n;
    return data;
}

Tokenizer *tokenizer_load(const char *path, TokenizerFamily family) {
    size_t size;
    char *data = read_file(path, &size);
    if (!data) return NULL;
    Tokenizer *t = xcalloc(1, sizeof *t);
    t->path = xstrdup(path);
    t->eot = t->bos = -1;
    pthread_key_create(&t->key, NULL);
    pthread_mutex_init(&t->lock, NULL);
    size_t i = 0;
    while (i < size && isspace((unsigned char)data[i])) i++;
    int rc;
    if (i == size) {
        scpt_set_error("%s: empty vocabulary file", path);
        rc = -1;
    } else if (memchr(data, '\0', size < 4096 ? size : 4096)) {
        scpt_set_error("%s: binary file, not a tiktoken rank file or tokenizer.json "
                       "(SentencePiece .model files of Llama 1/2 are not supported)", path);
        rc = -1;
    } else if (data[i] == '{') {
        rc = tokenizer_read_hf(t, data, size);
    } else {
        rc = tokenizer_read_tiktoken(t, data, size, family);
    }
    free(data);
    if (rc != 0) {
        tokenizer_free(t);
        return NULL;
    }
    return t;
}

int tokenizer_default_path(const char *name, char *buf, size_t cap) {
    const char *file = strcmp(name, "gpt2") == 0     ? "gpt2/r50k_base.tiktoken"
                       : strcmp(name, "llama3") == 0 ? "llama3/tokenizer.model"
                                                     : NULL;
    if (!file) {
        scpt_set_error("%s: unknown tokenizer name (built in: gpt2, llama3)", name);
        return -1;
    }
    const char *cache = getenv("SCPT_CACHE"), *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    int n;
    if (cache && *cache) n = snprintf(buf, cap, "%s/vocab/%s", cache, file);
    else if (xdg && *xdg) n = snprintf(buf, cap, "%s/scpt/vocab/%s", xdg, file);
    else n = snprintf(buf, cap, "%s/.cache/scpt/vocab/%s", home ? home : ".", file);
    if (n < 0 || (size_t)n >= cap) {
        scpt_set_error("%s: cache path too long", name);
        return -1;
    }
    return 0;
}

Tokenizer *tokenizer_open(const char *spec) {
    char path[4096];
    int builtin = strcmp(spec, "gpt2") == 0 || strcmp(spec, "llama3") == 0;
    if (!builtin) return tokenizer_load(spec, TOKENIZER_AUTO);
    if (tokenizer_default_path(spec, path, sizeof path) != 0) return NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        scpt_set_error("%s: %s vocabulary not found: run scripts/setup (it installs the vocabulary files)",
                       path, spec);
        return NULL;
    }
    fclose(f);
    return tokenizer_load(path, strcmp(spec, "gpt2") == 0 ? TOKENIZER_GPT2 : TOKENIZER_LLAMA3);
}

// ---- per-thread scratch ---------------------------------------------------

struct Scratch {
    Scratch *next;
    pcre2_match_data *match;
    pcre2_match_context *context;
    pcre2_jit_stack *jit_stack;
    BpeWork bpe;
};

static Scratch *scratch_get(const Tokenizer *t) {
    Scratch *s = pthread_getspecific(t->key);
    if (s) return s;
    s = xcalloc(1, sizeof *s);
    s->match = pcre2_match_data_create_from_pattern(t->re, NULL);
    s->context = pcre2_match_context_create(NULL);
    if (!s->match || !s->context) die("out of memory creating regex match data");
    // a long whitespace run backtracks once per character (Llama 3's \s*[\r\n]+):
    // linear, but past PCRE2's default limit of 10 million steps
    pcre2_set_match_limit(s->context, UINT32_MAX);
    if (t->jit) {
        // long runs of one character class backtrack deeply; the default 32 KiB is too small
        s->jit_stack = pcre2_jit_stack_create(64 << 10, 256 << 20, NULL);
        if (!s->jit_stack) die("out of memory creating the regex JIT stack");
        pcre2_jit_stack_assign(s->context, NULL, s->jit_stack);
    }
    Tokenizer *mt = (Tokenizer *)t;   // the list is the only mutable part, under the lock
    pthread_mutex_lock(&mt->lock);
    s->next = mt->scratch_list;
    mt->scratch_list = s;
    pthread_mutex_unlock(&mt->lock);
    pthread_setspecific(t->key, s);
    return s;
}

void tokenizer_free(Tokenizer *t) {
    if (!t) return;
    for (Scratch *s = t->scratch_list, *next; s; s = next) {
        next = s->next;
        pcre2_match_data_free(s->match);
        pcre2_match_context_free(s->context);
        if (s->jit_stack) pcre2_jit_stack_free(s->jit_stack);
        bpe_work_free(&s->bpe);
        free(s);
    }
    pthread_key_delete(t->key);
    pthread_mutex_destroy(&t->lock);
    if (t->re) pcre2_code_free(t->re);
    free(t->ordinary.slots);
    free(t->specials.slots);
    free(t->pairs.slots);
    free(t->blob);
    free(t->off);
    free(t->len);
    free(t->special);
    free(t->path);
    free(t);
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

// ---- encode / decode -------------------------------------------------------

static int regex_next(const Tokenizer *t, Scratch *s, const uint8_t *text, size_t len, size_t pos,
                      size_t *start, size_t *end) {
    int rc = t->jit ? pcre2_jit_match(t->re, text, len, pos, 0, s->match, s->context)
                    : pcre2_match(t->re, text, len, pos, 0, s->match, s->context);
    if (rc == PCRE2_ERROR_NOMATCH) {
        *start = *end = len;
        return 0;
    }
    if (rc < 0) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(rc, msg, sizeof msg);
        scpt_set_error("%s: splitting text failed at byte %zu (PCRE2: %s)", t->path, pos, (char *)msg);
        return -1;
    }
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(s->match);
    *start = ov[0];
    *end = ov[1];
    return 0;
}

// Every match of the split pattern is a piece, and so is every run of bytes no
// match covers: with the built-in patterns every valid UTF-8 character starts a
// match, so these runs are exactly the invalid UTF-8 bytes (the pattern is
// compiled so that they never match), which then get byte-level BPE like any
// piece. Hugging Face's "Isolated" split keeps unmatched text the same way.
static int encode_ordinary(const Tokenizer *t, Scratch *s, const uint8_t *text, size_t len, TokenIds *out) {
    size_t gap = 0, pos = 0;
    while (pos < len) {
        size_t ms, me;
        if (regex_next(t, s, text, len, pos, &ms, &me) != 0) return -1;
        if (me == ms) {   // no match, or an empty one (custom patterns): the byte joins the gap
            if (ms >= len) break;
            pos = ms + 1;
            while (pos < len && (text[pos] & 0xc0) == 0x80) pos++;
            continue;
        }
        if (ms > gap) bpe_encode(t, &s->bpe, text + gap, ms - gap, out);
        bpe_encode(t, &s->bpe, text + ms, me - ms, out);
        gap = pos = me;
    }
    if (gap < len) bpe_encode(t, &s->bpe, text + gap, len - gap, out);
    return 0;
}

int tokenizer_encode(const Tokenizer *t, const char *text, size_t len, TokenIds *out) {
    return encode_ordinary(t, scratch_get(t), (const uint8_t *)text, len, out);
}

int tokenizer_encode_special(const Tokenizer *t, const char *text, size_t len, TokenIds *out) {
    Scratch *s = scratch_get(t);
    const uint8_t *u = (const uint8_t *)text;
    size_t segment = 0;
    for (size_t i = 0; i < len; i++) {
        if (!t->special_first[u[i]]) continue;
        for (int k = 0; k < t->n_special_lens; k++) {
            size_t L = t->special_lens[k];
            if (i + L > len) continue;
            int id = bytes_map_get(t, &t->specials, text + i, L);
            if (id < 0) continue;
            if (encode_ordinary(t, s, u + segment, i - segment, out) != 0) return -1;
            token_ids_push(out, id);
            segment = i + L;
            i = segment - 1;
            break;
        }
    }
    return encode_ordinary(t, s, u + segment, len - segment, out);
}

char *tokenizer_decode(const Tokenizer *t, const int32_t *ids, size_t n, size_t *len) {
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= t->vocab_size || t->len[ids[i]] < 0) {
            scpt_set_error("%s: cannot decode id %d at position %zu: not in the vocabulary of %d",
                           t->path, ids[i], i, t->vocab_size);
            return NULL;
        }
        total += t->len[ids[i]];
    }
    char *out = xmalloc(total + 1), *o = out;
    for (size_t i = 0; i < n; i++) {
        memcpy(o, t->blob + t->off[ids[i]], t->len[ids[i]]);
        o += t->len[ids[i]];
    }
    *o = '\0';
    *len = total;
    return out;
}

// With either built-in pattern no piece holds an ASCII letter followed by a space
// or newline (letters only end pieces), and a piece ending in a letter ends the
// same whether or not the text goes on; so such a point splits the pieces, and
// the ids, exactly. No special token may span it either (checked at load).
size_t tokenizer_safe_cut(const Tokenizer *t, const char *text, size_t len, size_t window) {
    if (!t->can_cut) return 0;
    size_t lo = len > window ? len - window : 0;
    for (size_t c = len; c-- > lo + 1;)
        if (is_cut_point(text, c)) return c;
    return 0;
}
