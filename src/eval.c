// eval: multiple-choice QA accuracy (closed-book, few-shot, or BM25 open-book) and
// held-out perplexity of a checkpoint or a freshly initialised preset.
// Writes <out>/predictions.jsonl and <out>/summary.json, both atomically.
#include <cjson/cJSON.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "bm25.h"
#include "checkpoint.h"
#include "eval.h"
#include "eval_gen.h"
#include "qa_eval.h"
#include "util.h"

typedef struct {
    const char *model, *ckpt, *vocab, *qa, *docs, *val, *out;
    int fewshot, retrieve, chunk_words, limit, seed, threads, batch, seq, max_tokens;
} EvalArgs;

static EvalArgs parse_args(int argc, char **argv) {
    EvalArgs a = {.model = "gpt2-demo", .vocab = "gpt2", .out = "out/eval", .chunk_words = 128, .seed = 1234,
                  .batch = 4, .seq = 64};
    ArgSpec specs[] = {
        {"--ckpt", ARG_STRING, &a.ckpt, "checkpoint to evaluate", 0, 0},
        {"--model", ARG_STRING, &a.model, "preset, randomly initialised from --seed, when no --ckpt", 0, 0},
        {"--vocab", ARG_STRING, &a.vocab, "tokenizer: gpt2, llama3 or a vocabulary file", 0, 0},
        {"--qa", ARG_STRING, &a.qa, "questions: QuALITY JSONL or {question, options, answer} JSONL", 0, 0},
        {"--fewshot", ARG_INT, &a.fewshot, "examples from other articles in each prompt", 0, 64},
        {"--retrieve", ARG_INT, &a.retrieve, "open-book: BM25 top-k chunks of the documents in the prompt", 0, 64},
        {"--docs", ARG_STRING, &a.docs, "documents to retrieve from (default: the QuALITY articles of --qa)", 0, 0},
        {"--chunk-words", ARG_INT, &a.chunk_words, "words per retrieval chunk", 1, 1 << 20},
        {"--limit", ARG_INT, &a.limit, "first N questions only (0: all)", 0, 1e9},
        {"--val", ARG_STRING, &a.val, "token shards (glob) for held-out perplexity", 0, 0},
        {"--batch", ARG_INT, &a.batch, "perplexity: sequences per forward", 1, 1 << 20},
        {"--seq", ARG_INT, &a.seq, "perplexity: tokens per sequence", 1, 1 << 20},
        {"--max-tokens", ARG_INT, &a.max_tokens, "perplexity: at most this many tokens (0: all)", 0, 2e9},
        {"--out", ARG_STRING, &a.out, "output directory: predictions.jsonl, summary.json", 0, 0},
        {"--seed", ARG_INT, &a.seed, "seed of the few-shot draws and of a preset's init", 0, 2147483647},
        {"--threads", ARG_INT, &a.threads, "CPU threads (0: all cores)", 0, 4096},
    };
    char usage[1024];
    snprintf(usage, sizeof usage,
             "usage: eval (--ckpt FILE | --model PRESET) [--qa FILE] [--val GLOB] [options]\n\n"
             "Multiple-choice QA accuracy (acc, acc_norm per byte, per token; 95%% Wilson intervals) and\n"
             "held-out perplexity. Model presets: %s\n"
             "Generative QA through a server: eval --server URL --help",
             model_preset_names());
    args_parse(argc, argv, specs, sizeof specs / sizeof specs[0], usage);
    if (!a.qa && !a.val) usage_error("nothing to evaluate: give --qa and/or --val");
    if (a.retrieve && !a.qa) usage_error("--retrieve needs --qa");
    ModelConfig preset;
    if (!a.ckpt && model_preset(&preset, a.model) != 0) usage_error("--model: %s", scpt_error());
    args_want_file("--ckpt", a.ckpt, "give a checkpoint file (a run's are <out>/ckpt_<step>.safetensors)");
    args_want_file("--qa", a.qa, "give a QuALITY JSONL or {question, options, answer} JSONL file");
    return a;
}

static void load_model(Model *m, const EvalArgs *a) {
    ModelConfig cfg;
    if (a->ckpt ? checkpoint_read_config(a->ckpt, &cfg) : model_preset(&cfg, a->model)) die("%s", scpt_error());
    model_create(m, &cfg);
    if (a->ckpt) {
        if (checkpoint_load(a->ckpt, m, NULL, NULL) != 0) die("%s", scpt_error());
    } else {
        model_init_weights(m, (uint64_t)a->seed);
    }
}

// the retrieval index: chunks of --docs, else of the QA set's own documents
static BM25 *build_index(const EvalArgs *a, const QASet *set) {
    BM25 *ix = bm25_create(a->chunk_words);
    Corpus docs = {0};
    if (a->docs && corpus_load(&docs, a->docs) != 0) die("%s", scpt_error());
    const Corpus *c = a->docs ? &docs : &set->corpus;
    for (int d = 0; d < c->n_docs; d++) bm25_add(ix, d, c->docs[d].text);
    corpus_free(&docs);
    if (bm25_num_chunks(ix) == 0) die("%s: no document text to retrieve from", a->docs ? a->docs : a->qa);
    fprintf(stderr, "retrieval: %d chunks of %d words\n", bm25_num_chunks(ix), a->chunk_words);
    return ix;
}

static void add_accuracy(cJSON *o, const char *name, int k, int n) {
    double lo, hi;
    wilson_interval(k, n, &lo, &hi);
    char key[64];
    cJSON_AddNumberToObject(o, name, n ? (double)k / n : 0);
    snprintf(key, sizeof key, "%s_ci95", name);
    cJSON *ci = cJSON_AddArrayToObject(o, key);
    cJSON_AddItemToArray(ci, cJSON_CreateNumber(lo));
    cJSON_AddItemToArray(ci, cJSON_CreateNumber(hi));
    printf("%-13s %.4f  (95%% CI %.4f..%.4f, %d/%d)\n", name, n ? (double)k / n : 0, lo, hi, k, n);
}

static void write_json(const char *path, cJSON *o) {
    AtomicFile af;
    char *s = cJSON_Print(o);
    if (atomic_open(&af, path) != 0) die("%s", scpt_error());
    fprintf(af.f, "%s\n", s);
    if (atomic_commit(&af) != 0) die("%s", scpt_error());
    free(s);
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--server") == 0) return eval_server_main(argc, argv);
    EvalArgs a = parse_args(argc, argv);
    if (a.threads > 0) omp_set_num_threads(a.threads);
    if (make_dirs(a.out) != 0) die("%s", scpt_error());
    Model m;
    load_model(&m, &a);
    cJSON *summary = cJSON_CreateObject();
    cJSON_AddStringToObject(summary, "model", a.ckpt ? a.ckpt : a.model);
    cJSON_AddStringToObject(summary, "ci", "wilson 95%");
    if (a.qa) {
        QASet set;
        if (qa_load(&set, a.qa) != 0) die("%s", scpt_error());
        Tokenizer *tok = tokenizer_open(a.vocab);
        if (!tok) die("%s", scpt_error());
        BM25 *ix = a.retrieve ? build_index(&a, &set) : NULL;
        QAOptions qo = {.fewshot = a.fewshot, .retrieve = a.retrieve, .index = ix, .seed = (uint64_t)a.seed,
                        .limit = a.limit, .progress = 1};
        char path[4096];
        snprintf(path, sizeof path, "%s/predictions.jsonl", a.out);
        AtomicFile pred;
        if (atomic_open(&pred, path) != 0) die("%s", scpt_error());
        QAResult r;
        if (qa_evaluate(&m, tok, &set, &qo, pred.f, &r) != 0) die("%s", scpt_error());
        if (atomic_commit(&pred) != 0) die("%s", scpt_error());
        cJSON_AddStringToObject(summary, "qa", a.qa);
        cJSON_AddNumberToObject(summary, "n", r.n);
        cJSON_AddNumberToObject(summary, "fewshot", a.fewshot);
        cJSON_AddNumberToObject(summary, "retrieve", a.retrieve);
        add_accuracy(summary, "acc", r.correct, r.n);
        add_accuracy(summary, "acc_norm", r.correct_norm_byte, r.n);
        add_accuracy(summary, "acc_norm_tok", r.correct_norm_tok, r.n);
        bm25_free(ix);
        tokenizer_free(tok);
        qa_free(&set);
    }
    if (a.val) {
        if (a.seq > m.config.max_seq_len) die("--seq %d exceeds the model's maximum of %d", a.seq, m.config.max_seq_len);
        double loss;
        int64_t tokens;
        if (shard_perplexity(&m, a.val, a.batch, a.seq, a.max_tokens, &loss, &tokens) != 0) die("%s", scpt_error());
        cJSON_AddNumberToObject(summary, "val_loss", loss);
        cJSON_AddNumberToObject(summary, "val_ppl", exp(loss));
        cJSON_AddNumberToObject(summary, "val_tokens", (double)tokens);
        printf("val loss %.4f | perplexity %.2f over %lld tokens\n", loss, exp(loss), (long long)tokens);
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/summary.json", a.out);
    write_json(path, summary);
    printf("wrote %s\n", path);
    cJSON_Delete(summary);
    model_free(&m);
    return 0;
}
