// Loading dispatch (a vocabulary name or file to its format's reader) and
// encode/decode. The tables are vocab.c's; the file readers are
// tokenizer_tiktoken.c and tokenizer_hf.c; the merge loop is bpe.c.
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "tokenizer_impl.h"
#include "util.h"

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
