// Multiple-choice question sets for evaluation. Two inputs:
//   - QuALITY JSONL (rows with an "article"; flattened or nested questions), read
//     through corpus.h: every question keeps its article (for few-shot examples from
//     other articles and for retrieval over the source documents);
//   - a simple JSONL, one question a line: {"question", "options": [...], "answer": i}
//     with i the 0-based index of the right option; "doc" (an id) is optional.
#ifndef SCPT_QA_H
#define SCPT_QA_H

#include "corpus.h"

typedef struct {
    const Question *q;   // into the set's corpus
    int doc;             // index into corpus.docs
} QAItem;

typedef struct {
    Corpus corpus;       // the simple format: one document per distinct "doc" (text "")
    QAItem *items;
    int n_items;
} QASet;

// -1 with "<file>:<line>: what is wrong" on bad input (missing field, answer out of
// range, fewer than two options, no questions at all).
int qa_load(QASet *s, const char *path);
void qa_free(QASet *s);

#endif
