// The EntiGraph client: the contracts between its parts.
//   entigraph_prompts.c  prompt files with {placeholders}
//   entigraph_plan.c     work items per document and their deterministic order
//   entigraph_journal.c  the output JSONL: append + fsync, resume, torn tails
//   entigraph_http.c     N requests in flight on libcurl multi, retries, backoff
//   entigraph_api.c      OpenAI chat-completions requests and responses
//   entigraph_cost.c     the cost plan: requests, tokens and dollars before and during a run
//   entigraph_batch.c    the same work through the OpenAI Batch API (files, batches, journal)
//   src/entigraph.c      the command line, the run loop, progress and summary
#ifndef SCPT_ENTIGRAPH_H
#define SCPT_ENTIGRAPH_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "corpus.h"
#include "tokenizer.h"

// ---- prompts ------------------------------------------------------------------------
// A prompt file has a "@system" section and a "@user" section (each begun by that
// word alone on a line); lines before the first section starting with '#' are
// comments. {name} is replaced by the value of name; names not listed for the
// prompt's kind are an error when the file is loaded.
typedef struct {
    char *path;
    char *system, *user;
} Prompt;

int prompt_load(Prompt *p, const char *path, const char *const *allowed_names);
// Fills a template: names[i] -> values[i]; returns a malloc'd string.
char *prompt_fill(const char *tmpl, const char *const *names, const char *const *values, int n);
void prompt_free(Prompt *p);

// ---- work plan ------------------------------------------------------------------------
typedef enum { KIND_ENTITIES, KIND_PAIR, KIND_TRIPLE, KIND_REPHRASE } ItemKind;
extern const char *const item_kind_names[4];

typedef struct {
    int doc;          // index into the corpus
    ItemKind kind;
    int ent[3];       // pair/triple: indices into the document's entity list
    int style;        // rephrase: index into the styles
    int chunk;        // rephrase: index into the document's chunks
} WorkItem;

// Per document: its entities (once known) and the items after the entity step,
// in the order they are started.
typedef struct {
    char **entities;
    int n_entities;
    int entities_state;   // 0 wanted, 1 in progress, 2 known, 3 failed
    WorkItem *items;
    int n_items, next;
    char **chunks;        // rephrase: the document's chunks
    int n_chunks;
} DocPlan;

typedef struct {
    int max_entities;     // per document, 0 = all
    int max_pairs;        // per document, -1 = all
    int max_triples;      // per document, -1 = all, -2 = as many as pairs
    uint64_t seed;
} PlanConfig;

// Sets the document's entity list (normalised: trimmed, empty and repeated names
// dropped, cut to max_entities) and its pair and triple items: every pair (or
// max_pairs of them), then triples sampled without repeats, each group in an
// order drawn from the seed and the document id alone.
// The normalised names (a malloc'd array of malloc'd strings); returns the count.
int normalize_entities(char **names, int n, int max, char ***out);
void plan_entities(DocPlan *dp, const char *doc_id, char **entities, int n, const PlanConfig *cfg);
// Rephrase items: the text cut into chunks of at most chunk_words words (at
// paragraph ends where possible), every chunk in every style.
void plan_rephrase(DocPlan *dp, const char *text, int chunk_words, int n_styles);
void plan_free(DocPlan *dp);

// Round-robin over documents: the next item is the one with the lowest position
// in its document's list, ties to the lower document index, so a token budget
// spreads over every document. Documents join when their items are known.
typedef struct {
    int *heap;
    int n, cap;
    const DocPlan *plans;
} Scheduler;
void sched_init(Scheduler *s, const DocPlan *plans, int n_docs);
void sched_add(Scheduler *s, int doc);                 // a document whose items are known
int sched_next(Scheduler *s, DocPlan *plans, WorkItem *out);   // 0 when none is left
void sched_free(Scheduler *s);

// The resume key of an item: doc id, kind and the entity names / style and chunk,
// joined by join_key (each part length-prefixed, so distinct items never share a key).
char *item_key(const Corpus *c, const DocPlan *plans, const WorkItem *it, const char *const *styles);
char *join_key(const char *const *parts, int n);

// ---- a set of strings (resume keys) -------------------------------------------------
typedef struct {
    char **slots;
    size_t cap, n;
} StrSet;
int strset_add(StrSet *s, const char *key);      // 1 added, 0 already there (key copied)
int strset_has(const StrSet *s, const char *key);
void strset_free(StrSet *s);

// ---- output journal --------------------------------------------------------------------
// Records are JSON lines appended with one write each; journal_sync fsyncs. On
// open an existing file is scanned: a last line without its newline (a write cut
// by a kill) is truncated away, every other line must be a JSON object, and
// `on_record` sees each one. The file is locked against a second writer.
typedef void (*RecordFn)(void *ctx, const char *line, size_t len, long lineno);
typedef struct {
    int fd;
    char *path;
    int dirty;
    long torn_bytes;      // what the last open cut off
} Journal;

int journal_open(Journal *j, const char *path, RecordFn on_record, void *ctx);
// Reads the complete records of an output without opening it for writing (--plan).
int journal_scan(const char *path, RecordFn on_record, void *ctx);
int journal_append(Journal *j, const char *line, size_t len);   // line ends in '\n'
int journal_sync(Journal *j);
void journal_close(Journal *j);

// ---- HTTP engine --------------------------------------------------------------------------
typedef enum { VERDICT_OK, VERDICT_RETRY, VERDICT_FAIL, VERDICT_FATAL } Verdict;

typedef struct HttpJob HttpJob;
typedef struct HttpPool HttpPool;

typedef struct {
    const char *url;
    const char *api_key;          // NULL or "" for none; never printed
    int concurrency;
    int max_retries;              // retries after the first attempt
    double timeout_s, connect_timeout_s;
    double backoff_s, max_backoff_s;
    double max_retry_after_s;     // a server's Retry-After is honoured up to this
    uint64_t seed;                // jitter
    const char *log_name;         // the program named in retry lines (NULL: "entigraph")
    // a 2xx body: OK takes it and is done with `user`; RETRY and FAIL give a reason;
    // FATAL (the output cannot be written) stops the run, `user` done with too
    Verdict (*on_response)(void *ctx, void *user, const char *body, size_t len, char *reason,
                           size_t reason_cap);
    // the job is over without success: reason says why, attempts how many were made
    void (*on_failure)(void *ctx, void *user, const char *reason, int attempts);
    // a job still open when the pool is freed (after a fatal error): user goes back
    void (*on_abandon)(void *ctx, void *user);
    void *ctx;
} HttpConfig;

typedef struct {
    long requests, retries, http_errors, transport_errors, rate_limited;
} HttpStats;

HttpPool *http_pool_new(const HttpConfig *cfg);
void http_pool_free(HttpPool *p);
int http_pool_room(const HttpPool *p);      // jobs that can be submitted now
int http_pool_active(const HttpPool *p);    // in flight or waiting to retry
// Takes ownership of body (malloc'd). user comes back in the callbacks.
void http_submit(HttpPool *p, char *body, size_t len, void *user);
// Starts due transfers, waits up to wait_s for activity, handles what completed.
// Returns -1 after a fatal verdict (bad key, bad URL), with the message set.
int http_pool_step(HttpPool *p, double wait_s);
HttpStats http_pool_stats(const HttpPool *p);
// Replaces every occurrence of the API key in s with "***" (in place).
void redact_secret(char *s, const char *secret);
// The same over len bytes that may hold NULs; returns the new length.
size_t redact_secret_bytes(char *s, size_t len, const char *secret);
// The first 200 bytes of a response body as one line for a message, the key
// redacted before the cut (so no part of it survives at any offset).
void http_error_snippet(const char *body, size_t len, const char *secret, char *out, size_t cap);

// ---- OpenAI chat completions ----------------------------------------------------------
typedef struct {
    const char *model;
    double temperature;
    int max_completion_tokens;
    const char *entity_schema;   // JSON text of the entity schema, NULL for none
    int json_mode;               // 0 off, 1 json_object, 2 json_schema
} ApiConfig;

typedef struct {
    char *content;               // the message text
    char *finish_reason;
    char *model;                 // as the server names it ("" when absent)
    long prompt_tokens, completion_tokens;
    double server_prompt_ms, server_predicted_ms;   // llama.cpp's "timings", 0 when absent
} ChatResult;

char *api_chat_request(const ApiConfig *cfg, const char *system, const char *user, int want_entities,
                       size_t *len);
// 0 and *r filled, or -1 with reason ("not JSON", "no choices", ...)
int api_parse_chat(const char *body, size_t len, ChatResult *r, char *reason, size_t cap);
// The entity step's content: {"summary": str, "entities": [str, ...]} (code fences
// and text around the object tolerated). 0, or -1 with reason.
int api_parse_entities(const char *content, char **summary, char ***entities, int *n, char *reason,
                       size_t cap);
void chat_result_free(ChatResult *r);

// ---- the cost plan ----------------------------------------------------------------------
// US dollars per million tokens; -1 where not given.
typedef struct {
    double input, output, batch_input, batch_output;
} Prices;
// Fills the prices not yet set from a JSON file {"MODEL": {"input": $, "output": $,
// "batch_input": $, "batch_output": $}} (the batch prices optional); dies naming
// the file on a bad one.
void prices_load(Prices *p, const char *path, const char *model);
void prices_finish(Prices *p);   // batch prices default to half the live ones
// dollars for the tokens, -1 when the prices are not known
double prices_cost(const Prices *p, int batch, double prompt_tokens, double completion_tokens);

typedef struct {
    Tokenizer *tok;
    TokenIds ids;
    int max_completion;
    long requests[4];             // per ItemKind: requests still to send
    double prompt[4];             // their prompt tokens
    long seen[4];                 // records already in the output
    long long seen_completion[4]; // and the completion tokens they got
} CostPlan;

void cost_init(CostPlan *c, const char *vocab, int max_completion_tokens);   // dies on a bad vocabulary
void cost_free(CostPlan *c);
long cost_count(CostPlan *c, const char *text);                  // tokens of the text
void cost_seen(CostPlan *c, ItemKind kind, long completion_tokens);   // a record of an earlier run
// a request to come: its messages plus extra_tokens counted apart (a document
// counted once and shared by its requests), with the chat framing
void cost_add(CostPlan *c, ItemKind kind, const char *system, const char *user, long extra_tokens);
// completion tokens expected per request: the mean seen, else the maximum
double cost_expected_completion(const CostPlan *c, ItemKind kind);
void cost_totals(const CostPlan *c, double *requests, double *prompt, double *completion, double *completion_max);
void cost_print(const CostPlan *c, const Prices *p, FILE *f);

// ---- the Batch API ----------------------------------------------------------------------
typedef struct {
    const char *base_url;        // OPENAI_BASE_URL (…/v1)
    const char *api_key;
    const char *output;          // names OUTPUT.batches.jsonl and OUTPUT.batch-NNNNNN[.keys|.results].jsonl
    const char *model;           // named in the offline runner's command line
    int offline;                 // write request files, merge results files; no server
    int max_requests;            // lines per request file (the API allows 50,000)
    long long max_bytes;         // bytes per request file (the API allows 200 MB)
    int max_retries;             // new batches an item may go into after its first
    double poll_s, max_poll_s;   // first poll delay, doubling up to this
    double backoff_s, max_backoff_s, timeout_s;   // a failed API call
    void *ctx;
    // the next item to send: a user (as the live path's) and its resume key
    // (malloc'd); 0 when there is none now
    int (*next)(void *ctx, void **user, char **key);
    char *(*body)(void *ctx, void *user, size_t *len);   // its chat request body (malloc'd)
    Verdict (*on_response)(void *ctx, void *user, const char *body, size_t len, char *reason, size_t cap);
    void (*on_failure)(void *ctx, void *user, const char *reason, int attempts);
    void (*on_abandon)(void *ctx, void *user);
} BatchConfig;

typedef struct {
    long api_calls, batches_created, written, failed, retried;
} BatchStats;

// Runs until every item is written or failed (0), interrupted (0, the batches
// left for a rerun), offline batches wait for their runner (1), or an API or
// write error (-1, message set).
int batch_run(const BatchConfig *cfg, volatile sig_atomic_t *interrupted, BatchStats *stats);

#endif
