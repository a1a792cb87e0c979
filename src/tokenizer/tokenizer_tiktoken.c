// tiktoken rank files: one "<base64 of the token's bytes> <rank>" per line, the
// rank being the token id (GPT-2's r50k_base.tiktoken, Llama 3's tokenizer.model).
// The file holds no special tokens and no split pattern: the family supplies both.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tokenizer_impl.h"
#include "util.h"

#define GPT2_RANKS 50256
#define LLAMA3_RANKS 128000
#define LLAMA3_SPECIALS 256

static int base64_value(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

// Standard base64 with '=' padding; -1 on anything else.
static int base64_decode(const char *s, size_t n, uint8_t *out, size_t *out_len) {
    if (n == 0 || n % 4 != 0) return -1;
    size_t pad = (s[n - 1] == '=') + (n >= 2 && s[n - 2] == '=');
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        uint32_t v = 0;
        for (int k = 0; k < 4; k++) {
            int d = (i + k >= n - pad) ? 0 : base64_value(s[i + k]);
            if (d < 0) return -1;
            v = v << 6 | (uint32_t)d;
        }
        out[o++] = (uint8_t)(v >> 16);
        out[o++] = (uint8_t)(v >> 8);
        out[o++] = (uint8_t)v;
    }
    *out_len = o - pad;
    return 0;
}

// Meta's Llama 3 tokenizer.py names its 256 special tokens this way.
static void llama3_special_name(int i, char *buf, size_t cap) {
    static const char *named[] = {"<|begin_of_text|>", "<|end_of_text|>", NULL, NULL, NULL, NULL,
                                  "<|start_header_id|>", "<|end_header_id|>", NULL, "<|eot_id|>"};
    if (i < 10 && named[i]) snprintf(buf, cap, "%s", named[i]);
    else snprintf(buf, cap, "<|reserved_special_token_%d|>", i < 6 ? i - 2 : i < 10 ? 4 : i - 5);
}

// Every pair of tokens whose concatenation is a token can merge, with that
// token's rank: this is tiktoken's merge rule written as a table.
static void pairs_from_ranks(Tokenizer *t) {
    pair_map_init(&t->pairs, (size_t)t->vocab_size * 2);
    for (int id = 0; id < t->vocab_size; id++) {
        if (t->len[id] < 2 || t->special[id]) continue;
        const char *b = t->blob + t->off[id];
        for (int k = 1; k < t->len[id]; k++) {
            int left = bytes_map_get(t, &t->ordinary, b, k);
            if (left < 0) continue;
            int right = bytes_map_get(t, &t->ordinary, b + k, t->len[id] - k);
            if (right >= 0) pair_map_put(&t->pairs, left, right, id, id);
        }
    }
}

int tokenizer_read_tiktoken(Tokenizer *t, const char *data, size_t size, TokenizerFamily family) {
    uint8_t *bytes = NULL;
    size_t bytes_cap = 0;
    int n_ranks = 0, line_no = 0;
    for (const char *p = data, *end = data + size; p < end;) {
        const char *eol = memchr(p, '\n', end - p);
        if (!eol) eol = end;
        line_no++;
        const char *line = p;
        size_t n = eol - p;
        p = eol + 1;
        if (n && line[n - 1] == '\r') n--;
        if (n == 0) continue;
        const char *space = memchr(line, ' ', n);
        char *rank_end;
        long rank = space ? strtol(space + 1, &rank_end, 10) : -1;
        if (!space || space == line || rank_end != line + n || rank < 0 || rank >= (1 << 30)) {
            scpt_set_error("%s:%d: not a tiktoken rank line (\"<base64 token> <rank>\"): %.*s",
                           t->path, line_no, (int)(n < 60 ? n : 60), line);
            free(bytes);
            return -1;
        }
        size_t b64 = space - line, len;
        if (b64 > bytes_cap) bytes = realloc(bytes, bytes_cap = b64 * 2);
        if (!bytes) die("out of memory loading %s", t->path);
        if (base64_decode(line, b64, bytes, &len) != 0 || len == 0) {
            scpt_set_error("%s:%d: bad base64 token: %.*s", t->path, line_no, (int)(b64 < 60 ? b64 : 60), line);
            free(bytes);
            return -1;
        }
        if (tokenizer_add_token(t, (int)rank, (char *)bytes, len, 0) != 0) {
            char why[512];   // add_token's message is "<path>: <why>"
            snprintf(why, sizeof why, "%s", scpt_error() + strlen(t->path) + 2);
            scpt_set_error("%s:%d: %s", t->path, line_no, why);
            free(bytes);
            return -1;
        }
        n_ranks++;
    }
    free(bytes);
    if (family == TOKENIZER_AUTO) {
        family = n_ranks == GPT2_RANKS ? TOKENIZER_GPT2 : n_ranks == LLAMA3_RANKS ? TOKENIZER_LLAMA3 : TOKENIZER_AUTO;
        if (family == TOKENIZER_AUTO) {
            scpt_set_error("%s: %d ranks: cannot tell which split pattern this tiktoken file needs "
                           "(GPT-2 has %d, Llama 3 %d); name the family", t->path, n_ranks, GPT2_RANKS, LLAMA3_RANKS);
            return -1;
        }
    }
    if (family == TOKENIZER_GPT2) {
        if (tokenizer_add_token(t, n_ranks, "<|endoftext|>", 13, 1) != 0) return -1;
    } else {
        for (int i = 0; i < LLAMA3_SPECIALS; i++) {
            char name[64];
            llama3_special_name(i, name, sizeof name);
            if (tokenizer_add_token(t, n_ranks + i, name, strlen(name), 1) != 0) return -1;
        }
    }
    if (tokenizer_index(t) != 0) return -1;
    pairs_from_ranks(t);
    t->whole_piece_lookup = 1;
    return tokenizer_finish(t, family == TOKENIZER_GPT2 ? TOKENIZER_PATTERN_GPT2 : TOKENIZER_PATTERN_LLAMA3);
}
