// Generative QA through an OpenAI-compatible server (eval --server): the model
// writes a rationale and then a letter, as the EntiGraph paper evaluates QuALITY.
//   src/eval/answer.c          the letter a completion chose
//   src/eval/gen_prompt.c      the prompt file, the exemplars, prompts and request bodies
//   src/eval/eval_gen.c        questions x samples through the HTTP pool, the journal
//   src/eval/oai_batch.c       blocking batches of requests (embeddings, rerank)
//   src/eval/retrieve_dense.c  dense retrieval: embeddings, the on-disk index, reranking
//   src/eval/eval_summaries.c  eval --summaries: summaries judged claim by claim
//   src/eval/settings_journal.c  journals that start with their settings
//   src/eval/eval_server.c     the command line of eval --server, the summary
#ifndef SCPT_EVAL_GEN_H
#define SCPT_EVAL_GEN_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "entigraph.h"
#include "qa.h"

// ---- answer extraction --------------------------------------------------------------
// The option a completion chose, 0-based, or -1 when it names none or two. Labels are
// the letters A, B, C, ... (n_options of them), either case. In order:
//   1. the first line that begins with "Answer:" (markdown '*', '#', '>' before it
//      allowed): the label right after it, as "B", "b", "(B)", "[B]", "B.", "B)",
//      "**B**", "option B" or "choice B". Only the first such line counts: later
//      ones are the model running on into a question of its own.
//   2. else the last "answer is" / "answer:" in the prose ("so the answer is (C).").
//   3. else a completion that is a label alone ("B", "(b)", " C. ").
// After a marker the label must stand alone: "Answer: A man ..." or "the answer is
// a bit unclear" name nothing (a bare label followed by a word is prose), and a
// second label in the same sentence ("B or C", "B, C") makes it ambiguous: -1.
// Letters in the rationale never count.
int extract_answer(const char *completion, int n_options);

// The majority of the extracted answers (-1s ignored), ties to the one seen first;
// -1 when every answer is -1.
int majority_vote(const int *answers, int n);

// ---- the prompt -----------------------------------------------------------------------
// A prompt file (doc/prompts/qa_cot.txt) has the entigraph prompt form: "@system"
// (the instruction) and "@user" (one question) sections with the placeholders
// {article} ("Title" by Author (Year), the parts the data has), {title}, {author},
// {year}, {question}, {options} ("A. ..." lines) and {context} (retrieved chunks
// under "Context:", "" closed-book).
// An exemplar is that block for a question of another (made-up) article, then
// " <rationale>\nAnswer: <letter>". The exemplars file is JSONL, one a line:
// {"title", "author", "year", "question", "options": [...], "answer": "B", "rationale"}.
typedef struct {
    char *title, *author, *year, *question, **options, *rationale;
    int n_options, answer;
} Exemplar;

typedef struct {
    Prompt prompt;
    Exemplar *ex;
    int n_ex;
} PromptSet;

// -1 with "<file>:<line>: what is wrong"; the exemplar file must hold at least `shots`
int prompt_set_load(PromptSet *ps, const char *prompt_path, const char *exemplars_path, int shots);
void prompt_set_free(PromptSet *ps);

// The fields of one question for the @user block.
typedef struct {
    const char *title, *author, *year, *question, *context;
    char *const *options;
    int n_options;
} QuestionText;

// Completion form: system, "\n\n", each of the first `shots` exemplars and "\n\n", the
// question's block. Chat form: the same as messages (system; user/assistant per
// exemplar; user), a cJSON array returned as a malloc'd JSON text.
char *gen_prompt_text(const PromptSet *ps, int shots, const QuestionText *q);
char *gen_prompt_messages(const PromptSet *ps, int shots, const QuestionText *q);

// ---- journals with settings ---------------------------------------------------------------
// A journal (entigraph.h) whose first line is {"settings": {...}}. Opening refuses one
// written under other settings ("<path>:<line>: ... other settings"), gives each other
// record to on_record (owned by the caller of the callback: copy what you keep), and
// starts a new journal with the settings line.
typedef void (*JsonRecordFn)(void *ctx, const cJSON *record);
int settings_journal_open(Journal *j, const char *path, const cJSON *settings, JsonRecordFn on_record, void *ctx);
// one record as one line, synced; -1 with scpt_error()
int journal_append_json(Journal *j, const cJSON *o);

// ---- the run ------------------------------------------------------------------------------
typedef struct {
    const char *server;       // base URL, e.g. http://127.0.0.1:8080/v1
    const char *model;        // the request's "model"
    const char *api_key;      // may be NULL; never printed
    int chat;                 // /chat/completions (else /completions)
    int shots;
    double temperature, top_p;
    int max_tokens;
    char **stop;
    int n_stop;
    int samples;              // completions per question: the first is scored, all vote
    uint64_t seed;            // request seed of question i, sample s: seed + i * samples + s
    int concurrency, retries;
    double timeout_s, backoff_s;
    int limit;                // first N questions (0: all)
    int progress;
} GenConfig;

typedef struct {
    int n, correct, correct_vote, no_answer, failed, resumed;
    int n_hard, correct_hard, n_easy, correct_easy;   // QuALITY's difficult flag, where given
    long prompt_tokens, completion_tokens;
    HttpStats http;
} GenResult;

// Every question (contexts[i] the retrieved text of question i, or NULL) through the
// server, `samples` completions each. The journal (JSONL, one record per finished
// question after a settings line) is appended as answers come and resumed: questions
// it holds are not asked again; it refuses to resume under other settings. Questions
// whose requests failed after the retries go to <journal>.failures.jsonl and are asked
// again by the next run. -1 with scpt_error() on a fatal error (server refused, output
// unwritable).
int gen_evaluate(const QASet *set, char *const *contexts, const PromptSet *ps, const GenConfig *cfg,
                 const char *journal_path, const char *predictions_path, GenResult *r);

// ---- blocking request batches (embeddings, rerank) -----------------------------------------
// POSTs bodies[i] to url, `concurrency` at a time with the HTTP pool's retries; each
// response goes through parse(ctx, i, body, len, reason, cap) (0 ok, -1 retry with a
// reason). -1 with scpt_error() when a request fails for good.
typedef int (*BatchParseFn)(void *ctx, int i, const char *body, size_t len, char *reason, size_t cap);
int oai_batch(const char *url, const char *api_key, char **bodies, int n, int concurrency, double timeout_s,
              int retries, double backoff_s, BatchParseFn parse, void *ctx);

// ---- dense retrieval --------------------------------------------------------------------------
typedef struct {
    const char *embed_url;    // base URL serving /embeddings
    const char *embed_model;
    const char *rerank_url;   // base URL serving /rerank, NULL for none
    const char *rerank_model;
    const char *api_key;
    const char *cache_dir;    // the chunk embeddings, keyed by the chunks and the model
    int candidates;           // rerank: the dense top-N to rerank (>= k)
    int batch;                // inputs per /embeddings request
    int concurrency, retries;
    double timeout_s, backoff_s;
} DenseConfig;

typedef struct {
    int n_chunks, dim;
    float *vectors;           // n_chunks x dim, unit length
    int from_cache;
} DenseIndex;

// Embeds the chunk texts (or reads them from the cache when the same chunks were
// embedded by the same model: the model is recognised by the embedding of a fixed
// probe text, kept in the cache file). -1 with scpt_error().
int dense_index_build(DenseIndex *ix, const DenseConfig *cfg, const char *const *chunks, int n_chunks);
// For each query its top k chunk indices, best first, into out[q * k ...] (n_out[q] of
// them): cosine similarity, then the server's reranking of the top `candidates` when
// rerank_url is set. -1 with scpt_error().
int dense_search(const DenseIndex *ix, const DenseConfig *cfg, const char *const *chunks,
                 const char *const *queries, int n_queries, int k, int *out, int *n_out);
void dense_index_free(DenseIndex *ix);
// The embedding cache file's name for these chunks and model (for tests and messages).
uint64_t dense_chunks_key(const char *model, const char *const *chunks, int n_chunks);

// ---- summaries judged claim by claim (eval --server URL --summaries --judge URL) -------------
// Each article (the documents of --qa, first `limit`) is summarised from memory by the
// model at `server` (chat; the summary prompt names the article, as the QA prompt does);
// the judge at `judge` splits each summary into claims ({"claims": [...]}) and marks
// each supported or not by the article's text ({"supported": [...]}). Prompt files as
// the QA prompt's, placeholders: summary {article} {title} {author} {year}; claims
// {article} {summary}; support {article} {document} {claims} (numbered lines) {n}.
typedef struct {
    const char *server, *model, *judge, *judge_model, *api_key;
    Prompt summary_prompt, claims_prompt, support_prompt;
    double temperature, timeout_s, backoff_s;
    int max_tokens, judge_tokens, concurrency, retries, limit;
} SummaryConfig;

typedef struct {
    int n;                                    // summaries judged
    long claims, unsupported;
    double claims_mean, claims_lo, claims_hi; // claims per summary, 95% interval (normal)
} SummaryResult;

// -1 with scpt_error() (file named) on a bad prompt file
int summaries_load_prompts(SummaryConfig *c, const char *summary, const char *claims, const char *support);
// Every answer is journalled (after a settings line) as it comes, so a rerun asks only
// what is missing; records_path gets one line per judged summary. -1 with scpt_error().
int summaries_evaluate(const Corpus *c, const SummaryConfig *cfg, const char *journal_path, const char *records_path,
                       SummaryResult *r);

// ---- the program --------------------------------------------------------------------------
// eval with --server anywhere in argv: its own flags (eval --server URL --help).
int eval_server_main(int argc, char **argv);

#endif
