// QA accuracy as a metric of a training run.
#include <string.h>

#include "qa_eval.h"
#include "util.h"

int train_qa_open(TrainQA *t, const char *qa_path, const char *vocab, int limit) {
    memset(t, 0, sizeof *t);
    t->limit = limit;
    if (qa_load(&t->set, qa_path) != 0) return -1;
    if (!(t->tok = tokenizer_open(vocab))) {
        qa_free(&t->set);
        return -1;
    }
    return 0;
}

int train_qa_log(TrainQA *t, Model *m, MetricsLog *metrics, int step) {
    QAOptions o = {.limit = t->limit};
    QAResult r;
    double t0 = wall_time();
    if (qa_evaluate(m, t->tok, &t->set, &o, NULL, &r) != 0) return -1;
    double n = r.n ? r.n : 1;
    printf("step %5d | qa acc %.4f | acc_norm %.4f | %d questions in %.1f s\n", step, r.correct / n,
           r.correct_norm_byte / n, r.n, wall_time() - t0);
    return metrics_write(metrics,
                         "{\"step\": %d, \"qa_acc\": %.6f, \"qa_acc_norm\": %.6f, \"qa_acc_norm_tok\": %.6f, \"qa_n\": %d}",
                         step, r.correct / n, r.correct_norm_byte / n, r.correct_norm_tok / n, r.n);
}

void train_qa_close(TrainQA *t) {
    tokenizer_free(t->tok);
    qa_free(&t->set);
}
