// QA accuracy: prompts, option scoring, per-question records.
#include "qa_eval.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "eval.h"
#include "rng.h"
#include "util.h"

typedef struct {
    char *s;
    size_t len, cap;
} Text;

static void text_add(Text *t, const char *s) {
    size_t n = strlen(s);
    if (t->len + n + 1 > t->cap) {
        t->cap = 2 * (t->len + n + 1);
        t->s = realloc(t->s, t->cap);
        if (!t->s) die("out of memory");
    }
    memcpy(t->s + t->len, s, n + 1);
    t->len += n;
}

static void add_question(Text *t, const QASet *set, const QAItem *it) {
    const char *title = set->corpus.docs[it->doc].title;
    if (title && title[0]) text_add(t, "Article: "), text_add(t, title), text_add(t, "\n");
    text_add(t, "Question: "), text_add(t, it->q->question), text_add(t, "\nAnswer:");
}

// the prompt of item i (see qa_eval.h); shots from items of other documents
static char *build_prompt(const QASet *set, int i, const QAOptions *opt) {
    Text t = {0};
    text_add(&t, "");
    const QAItem *it = &set->items[i];
    if (opt->index && opt->retrieve > 0) {
        int *top = xmalloc((size_t)opt->retrieve * sizeof *top);
        int n = bm25_search(opt->index, it->q->question, opt->retrieve, top, NULL);
        if (n) text_add(&t, "Context:\n");
        for (int j = 0; j < n; j++) text_add(&t, bm25_chunk(opt->index, top[j])->text), text_add(&t, "\n\n");
        free(top);
    }
    const char *doc_id = set->corpus.docs[it->doc].id;
    int others = 0;
    for (int j = 0; j < set->n_items; j++) others += strcmp(set->corpus.docs[set->items[j].doc].id, doc_id) != 0;
    uint64_t rng = seed_of(opt->seed, (uint64_t)i, 0x5e07);
    for (int s = 0; s < opt->fewshot && others > 0; s++) {
        int pick = (int)(rng_next(&rng) % (uint64_t)others), j = 0;   // the pick-th item of another document
        for (;; j++)
            if (strcmp(set->corpus.docs[set->items[j].doc].id, doc_id) != 0 && pick-- == 0) break;
        add_question(&t, set, &set->items[j]);
        text_add(&t, " "), text_add(&t, set->items[j].q->options[set->items[j].q->gold]), text_add(&t, "\n\n");
    }
    add_question(&t, set, it);
    return t.s;
}

static int encode(const Tokenizer *tok, const char *s, TokenIds *ids, int vocab) {
    ids->len = 0;
    if (tokenizer_encode(tok, s, strlen(s), ids) != 0) return -1;
    for (size_t i = 0; i < ids->len; i++)
        if (ids->ids[i] >= vocab)
            return scpt_set_error("token id %d of the %s tokenizer is outside the model's vocabulary of %d",
                                  ids->ids[i], tokenizer_name(tok), vocab), -1;
    return 0;
}

// bytes of the first n tokens: what was scored of an option the window cut short
static double token_bytes(const Tokenizer *tok, const int32_t *ids, int n) {
    size_t total = 0, len;
    for (int k = 0; k < n; k++)
        if (tokenizer_token_bytes(tok, ids[k], &len)) total += len;
    return (double)total;
}

static void write_record(FILE *f, const QASet *set, int i, const double *lp, const int *ntok, const double *nbytes,
                         int pred, int pred_tok, int pred_byte) {
    const QAItem *it = &set->items[i];
    int n = it->q->n_options;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "index", i);
    cJSON_AddStringToObject(o, "doc", set->corpus.docs[it->doc].id);
    cJSON_AddStringToObject(o, "question", it->q->question);
    cJSON_AddNumberToObject(o, "gold", it->q->gold);
    cJSON_AddNumberToObject(o, "pred", pred);
    cJSON_AddNumberToObject(o, "pred_norm_tok", pred_tok);
    cJSON_AddNumberToObject(o, "pred_norm", pred_byte);
    cJSON *a = cJSON_AddArrayToObject(o, "logprob"), *b = cJSON_AddArrayToObject(o, "tokens"),
          *c = cJSON_AddArrayToObject(o, "bytes");
    for (int j = 0; j < n; j++) {
        cJSON_AddItemToArray(a, cJSON_CreateNumber(lp[j]));
        cJSON_AddItemToArray(b, cJSON_CreateNumber(ntok[j]));
        cJSON_AddItemToArray(c, cJSON_CreateNumber(nbytes[j]));
    }
    char *s = cJSON_PrintUnformatted(o);
    fprintf(f, "%s\n", s);
    free(s);
    cJSON_Delete(o);
}

int qa_evaluate(Model *m, const Tokenizer *tok, const QASet *set, const QAOptions *opt, FILE *predictions,
                QAResult *res) {
    memset(res, 0, sizeof *res);
    int n = opt->limit > 0 && opt->limit < set->n_items ? opt->limit : set->n_items;
    int vocab = m->config.vocab_size, first = tokenizer_bos(tok) >= 0 ? tokenizer_bos(tok) : tokenizer_eot(tok);
    if (first < 0 || first >= vocab)
        return scpt_set_error("the %s tokenizer's BOS/EOT id %d does not fit the model's vocabulary of %d",
                              tokenizer_name(tok), first, vocab), -1;
    TokenIds prompt = {0}, opt_ids[16] = {{0}};
    double t0 = wall_time();
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        const Question *q = set->items[i].q;
        int no = q->n_options < 16 ? q->n_options : 16;
        char *text = build_prompt(set, i, opt);
        prompt.len = 0;
        token_ids_push(&prompt, first);
        TokenIds body = {0};
        rc = encode(tok, text, &body, vocab);
        free(text);
        for (size_t k = 0; rc == 0 && k < body.len; k++) token_ids_push(&prompt, body.ids[k]);
        token_ids_free(&body);
        const int32_t *ids[16];
        int nids[16], ntok[16];
        double lp[16], nbytes[16], per_tok[16], per_byte[16];
        for (int j = 0; j < no && rc == 0; j++) {
            size_t len = strlen(q->options[j]);
            char *cont = xmalloc(len + 2);
            cont[0] = ' ';
            memcpy(cont + 1, q->options[j], len + 1);
            rc = encode(tok, cont, &opt_ids[j], vocab);
            free(cont);
            ids[j] = opt_ids[j].ids, nids[j] = (int)opt_ids[j].len, nbytes[j] = (double)len + 1;
        }
        if (rc != 0) break;
        score_options(m, prompt.ids, (int)prompt.len, ids, nids, no, lp, ntok);
        // acc_norm divides by the bytes that were scored, not the whole option's
        for (int j = 0; j < no; j++)
            if (ntok[j] < nids[j]) nbytes[j] = token_bytes(tok, ids[j], ntok[j]);
        for (int j = 0; j < no; j++) per_tok[j] = ntok[j] ? lp[j] / ntok[j] : lp[j], per_byte[j] = lp[j] / nbytes[j];
        int pred = argmax(lp, no), pred_tok = argmax(per_tok, no), pred_byte = argmax(per_byte, no);
        res->n++;
        res->correct += pred == q->gold;
        res->correct_norm_tok += pred_tok == q->gold;
        res->correct_norm_byte += pred_byte == q->gold;
        if (predictions) write_record(predictions, set, i, lp, ntok, nbytes, pred, pred_tok, pred_byte);
        if (opt->progress) {
            double el = wall_time() - t0, rate = (i + 1) / (el > 0 ? el : 1e-9);
            fprintf(stderr, "\rqa %d/%d | acc %.3f | %.2f q/s | ETA %.0fs   ", i + 1, n, (double)res->correct / res->n,
                    rate, (n - i - 1) / rate);
        }
    }
    if (opt->progress) fprintf(stderr, "\n");
    token_ids_free(&prompt);
    for (int j = 0; j < 16; j++) token_ids_free(&opt_ids[j]);
    return rc;
}
