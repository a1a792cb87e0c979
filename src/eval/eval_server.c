// eval --server URL: generative multiple-choice QA through an OpenAI-compatible
// server (doc/eval.md "Generative QA"), closed-book or with BM25 / dense retrieval.
// Writes <out>/journal.jsonl (resumable), <out>/predictions.jsonl and
// <out>/summary.json (both atomically).
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "bm25.h"
#include "eval.h"
#include "eval_gen.h"
#include "util.h"

typedef struct {
    const char *server, *served_model, *protocol, *qa, *out, *prompt, *exemplars, *stop, *docs;
    const char *embed, *embed_model, *rerank, *rerank_model, *embed_cache;
    const char *judge, *judge_model, *summary_prompt, *claims_prompt, *support_prompt;
    int chat, shots, max_new_tokens, samples, seed, concurrency, retries, limit, retrieve, chunk_words, candidates;
    int embed_batch, show_prompt, summaries, summary_tokens, judge_tokens;
    float temperature, top_p, timeout, backoff;
} ServerArgs;

// "a|b\|c\n" -> {"a", "b|c\n"}: C escapes \n \t \\ \| decoded, '|' separates
static char **split_stops(const char *spec, int *n) {
    char **out = xcalloc(strlen(spec) + 1, sizeof *out);
    char *cur = xmalloc(strlen(spec) + 1);
    size_t len = 0;
    *n = 0;
    for (const char *p = spec;; p++) {
        if (*p == '\0' || *p == '|') {
            cur[len] = '\0';
            if (len) out[(*n)++] = xstrdup(cur);
            len = 0;
            if (!*p) break;
        } else if (*p == '\\' && p[1]) {
            p++;
            cur[len++] = *p == 'n' ? '\n' : *p == 't' ? '\t' : *p;
        } else {
            cur[len++] = *p;
        }
    }
    free(cur);
    return out;
}

static ServerArgs parse_args(int argc, char **argv) {
    // --protocol paper: the EntiGraph paper's QuALITY protocol; every value a flag below
    ServerArgs a = {.served_model = "default", .protocol = "paper", .out = "out/eval", .prompt = "doc/prompts/qa_cot.txt",
                    .exemplars = "doc/prompts/qa_exemplars.jsonl", .stop = "\\nArticle:|\\nQuestion:|\\n\\n\\n",
                    .shots = 5, .temperature = 0.1f, .top_p = 1, .max_new_tokens = 300, .samples = 1, .seed = 1234,
                    .concurrency = 8, .retries = 5, .timeout = 600, .backoff = 1, .chunk_words = 128,
                    .embed_model = "default", .rerank_model = "default", .candidates = 32, .embed_batch = 32,
                    .judge_model = "default", .summary_prompt = "doc/prompts/summary.txt",
                    .claims_prompt = "doc/prompts/judge_claims.txt", .support_prompt = "doc/prompts/judge_support.txt",
                    .summary_tokens = 1024, .judge_tokens = 2048};
    const char *cache = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    static char cache_dir[4096];
    snprintf(cache_dir, sizeof cache_dir, "%s%s/scpt/embeddings", cache ? cache : home ? home : ".",
             cache ? "" : "/.cache");
    a.embed_cache = cache_dir;
    ArgSpec specs[] = {
        {"--server", ARG_STRING, &a.server, "base URL of an OpenAI-compatible server (…/v1)", 0, 0},
        {"--served-model", ARG_STRING, &a.served_model, "the requests' \"model\" (vLLM: the served name)", 0, 0},
        {"--chat", ARG_FLAG, &a.chat, "/v1/chat/completions with messages (instruction-tuned models)", 0, 0},
        {"--protocol", ARG_STRING, &a.protocol, "preset of the values below: paper (EntiGraph's QuALITY protocol)", 0, 0},
        {"--qa", ARG_STRING, &a.qa, "questions: QuALITY JSONL or {question, options, answer} JSONL", 0, 0},
        {"--prompt", ARG_STRING, &a.prompt, "prompt file (@system, @user)", 0, 0},
        {"--exemplars", ARG_STRING, &a.exemplars, "exemplars with rationales (JSONL)", 0, 0},
        {"--shots", ARG_INT, &a.shots, "exemplars in each prompt (the file's first N)", 0, 64},
        {"--temperature", ARG_FLOAT, &a.temperature, "sampling temperature", 0, 10},
        {"--top-p", ARG_FLOAT, &a.top_p, "nucleus sampling (1: off, not sent)", 0, 1},
        {"--max-new-tokens", ARG_INT, &a.max_new_tokens, "tokens per completion (max_tokens)", 1, 1 << 20},
        {"--stop", ARG_STRING, &a.stop, "stop strings separated by | (\\n, \\t, \\|, \\\\ escapes; \"\" none)", 0, 0},
        {"--samples", ARG_INT, &a.samples, "completions per question: the first scored, all in the majority vote", 1, 64},
        {"--seed", ARG_INT, &a.seed, "request seed of question i, sample s: seed + i * samples + s", 0, 2147483647},
        {"--limit", ARG_INT, &a.limit, "first N questions only (0: all)", 0, 1e9},
        {"--retrieve", ARG_INT, &a.retrieve, "open-book: top-k chunks in the prompt (BM25 unless --embed)", 0, 64},
        {"--docs", ARG_STRING, &a.docs, "documents to retrieve from (default: the QuALITY articles of --qa)", 0, 0},
        {"--chunk-words", ARG_INT, &a.chunk_words, "words per retrieval chunk", 1, 1 << 20},
        {"--embed", ARG_STRING, &a.embed, "dense retrieval: base URL serving /v1/embeddings", 0, 0},
        {"--embed-model", ARG_STRING, &a.embed_model, "the embedding requests' \"model\"", 0, 0},
        {"--embed-batch", ARG_INT, &a.embed_batch, "texts per /embeddings request", 1, 4096},
        {"--embed-cache", ARG_STRING, &a.embed_cache, "directory of cached chunk embeddings", 0, 0},
        {"--rerank", ARG_STRING, &a.rerank, "rerank the dense candidates: base URL serving /v1/rerank", 0, 0},
        {"--rerank-model", ARG_STRING, &a.rerank_model, "the rerank requests' \"model\"", 0, 0},
        {"--candidates", ARG_INT, &a.candidates, "dense candidates per question that --rerank reorders", 1, 4096},
        {"--concurrency", ARG_INT, &a.concurrency, "requests in flight", 1, 4096},
        {"--retries", ARG_INT, &a.retries, "retries of a failed request (429, 5xx, timeouts, bad bodies)", 0, 100},
        {"--timeout", ARG_FLOAT, &a.timeout, "seconds per request", 0.1, 86400},
        {"--backoff", ARG_FLOAT, &a.backoff, "first retry delay in seconds (doubles, with jitter)", 0, 3600},
        {"--out", ARG_STRING, &a.out, "output directory: journal.jsonl, predictions.jsonl, summary.json", 0, 0},
        {"--show-prompt", ARG_FLAG, &a.show_prompt, "print the first question's prompt and exit", 0, 0},
        {"--summaries", ARG_FLAG, &a.summaries, "instead of QA: summarise each article of --qa, judged by --judge", 0, 0},
        {"--judge", ARG_STRING, &a.judge, "--summaries: base URL of the judge model's server", 0, 0},
        {"--judge-model", ARG_STRING, &a.judge_model, "the judge requests' \"model\"", 0, 0},
        {"--summary-prompt", ARG_STRING, &a.summary_prompt, "prompt file of the summary", 0, 0},
        {"--claims-prompt", ARG_STRING, &a.claims_prompt, "judge prompt file: summary -> claims", 0, 0},
        {"--support-prompt", ARG_STRING, &a.support_prompt, "judge prompt file: claims -> supported or not", 0, 0},
        {"--summary-tokens", ARG_INT, &a.summary_tokens, "tokens per summary", 1, 1 << 20},
        {"--judge-tokens", ARG_INT, &a.judge_tokens, "tokens per judge answer", 1, 1 << 20},
    };
    args_parse(argc, argv, specs, sizeof specs / sizeof specs[0],
               "usage: eval --server URL --qa FILE [options]\n\n"
               "Generative chain-of-thought QA through an OpenAI-compatible server (vLLM, llama-server,\n"
               "OpenAI): the model writes a rationale and a letter; acc of the first sample, acc of the\n"
               "majority vote, 95% Wilson intervals, the QuALITY hard/non-hard split. OPENAI_API_KEY is\n"
               "sent when set (never printed). A killed run resumes from <out>/journal.jsonl.");
    if (strcmp(a.protocol, "paper") != 0) die("--protocol: the preset is 'paper', not '%s'", a.protocol);
    if (!a.server || !a.server[0]) die("--server needs a URL");
    if (!a.qa) die("--server needs --qa");
    if ((a.embed || a.rerank) && !a.retrieve) die("--embed and --rerank need --retrieve k");
    if (a.rerank && !a.embed) die("--rerank reorders dense candidates: give --embed too");
    if (a.summaries && !a.judge) die("--summaries needs --judge URL (the judge model's server)");
    return a;
}

// a float flag as the decimal the user wrote (0.1, not 0.10000000149)
static double decimal(float f) {
    char buf[32];
    snprintf(buf, sizeof buf, "%g", f);
    return strtod(buf, NULL);
}

static void add_accuracy(cJSON *o, const char *name, int k, int n) {
    double lo, hi;
    wilson_interval(k, n, &lo, &hi);
    cJSON *g = cJSON_AddObjectToObject(o, name);
    cJSON_AddNumberToObject(g, "acc", n ? (double)k / n : 0);
    cJSON *ci = cJSON_AddArrayToObject(g, "ci95");
    cJSON_AddItemToArray(ci, cJSON_CreateNumber(lo));
    cJSON_AddItemToArray(ci, cJSON_CreateNumber(hi));
    cJSON_AddNumberToObject(g, "correct", k);
    cJSON_AddNumberToObject(g, "n", n);
    printf("%-13s %.4f  (95%% CI %.4f..%.4f, %d/%d)\n", name, n ? (double)k / n : 0, lo, hi, k, n);
}

// o as JSON into path, atomically; o is freed
static void write_json(const char *path, cJSON *o) {
    char *text = cJSON_Print(o);
    AtomicFile af;
    if (atomic_open(&af, path) != 0) die("%s", scpt_error());
    fprintf(af.f, "%s\n", text);
    if (atomic_commit(&af) != 0) die("%s", scpt_error());
    free(text);
    cJSON_Delete(o);
}

// the retrieved context of every question: BM25, or dense through the server
static char **retrieve_contexts(const ServerArgs *a, const QASet *set, int n) {
    BM25 *ix = bm25_create(a->chunk_words);
    Corpus docs = {0};
    if (a->docs && corpus_load(&docs, a->docs) != 0) die("%s", scpt_error());
    const Corpus *c = a->docs ? &docs : &set->corpus;
    for (int d = 0; d < c->n_docs; d++) bm25_add(ix, d, c->docs[d].text);
    corpus_free(&docs);
    int nc = bm25_num_chunks(ix), k = a->retrieve;
    if (nc == 0) die("%s: no document text to retrieve from", a->docs ? a->docs : a->qa);
    const char **chunks = xcalloc((size_t)nc, sizeof *chunks), **queries = xcalloc((size_t)n, sizeof *queries);
    for (int i = 0; i < nc; i++) chunks[i] = bm25_chunk(ix, i)->text;
    for (int i = 0; i < n; i++) queries[i] = set->items[i].q->question;
    int *top = xcalloc((size_t)n * (size_t)k, sizeof *top), *n_top = xcalloc((size_t)n, sizeof *n_top);
    if (a->embed) {
        DenseConfig dc = {.embed_url = a->embed, .embed_model = a->embed_model, .rerank_url = a->rerank,
                          .rerank_model = a->rerank_model, .api_key = getenv("OPENAI_API_KEY"),
                          .cache_dir = a->embed_cache, .candidates = a->candidates, .batch = a->embed_batch,
                          .concurrency = a->concurrency, .retries = a->retries, .timeout_s = a->timeout,
                          .backoff_s = a->backoff};
        DenseIndex dix;
        if (dense_index_build(&dix, &dc, chunks, nc) != 0 || dense_search(&dix, &dc, chunks, queries, n, k, top, n_top) != 0)
            die("%s", scpt_error());
        dense_index_free(&dix);
    } else {
        fprintf(stderr, "retrieval: BM25 over %d chunks of %d words\n", nc, a->chunk_words);
        for (int i = 0; i < n; i++) n_top[i] = bm25_search(ix, queries[i], k, top + (size_t)i * k, NULL);
    }
    char **contexts = xcalloc((size_t)n, sizeof *contexts);
    for (int i = 0; i < n; i++) {
        size_t len = 1;
        for (int j = 0; j < n_top[i]; j++) len += strlen(chunks[top[i * k + j]]) + 2;
        contexts[i] = xcalloc(len, 1);
        for (int j = 0; j < n_top[i]; j++) {
            if (j) strcat(contexts[i], "\n\n");
            strcat(contexts[i], chunks[top[i * k + j]]);
        }
    }
    free(top), free(n_top), free(chunks), free(queries);
    bm25_free(ix);
    return contexts;
}

static void write_summary(const ServerArgs *a, const GenConfig *gc, const GenResult *r, const char *path) {
    cJSON *s = cJSON_CreateObject();
    cJSON_AddStringToObject(s, "protocol", "generative");
    cJSON_AddStringToObject(s, "server", a->server);
    cJSON_AddStringToObject(s, "served_model", a->served_model);
    cJSON_AddStringToObject(s, "endpoint", a->chat ? "chat/completions" : "completions");
    cJSON_AddStringToObject(s, "qa", a->qa);
    cJSON_AddNumberToObject(s, "shots", gc->shots);
    cJSON_AddNumberToObject(s, "temperature", gc->temperature);
    cJSON_AddNumberToObject(s, "max_new_tokens", gc->max_tokens);
    cJSON_AddNumberToObject(s, "samples", gc->samples);
    cJSON_AddNumberToObject(s, "retrieve", a->retrieve);
    cJSON_AddStringToObject(s, "retrieval", !a->retrieve ? "none" : a->rerank ? "dense+rerank" : a->embed ? "dense" : "bm25");
    cJSON_AddStringToObject(s, "ci", "wilson 95%");
    cJSON_AddNumberToObject(s, "n", r->n);
    cJSON_AddNumberToObject(s, "failed", r->failed);
    cJSON_AddNumberToObject(s, "no_answer", r->no_answer);
    add_accuracy(s, "first", r->correct, r->n);
    add_accuracy(s, "vote", r->correct_vote, r->n);
    if (r->n_hard + r->n_easy > 0) {   // QuALITY's difficult flag (first sample)
        add_accuracy(s, "hard", r->correct_hard, r->n_hard);
        add_accuracy(s, "non_hard", r->correct_easy, r->n_easy);
    }
    cJSON_AddNumberToObject(s, "prompt_tokens", (double)r->prompt_tokens);
    cJSON_AddNumberToObject(s, "completion_tokens", (double)r->completion_tokens);
    cJSON_AddNumberToObject(s, "requests", (double)r->http.requests);
    cJSON_AddNumberToObject(s, "retries", (double)r->http.retries);
    cJSON_AddNumberToObject(s, "resumed", r->resumed);
    write_json(path, s);
}

// eval --summaries: summaries.jsonl and summary.json
static int run_summaries(const ServerArgs *a, const QASet *set) {
    SummaryConfig sc = {.server = a->server, .model = a->served_model, .judge = a->judge, .judge_model = a->judge_model,
                        .api_key = getenv("OPENAI_API_KEY"), .temperature = decimal(a->temperature),
                        .timeout_s = a->timeout, .backoff_s = a->backoff, .max_tokens = a->summary_tokens, .judge_tokens = a->judge_tokens,
                        .concurrency = a->concurrency, .retries = a->retries, .limit = a->limit};
    if (summaries_load_prompts(&sc, a->summary_prompt, a->claims_prompt, a->support_prompt) != 0) die("%s", scpt_error());
    for (int d = 0; d < set->corpus.n_docs; d++)
        if (!set->corpus.docs[d].text || !set->corpus.docs[d].text[0])
            die("%s: document %s has no text for the judge to check summaries against", a->qa, set->corpus.docs[d].id);
    if (make_dirs(a->out) != 0) die("%s", scpt_error());
    char journal[4200], records[4200], summary[4200];
    snprintf(journal, sizeof journal, "%s/summaries.journal.jsonl", a->out);
    snprintf(records, sizeof records, "%s/summaries.jsonl", a->out);
    snprintf(summary, sizeof summary, "%s/summary.json", a->out);
    SummaryResult r;
    if (summaries_evaluate(&set->corpus, &sc, journal, records, &r) != 0) die("%s", scpt_error());
    cJSON *s = cJSON_CreateObject();
    cJSON_AddStringToObject(s, "protocol", "summaries");
    cJSON_AddStringToObject(s, "server", a->server);
    cJSON_AddStringToObject(s, "served_model", a->served_model);
    cJSON_AddStringToObject(s, "judge", a->judge);
    cJSON_AddStringToObject(s, "judge_model", a->judge_model);
    cJSON_AddNumberToObject(s, "n", r.n);
    cJSON *cps = cJSON_AddObjectToObject(s, "claims_per_summary");
    cJSON_AddNumberToObject(cps, "mean", r.claims_mean);
    cJSON *ci = cJSON_AddArrayToObject(cps, "ci95");
    cJSON_AddItemToArray(ci, cJSON_CreateNumber(r.claims_lo));
    cJSON_AddItemToArray(ci, cJSON_CreateNumber(r.claims_hi));
    double lo, hi;
    wilson_interval((int)r.unsupported, (int)r.claims, &lo, &hi);
    cJSON *u = cJSON_AddObjectToObject(s, "unsupported");
    cJSON_AddNumberToObject(u, "share", r.claims ? (double)r.unsupported / r.claims : 0);
    ci = cJSON_AddArrayToObject(u, "ci95");
    cJSON_AddItemToArray(ci, cJSON_CreateNumber(lo));
    cJSON_AddItemToArray(ci, cJSON_CreateNumber(hi));
    cJSON_AddNumberToObject(u, "unsupported", (double)r.unsupported);
    cJSON_AddNumberToObject(u, "claims", (double)r.claims);
    printf("summaries %d | claims per summary %.2f (95%% CI %.2f..%.2f) | unsupported %.4f (95%% CI %.4f..%.4f, %ld/%ld)\n",
           r.n, r.claims_mean, r.claims_lo, r.claims_hi, r.claims ? (double)r.unsupported / r.claims : 0, lo, hi,
           r.unsupported, r.claims);
    write_json(summary, s);
    printf("wrote %s\n", summary);
    prompt_free(&sc.summary_prompt), prompt_free(&sc.claims_prompt), prompt_free(&sc.support_prompt);
    return 0;
}

// --show-prompt: the first question's prompt (text, or messages as JSON) on stdout
static int show_prompt(const ServerArgs *a, const QASet *set, const PromptSet *ps, char *const *contexts) {
    const QAItem *it = &set->items[0];
    const Document *d = &set->corpus.docs[it->doc];
    QuestionText qt = {d->title[0] ? d->title : d->id, d->author, d->year, it->q->question,
                       contexts ? contexts[0] : NULL, it->q->options, it->q->n_options};
    char *p = a->chat ? gen_prompt_messages(ps, a->shots, &qt) : gen_prompt_text(ps, a->shots, &qt);
    fputs(p, stdout);
    free(p);
    return 0;
}

// the QA run: journal, predictions, summary; 3 when questions failed
static int run_qa(const ServerArgs *a, const QASet *set, const PromptSet *ps, const GenConfig *gc, char *const *contexts,
                  int n) {
    if (make_dirs(a->out) != 0) die("%s", scpt_error());
    char journal[4200], predictions[4200], summary[4200];
    snprintf(journal, sizeof journal, "%s/journal.jsonl", a->out);
    snprintf(predictions, sizeof predictions, "%s/predictions.jsonl", a->out);
    snprintf(summary, sizeof summary, "%s/summary.json", a->out);
    fprintf(stderr, "eval: %d questions, %d samples each, %d-shot, through %s (%s)\n", n, a->samples, a->shots, a->server,
            a->chat ? "chat/completions" : "completions");
    GenResult r;
    if (gen_evaluate(set, contexts, ps, gc, journal, predictions, &r) != 0) die("%s", scpt_error());
    write_summary(a, gc, &r, summary);
    if (r.failed) printf("%d questions failed (%s.failures.jsonl); run again to ask them again\n", r.failed, journal);
    printf("wrote %s\n", summary);
    return r.failed ? 3 : 0;
}

int eval_server_main(int argc, char **argv) {
    ServerArgs a = parse_args(argc, argv);
    QASet set;
    if (qa_load(&set, a.qa) != 0) die("%s", scpt_error());
    if (a.summaries) {
        int rc = run_summaries(&a, &set);
        qa_free(&set);
        return rc;
    }
    PromptSet ps;
    if (prompt_set_load(&ps, a.prompt, a.exemplars, a.shots) != 0) die("%s", scpt_error());
    GenConfig gc = {.server = a.server, .model = a.served_model, .api_key = getenv("OPENAI_API_KEY"), .chat = a.chat,
                    .shots = a.shots, .temperature = decimal(a.temperature), .top_p = decimal(a.top_p), .max_tokens = a.max_new_tokens,
                    .samples = a.samples, .seed = (uint64_t)a.seed, .concurrency = a.concurrency,
                    .retries = a.retries, .timeout_s = a.timeout, .backoff_s = a.backoff, .limit = a.limit,
                    .progress = 1};
    gc.stop = split_stops(a.stop, &gc.n_stop);
    int n = a.limit > 0 && a.limit < set.n_items ? a.limit : set.n_items;
    char **contexts = a.retrieve ? retrieve_contexts(&a, &set, n) : NULL;
    int rc = a.show_prompt ? show_prompt(&a, &set, &ps, contexts) : run_qa(&a, &set, &ps, &gc, contexts, n);
    for (int i = 0; contexts && i < n; i++) free(contexts[i]);
    free(contexts);
    for (int i = 0; i < gc.n_stop; i++) free(gc.stop[i]);
    free(gc.stop);
    prompt_set_free(&ps);
    qa_free(&set);
    return rc;
}
