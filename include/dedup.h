// Exact and near-duplicate documents (`tokenize --dedup`), seen one after the
// other: a document is a duplicate of an earlier one that was kept.
//   exact: the same bytes (a 128-bit hash of the text and its length).
//   near:  estimated Jaccard similarity of the sets of 5-word shingles at least
//          the threshold. Words are runs of bytes other than ASCII space and
//          punctuation, ASCII letters lowercased. The estimate is one-permutation
//          MinHash (128 bins, one hash per shingle instead of 128), candidates
//          found by LSH (16 bands of 8 bins), then confirmed on the signatures.
// Memory: about 400 bytes per document kept.
#ifndef SCPT_DEDUP_H
#define SCPT_DEDUP_H

#include <stddef.h>
#include <stdint.h>

typedef enum { DUP_NONE, DUP_EXACT, DUP_NEAR } DupKind;

typedef struct Dedup Dedup;

Dedup *dedup_new(int near, double threshold);   // near 0: exact duplicates only
void dedup_free(Dedup *d);
// What the document is; a document that is no duplicate is remembered.
DupKind dedup_check(Dedup *d, const char *text, size_t len);
// Estimated Jaccard similarity of two texts' shingle sets (for tests and tools).
double dedup_similarity(const char *a, size_t a_len, const char *b, size_t b_len);

#endif
