// BM25 retrieval (Robertson et al.; k1 = 1.5, b = 0.75 as in Lucene/rank_bm25's
// Okapi defaults) over chunks of documents. Terms are maximal runs of ASCII letters
// and digits (lowercased) and bytes >= 0x80, so UTF-8 words stay whole.
#ifndef SCPT_BM25_H
#define SCPT_BM25_H

#include <stddef.h>

typedef struct BM25 BM25;

typedef struct {
    int doc;          // which added document the chunk comes from
    const char *text; // the chunk (owned by the index, NUL-terminated)
} BM25Chunk;

// chunk_words: words per chunk (the last chunk of a document may be shorter)
BM25 *bm25_create(int chunk_words);
void bm25_add(BM25 *ix, int doc, const char *text);   // splits text into chunks
int bm25_num_chunks(const BM25 *ix);
const BM25Chunk *bm25_chunk(const BM25 *ix, int i);
// the top k chunks for the query, best first, into out (chunk indices); returns how many (<= k)
int bm25_search(const BM25 *ix, const char *query, int k, int *out, double *scores);
void bm25_free(BM25 *ix);

#endif
