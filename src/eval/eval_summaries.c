// eval --summaries: an instruction-tuned model summarises each article from memory;
// a judge model splits each summary into atomic claims, then marks each claim
// supported or not by the article's text (the prompts: doc/prompts/summary.txt,
// judge_claims.txt, judge_support.txt). Three stages, each a batch of chat requests;
// every answer is journalled as it comes, so a rerun continues where a run stopped.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval.h"
#include "eval_gen.h"
#include "util.h"

enum { STAGE_SUMMARY, STAGE_CLAIMS, STAGE_SUPPORT };
static const char *const stage_names[] = {"summary", "claims", "support"};

typedef struct {
    char *summary;       // NULL until known
    char **claims;       // n_claims of them; claims_known once split
    int n_claims, claims_known;
    int *supported;      // NULL until judged
} DocState;

typedef struct {
    const Corpus *c;
    const SummaryConfig *cfg;
    DocState *st;
    int n;
    Journal journal;
    int *todo;           // batch index -> document
    int stage, failed;
} SumRun;

static const char *const summary_names[] = {"article", "title", "author", "year", NULL};
static const char *const claims_names[] = {"article", "summary", NULL};
static const char *const support_names[] = {"article", "document", "claims", "n", NULL};

static int count(const char *const *names) {
    int n = 0;
    while (names[n]) n++;
    return n;
}

int summaries_load_prompts(SummaryConfig *c, const char *summary, const char *claims, const char *support) {
    if (prompt_load(&c->summary_prompt, summary, summary_names) != 0) return -1;
    if (prompt_load(&c->claims_prompt, claims, claims_names) != 0) return -1;
    if (prompt_load(&c->support_prompt, support, support_names) != 0) return -1;
    if (!strstr(c->claims_prompt.user, "{summary}"))
        return scpt_set_error("%s: the @user section needs {summary}", claims), -1;
    if (!strstr(c->support_prompt.user, "{claims}") || !strstr(c->support_prompt.user, "{document}"))
        return scpt_set_error("%s: the @user section needs {claims} and {document}", support), -1;
    return 0;
}

static char *article_of(const Document *d) {
    char *s;
    size_t len;
    FILE *f = open_memstream(&s, &len);
    if (!f) die("out of memory");
    fprintf(f, "\"%s\"", d->title[0] ? d->title : d->id);
    if (d->author[0]) fprintf(f, " by %s", d->author);
    if (d->year[0]) fprintf(f, " (%s)", d->year);
    fclose(f);
    return s;
}

// the outermost {...} of a reply (models wrap JSON in fences or prose), parsed
static cJSON *reply_json(const char *content) {
    const char *open = strchr(content, '{'), *close = strrchr(content, '}');
    return open && close && close > open ? cJSON_ParseWithLength(open, (size_t)(close - open + 1)) : NULL;
}

// takes a stage's result from a record (journal or fresh); 0, or -1 when malformed
static int take(SumRun *run, int d, int stage, const cJSON *v) {
    DocState *s = &run->st[d];
    if (stage == STAGE_SUMMARY) {
        if (!cJSON_IsString(v) || !v->valuestring[strspn(v->valuestring, " \t\r\n")]) return -1;
        if (!s->summary) s->summary = xstrdup(v->valuestring);
        return 0;
    }
    int n = cJSON_GetArraySize(v), k = 0;
    const cJSON *it;
    if (stage == STAGE_CLAIMS ? s->claims_known : !s->claims_known || s->supported) return 0;   // a repeat
    if (!cJSON_IsArray(v)) return -1;
    cJSON_ArrayForEach(it, v) if (stage == STAGE_CLAIMS ? !cJSON_IsString(it) : !cJSON_IsBool(it)) return -1;
    if (stage == STAGE_SUPPORT && n != s->n_claims) return -1;
    if (stage == STAGE_CLAIMS) {
        s->claims = xcalloc((size_t)n + 1, sizeof *s->claims);
        cJSON_ArrayForEach(it, v) s->claims[k++] = xstrdup(it->valuestring);
        s->n_claims = n, s->claims_known = 1;
    } else {
        s->supported = xcalloc((size_t)n + 1, sizeof *s->supported);
        cJSON_ArrayForEach(it, v) s->supported[k++] = cJSON_IsTrue(it);
    }
    return 0;
}

static int doc_index(const SumRun *run, const char *id) {
    for (int d = 0; d < run->n; d++)
        if (!strcmp(run->c->docs[d].id, id)) return d;
    return -1;
}

static void on_record(void *ctx, const cJSON *rec) {
    SumRun *run = ctx;
    const cJSON *doc = cJSON_GetObjectItemCaseSensitive(rec, "doc"), *stage = cJSON_GetObjectItemCaseSensitive(rec, "stage");
    int d = cJSON_IsString(doc) ? doc_index(run, doc->valuestring) : -1;
    for (int s = 0; d >= 0 && cJSON_IsString(stage) && s < 3; s++)
        if (!strcmp(stage->valuestring, stage_names[s])) take(run, d, s, cJSON_GetObjectItemCaseSensitive(rec, "value"));
}

// does document d still need this stage?
static int wants(const SumRun *run, int d, int stage) {
    const DocState *s = &run->st[d];
    return stage == STAGE_SUMMARY  ? !s->summary
           : stage == STAGE_CLAIMS ? s->summary && !s->claims_known
                                   : s->claims_known && s->n_claims > 0 && !s->supported;
}

static char *request(const SumRun *run, int d, int stage) {
    const Document *doc = &run->c->docs[d];
    const SummaryConfig *c = run->cfg;
    const Prompt *p = stage == STAGE_SUMMARY ? &c->summary_prompt : stage == STAGE_CLAIMS ? &c->claims_prompt
                                                                                            : &c->support_prompt;
    char *article = article_of(doc), *claims = NULL, n[16];
    size_t len;
    FILE *f = open_memstream(&claims, &len);
    for (int i = 0; stage == STAGE_SUPPORT && i < run->st[d].n_claims; i++) fprintf(f, "%d. %s\n", i + 1, run->st[d].claims[i]);
    fclose(f);
    snprintf(n, sizeof n, "%d", run->st[d].n_claims);
    const char *const *names = stage == STAGE_SUMMARY ? summary_names : stage == STAGE_CLAIMS ? claims_names : support_names;
    const char *values[4] = {article, doc->title, doc->author, doc->year};
    if (stage == STAGE_CLAIMS) values[1] = run->st[d].summary;
    if (stage == STAGE_SUPPORT) values[1] = doc->text, values[2] = claims, values[3] = n;
    char *sys = prompt_fill(p->system, names, values, count(names)), *user = prompt_fill(p->user, names, values, count(names));
    ApiConfig api = {.model = stage == STAGE_SUMMARY ? c->model : c->judge_model,
                     .temperature = stage == STAGE_SUMMARY ? c->temperature : 0,
                     .max_completion_tokens = stage == STAGE_SUMMARY ? c->max_tokens : c->judge_tokens};
    size_t body_len;
    char *body = api_chat_request(&api, sys, user, 0, &body_len);
    free(article), free(claims), free(sys), free(user);
    return body;
}

static int parse(void *ctx, int i, const char *body, size_t len, char *reason, size_t cap) {
    SumRun *run = ctx;
    int d = run->todo[i], stage = run->stage;
    ChatResult r;
    if (api_parse_chat(body, len, &r, reason, cap) != 0) return -1;
    cJSON *value = NULL, *json = stage == STAGE_SUMMARY ? NULL : reply_json(r.content);
    if (stage == STAGE_SUMMARY) value = cJSON_CreateString(r.content);
    else value = cJSON_DetachItemFromObjectCaseSensitive(json, stage == STAGE_CLAIMS ? "claims" : "supported");
    cJSON_Delete(json);
    chat_result_free(&r);
    if (take(run, d, stage, value) != 0) {
        snprintf(reason, cap, "%s", stage == STAGE_SUMMARY ? "an empty summary"
                                    : stage == STAGE_CLAIMS ? "the judge's reply holds no {\"claims\": [strings]}"
                                                            : "the judge's reply holds no {\"supported\": [booleans]}, one per claim");
        cJSON_Delete(value);
        return -1;
    }
    cJSON *rec = cJSON_CreateObject();
    cJSON_AddStringToObject(rec, "doc", run->c->docs[d].id);
    cJSON_AddStringToObject(rec, "stage", stage_names[stage]);
    cJSON_AddItemToObject(rec, "value", value);
    if (journal_append_json(&run->journal, rec) != 0) run->failed = 1;   // the batch goes on; the run stops after
    cJSON_Delete(rec);
    return 0;
}

static int run_stage(SumRun *run, int stage) {
    int n = 0;
    for (int d = 0; d < run->n; d++)
        if (wants(run, d, stage)) run->todo[n++] = d;
    if (n == 0) return 0;
    fprintf(stderr, "summaries: %s step for %d articles\n", stage_names[stage], n);
    char **bodies = xcalloc((size_t)n, sizeof *bodies);
    for (int i = 0; i < n; i++) bodies[i] = request(run, run->todo[i], stage);
    const SummaryConfig *c = run->cfg;
    char url[4200];
    const char *base = stage == STAGE_SUMMARY ? c->server : c->judge;
    snprintf(url, sizeof url, "%.*s/chat/completions", (int)(strlen(base) - (base[strlen(base) - 1] == '/')), base);
    run->stage = stage;
    int rc = oai_batch(url, c->api_key, bodies, n, c->concurrency, c->timeout_s, c->retries, c->backoff_s, parse, run);
    for (int i = 0; i < n; i++) free(bodies[i]);
    free(bodies);
    if (rc == 0 && run->failed) rc = -1;
    return rc;
}

// mean and its 95% interval (normal approximation) of v[0..n)
static void mean_ci(const double *v, int n, double *mean, double *lo, double *hi) {
    double s = 0, ss = 0;
    for (int i = 0; i < n; i++) s += v[i];
    *mean = n ? s / n : 0;
    for (int i = 0; i < n; i++) ss += (v[i] - *mean) * (v[i] - *mean);
    double half = n > 1 ? 1.959963984540054 * sqrt(ss / (n - 1) / n) : 0;
    *lo = *mean - half, *hi = *mean + half;
}

static int write_outputs(const SumRun *run, const char *records_path, SummaryResult *r) {
    AtomicFile af;
    if (atomic_open(&af, records_path) != 0) return -1;
    double *per = xcalloc((size_t)run->n + 1, sizeof *per);
    for (int d = 0; d < run->n; d++) {
        const DocState *s = &run->st[d];
        if (!s->claims_known || (s->n_claims > 0 && !s->supported)) continue;
        int unsup = 0;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "doc", run->c->docs[d].id);
        cJSON_AddStringToObject(o, "title", run->c->docs[d].title);
        cJSON_AddStringToObject(o, "summary", s->summary);
        cJSON *claims = cJSON_AddArrayToObject(o, "claims");
        for (int i = 0; i < s->n_claims; i++) {
            cJSON *cl = cJSON_CreateObject();
            cJSON_AddStringToObject(cl, "claim", s->claims[i]);
            cJSON_AddBoolToObject(cl, "supported", s->supported[i]);
            cJSON_AddItemToArray(claims, cl);
            unsup += !s->supported[i];
        }
        cJSON_AddNumberToObject(o, "n_claims", s->n_claims);
        cJSON_AddNumberToObject(o, "n_unsupported", unsup);
        char *line = cJSON_PrintUnformatted(o);
        fprintf(af.f, "%s\n", line);
        free(line);
        cJSON_Delete(o);
        per[r->n++] = s->n_claims;
        r->claims += s->n_claims, r->unsupported += unsup;
    }
    mean_ci(per, r->n, &r->claims_mean, &r->claims_lo, &r->claims_hi);
    free(per);
    return atomic_commit(&af);
}

int summaries_evaluate(const Corpus *c, const SummaryConfig *cfg, const char *journal_path, const char *records_path,
                       SummaryResult *r) {
    memset(r, 0, sizeof *r);
    SumRun run = {.c = c, .cfg = cfg};
    run.n = cfg->limit > 0 && cfg->limit < c->n_docs ? cfg->limit : c->n_docs;
    run.st = xcalloc((size_t)run.n + 1, sizeof *run.st);
    run.todo = xcalloc((size_t)run.n + 1, sizeof *run.todo);
    cJSON *settings = cJSON_CreateObject();
    cJSON_AddStringToObject(settings, "model", cfg->model);
    cJSON_AddStringToObject(settings, "judge_model", cfg->judge_model);
    cJSON_AddNumberToObject(settings, "temperature", cfg->temperature);
    cJSON_AddNumberToObject(settings, "max_tokens", cfg->max_tokens);
    const Prompt *ps[] = {&cfg->summary_prompt, &cfg->claims_prompt, &cfg->support_prompt};
    for (int i = 0; i < 3; i++) {
        char key[32];
        snprintf(key, sizeof key, "%s_prompt", stage_names[i]);
        cJSON *p = cJSON_AddObjectToObject(settings, key);
        cJSON_AddStringToObject(p, "system", ps[i]->system);
        cJSON_AddStringToObject(p, "user", ps[i]->user);
    }
    int rc = settings_journal_open(&run.journal, journal_path, settings, on_record, &run);
    cJSON_Delete(settings);
    for (int stage = 0; rc == 0 && stage < 3; stage++) rc = run_stage(&run, stage);
    if (rc == 0) rc = write_outputs(&run, records_path, r);
    if (run.journal.path) journal_close(&run.journal);
    for (int d = 0; d < run.n; d++) {
        DocState *s = &run.st[d];
        for (int i = 0; i < s->n_claims; i++) free(s->claims[i]);
        free(s->claims), free(s->summary), free(s->supported);
    }
    free(run.st), free(run.todo);
    return rc;
}
