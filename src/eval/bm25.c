// BM25 over word-window chunks: an inverted index from a hashed term table.
#include "bm25.h"

#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define BM25_K1 1.5
#define BM25_B 0.75

typedef struct {
    int chunk, tf;
} Posting;

typedef struct {
    char *term;
    Posting *post;
    int n, cap;
} Term;

struct BM25 {
    int chunk_words;
    BM25Chunk *chunks;
    int *chunk_len;   // terms per chunk
    int n_chunks, cap_chunks;
    Term *terms;      // open addressing, cap a power of two
    int n_terms, cap_terms;
    double total_len;
};

static int term_char(unsigned char c) { return isalnum(c) || c >= 0x80; }

// next term of s from *pos, lowercased into buf; 0 at the end
static int next_term(const char *s, size_t *pos, char *buf, size_t cap) {
    size_t i = *pos;
    while (s[i] && !term_char((unsigned char)s[i])) i++;
    if (!s[i]) return *pos = i, 0;
    size_t n = 0;
    for (; s[i] && term_char((unsigned char)s[i]); i++)
        if (n + 1 < cap) buf[n++] = (char)tolower((unsigned char)s[i]);
    buf[n] = '\0';
    *pos = i;
    return 1;
}

static uint64_t hash(const char *s) {
    uint64_t h = 1469598103934665603ull;   // FNV-1a
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static Term *lookup(const BM25 *ix, const char *term) {
    if (!ix->cap_terms) return NULL;
    for (size_t i = hash(term) & (ix->cap_terms - 1);; i = (i + 1) & (ix->cap_terms - 1)) {
        Term *t = &ix->terms[i];
        if (!t->term) return NULL;
        if (strcmp(t->term, term) == 0) return t;
    }
}

static Term *insert(BM25 *ix, const char *term) {
    if (2 * (ix->n_terms + 1) > ix->cap_terms) {   // keep the load under 1/2
        int old_cap = ix->cap_terms;
        Term *old = ix->terms;
        ix->cap_terms = old_cap ? 2 * old_cap : 1024;
        ix->terms = xcalloc((size_t)ix->cap_terms, sizeof *ix->terms);
        for (int i = 0; i < old_cap; i++)
            if (old[i].term) {
                size_t j = hash(old[i].term) & (ix->cap_terms - 1);
                while (ix->terms[j].term) j = (j + 1) & (ix->cap_terms - 1);
                ix->terms[j] = old[i];
            }
        free(old);
    }
    size_t i = hash(term) & (ix->cap_terms - 1);
    for (; ix->terms[i].term; i = (i + 1) & (ix->cap_terms - 1))
        if (strcmp(ix->terms[i].term, term) == 0) return &ix->terms[i];
    ix->terms[i].term = xstrdup(term);
    ix->n_terms++;
    return &ix->terms[i];
}

BM25 *bm25_create(int chunk_words) {
    BM25 *ix = xcalloc(1, sizeof *ix);
    ix->chunk_words = chunk_words > 0 ? chunk_words : 1;
    return ix;
}

static void add_chunk(BM25 *ix, int doc, const char *text, size_t len) {
    if (ix->n_chunks == ix->cap_chunks) {
        ix->cap_chunks = ix->cap_chunks ? 2 * ix->cap_chunks : 64;
        ix->chunks = realloc(ix->chunks, (size_t)ix->cap_chunks * sizeof *ix->chunks);
        ix->chunk_len = realloc(ix->chunk_len, (size_t)ix->cap_chunks * sizeof *ix->chunk_len);
        if (!ix->chunks || !ix->chunk_len) die("out of memory");
    }
    int c = ix->n_chunks++;
    char *copy = xmalloc(len + 1);
    memcpy(copy, text, len);
    copy[len] = '\0';
    ix->chunks[c] = (BM25Chunk){doc, copy};
    char term[128];
    size_t pos = 0;
    int n = 0;
    while (next_term(copy, &pos, term, sizeof term)) {
        Term *t = insert(ix, term);
        n++;
        if (t->n && t->post[t->n - 1].chunk == c) {
            t->post[t->n - 1].tf++;
            continue;
        }
        if (t->n == t->cap) {
            t->cap = t->cap ? 2 * t->cap : 4;
            t->post = realloc(t->post, (size_t)t->cap * sizeof *t->post);
            if (!t->post) die("out of memory");
        }
        t->post[t->n++] = (Posting){c, 1};
    }
    ix->chunk_len[c] = n;
    ix->total_len += n;
}

void bm25_add(BM25 *ix, int doc, const char *text) {
    // chunks of chunk_words whitespace-separated words, cut at word boundaries
    const char *s = text;
    while (*s) {
        while (*s && isspace((unsigned char)*s)) s++;
        if (!*s) break;
        const char *start = s;
        for (int w = 0; w < ix->chunk_words && *s; w++) {
            while (*s && isspace((unsigned char)*s)) s++;
            while (*s && !isspace((unsigned char)*s)) s++;
        }
        add_chunk(ix, doc, start, (size_t)(s - start));
    }
}

int bm25_num_chunks(const BM25 *ix) { return ix->n_chunks; }
const BM25Chunk *bm25_chunk(const BM25 *ix, int i) { return &ix->chunks[i]; }

int bm25_search(const BM25 *ix, const char *query, int k, int *out, double *scores) {
    if (ix->n_chunks == 0 || k <= 0) return 0;
    double *score = xcalloc((size_t)ix->n_chunks, sizeof *score);
    double avg = ix->total_len / ix->n_chunks, N = ix->n_chunks;
    char term[128];
    size_t pos = 0;
    while (next_term(query, &pos, term, sizeof term)) {
        const Term *t = lookup(ix, term);
        if (!t) continue;
        double idf = log(1 + (N - t->n + 0.5) / (t->n + 0.5));   // Lucene's non-negative idf
        for (int i = 0; i < t->n; i++) {
            double tf = t->post[i].tf, len = ix->chunk_len[t->post[i].chunk];
            score[t->post[i].chunk] += idf * tf * (BM25_K1 + 1) / (tf + BM25_K1 * (1 - BM25_B + BM25_B * len / avg));
        }
    }
    int found = 0;
    for (int c = 0; c < ix->n_chunks; c++) {   // insertion into the top k, best first
        if (score[c] <= 0) continue;
        int j;
        if (found < k) j = found++;
        else if (score[c] <= score[out[k - 1]]) continue;
        else j = k - 1;   // the last one drops out
        while (j > 0 && score[out[j - 1]] < score[c]) out[j] = out[j - 1], j--;
        out[j] = c;
    }
    if (scores)
        for (int i = 0; i < found; i++) scores[i] = score[out[i]];
    free(score);
    return found;
}

void bm25_free(BM25 *ix) {
    if (!ix) return;
    for (int i = 0; i < ix->n_chunks; i++) free((char *)ix->chunks[i].text);
    for (int i = 0; i < ix->cap_terms; i++) free(ix->terms[i].term), free(ix->terms[i].post);
    free(ix->terms), free(ix->chunks), free(ix->chunk_len);
    free(ix);
}
