// Multiple-choice QA accuracy of a model (closed-book, few-shot, or open-book with
// BM25-retrieved chunks), as lm-evaluation-harness scores it: each option's
// log-likelihood as the continuation " <option>" of the prompt
//   [Context:\n<chunk>\n\n<chunk>\n\n]  (--retrieve k)
//   [Article: <title>\nQuestion: <q>\nAnswer: <gold option>\n\n] x shots (other articles)
//   [Article: <title>\n]Question: <q>\nAnswer:
// after the tokenizer's BOS (or EOT when it has none). acc picks the largest sum,
// acc_norm_tok the largest sum per option token, acc_norm (lm-eval's acc_norm) the
// largest sum per option byte.
#ifndef SCPT_QA_EVAL_H
#define SCPT_QA_EVAL_H

#include <stdint.h>
#include <stdio.h>
#include "bm25.h"
#include "metrics.h"
#include "model.h"
#include "qa.h"
#include "tokenizer.h"

typedef struct {
    int fewshot;          // examples from other articles, drawn per question from seed
    int retrieve;         // top-k chunks (needs an index)
    const BM25 *index;    // chunks of the source documents, NULL for closed-book
    uint64_t seed;
    int limit;            // first N questions only (0: all)
    int progress;         // a progress line on stderr
} QAOptions;

typedef struct {
    int n, correct, correct_norm_tok, correct_norm_byte;
} QAResult;

// Scores the set; one JSON line per question into predictions when not NULL.
// -1 with scpt_error() when the tokenizer's ids do not fit the model.
int qa_evaluate(Model *m, const Tokenizer *tok, const QASet *set, const QAOptions *opt, FILE *predictions,
                QAResult *res);

// QA accuracy during training (train --qa FILE --qa-every N): closed-book, zero-shot,
// logged to the metrics JSONL as {"step", "qa_acc", "qa_acc_norm", "qa_acc_norm_tok", "qa_n"}.
typedef struct {
    QASet set;
    Tokenizer *tok;
    int limit;
} TrainQA;

int train_qa_open(TrainQA *t, const char *qa_path, const char *vocab, int limit);   // -1 with scpt_error()
// -1 with scpt_error() when the tokenizer does not fit the model
int train_qa_log(TrainQA *t, Model *m, MetricsLog *metrics, int step);
void train_qa_close(TrainQA *t);

#endif
