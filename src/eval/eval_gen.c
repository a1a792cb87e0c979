// Generative QA: every question x sample as one request on the HTTP pool; a question's
// record goes to the journal once all its samples are in, so a killed run resumes
// without asking answered questions again.
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eval_gen.h"
#include "util.h"

typedef struct {
    char **texts;        // per sample, NULL until it comes
    char *finish;        // the first sample's finish_reason
    int got, failed, done;
    long prompt_tokens, completion_tokens;
} ItemState;

typedef struct {
    int item, sample;
} JobRef;

typedef struct {
    const QASet *set;
    const GenConfig *cfg;
    ItemState *st;
    int n;
    Journal journal;
    FILE *failures;
    const char *failures_path;
    char **records;      // the journal line of each finished question (resumed or new)
    GenResult *r;
} Run;

static char *question_key(const QASet *set, int i) {
    const QAItem *it = &set->items[i];
    char idx[16];
    snprintf(idx, sizeof idx, "%d", i);
    const char *parts[] = {idx, set->corpus.docs[it->doc].id, it->q->question};
    return join_key(parts, 3);
}

// the settings a journal must have been written with to be resumed
static cJSON *settings_json(const GenConfig *c, const char *prompt_sample) {
    cJSON *s = cJSON_CreateObject();
    cJSON_AddStringToObject(s, "model", c->model);
    cJSON_AddStringToObject(s, "endpoint", c->chat ? "chat/completions" : "completions");
    cJSON_AddNumberToObject(s, "shots", c->shots);
    cJSON_AddNumberToObject(s, "temperature", c->temperature);
    cJSON_AddNumberToObject(s, "top_p", c->top_p);
    cJSON_AddNumberToObject(s, "max_tokens", c->max_tokens);
    cJSON *stop = cJSON_AddArrayToObject(s, "stop");
    for (int i = 0; i < c->n_stop; i++) cJSON_AddItemToArray(stop, cJSON_CreateString(c->stop[i]));
    cJSON_AddNumberToObject(s, "samples", c->samples);
    cJSON_AddNumberToObject(s, "seed", (double)c->seed);
    cJSON_AddStringToObject(s, "first_prompt", prompt_sample);   // the prompt file, exemplars and retrieval
    return s;
}

static const char *letter(int i, char *buf) {
    if (i < 0) return "";
    buf[0] = (char)('A' + i), buf[1] = '\0';
    return buf;
}

// counts a finished question into the result
static void tally(GenResult *r, const QAItem *it, int pred, int vote) {
    int ok = pred == it->q->gold;
    r->n++;
    r->correct += ok;
    r->correct_vote += vote == it->q->gold;
    r->no_answer += pred < 0;
    if (it->q->difficult == 1) r->n_hard++, r->correct_hard += ok;
    if (it->q->difficult == 0) r->n_easy++, r->correct_easy += ok;
}

static cJSON *question_record(Run *run, int i) {
    const QAItem *it = &run->set->items[i];
    const GenConfig *c = run->cfg;
    ItemState *s = &run->st[i];
    int *ans = xcalloc((size_t)c->samples, sizeof *ans);
    for (int k = 0; k < c->samples; k++) ans[k] = extract_answer(s->texts[k], it->q->n_options);
    int pred = ans[0], vote = majority_vote(ans, c->samples);
    char key_buf[4], lb[2];
    char *key = question_key(run->set, i);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "key", key);
    cJSON_AddNumberToObject(o, "index", i);
    cJSON_AddStringToObject(o, "doc", run->set->corpus.docs[it->doc].id);
    cJSON_AddStringToObject(o, "question", it->q->question);
    cJSON_AddNumberToObject(o, "gold", it->q->gold);
    cJSON_AddStringToObject(o, "gold_letter", letter(it->q->gold, lb));
    if (it->q->difficult >= 0) cJSON_AddBoolToObject(o, "hard", it->q->difficult == 1);
    cJSON_AddNumberToObject(o, "pred", pred);
    cJSON_AddStringToObject(o, "pred_letter", letter(pred, key_buf));
    cJSON_AddNumberToObject(o, "vote", vote);
    cJSON *a = cJSON_AddArrayToObject(o, "answers"), *t = cJSON_AddArrayToObject(o, "completions");
    for (int k = 0; k < c->samples; k++) {
        cJSON_AddItemToArray(a, cJSON_CreateNumber(ans[k]));
        cJSON_AddItemToArray(t, cJSON_CreateString(s->texts[k]));
    }
    cJSON_AddStringToObject(o, "finish_reason", s->finish ? s->finish : "");
    cJSON_AddNumberToObject(o, "prompt_tokens", (double)s->prompt_tokens);
    cJSON_AddNumberToObject(o, "completion_tokens", (double)s->completion_tokens);
    free(key);
    tally(run->r, it, pred, vote);
    run->r->prompt_tokens += s->prompt_tokens, run->r->completion_tokens += s->completion_tokens;
    free(ans);
    return o;
}

static void free_state(Run *run, int i, int samples) {
    ItemState *s = &run->st[i];
    for (int k = 0; s->texts && k < samples; k++) free(s->texts[k]);
    free(s->texts);
    free(s->finish);
    s->texts = NULL, s->finish = NULL;
}

// the completion text of a response: choices[0].text or choices[0].message.content
static int parse_completion(const char *body, size_t len, int chat, char **text, char **finish, long *pt, long *ct,
                            char *reason, size_t cap) {
    cJSON *root = cJSON_ParseWithLength(body, len);
    const cJSON *choices = cJSON_GetObjectItemCaseSensitive(root, "choices");
    const cJSON *first = cJSON_IsArray(choices) ? cJSON_GetArrayItem(choices, 0) : NULL;
    const cJSON *v = chat ? cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(first, "message"), "content")
                          : cJSON_GetObjectItemCaseSensitive(first, "text");
    if (!cJSON_IsString(v)) {
        const cJSON *em = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "error"), "message");
        if (cJSON_IsString(em)) snprintf(reason, cap, "server error: %.200s", em->valuestring);
        else snprintf(reason, cap, "response has no choices[0].%s (%zu bytes)", chat ? "message.content" : "text", len);
        cJSON_Delete(root);
        return -1;
    }
    *text = xstrdup(v->valuestring);
    const cJSON *fr = cJSON_GetObjectItemCaseSensitive(first, "finish_reason");
    *finish = xstrdup(cJSON_IsString(fr) ? fr->valuestring : "");
    const cJSON *usage = cJSON_GetObjectItemCaseSensitive(root, "usage");
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(usage, "prompt_tokens"),
                *c = cJSON_GetObjectItemCaseSensitive(usage, "completion_tokens");
    *pt = cJSON_IsNumber(p) ? (long)p->valuedouble : 0;
    *ct = cJSON_IsNumber(c) ? (long)c->valuedouble : 0;
    cJSON_Delete(root);
    return 0;
}

static Verdict on_response(void *ctx, void *user, const char *body, size_t len, char *reason, size_t cap) {
    Run *run = ctx;
    JobRef *ref = user;
    ItemState *s = &run->st[ref->item];
    char *text, *finish;
    long pt, ct;
    if (parse_completion(body, len, run->cfg->chat, &text, &finish, &pt, &ct, reason, cap) != 0) return VERDICT_RETRY;
    if (s->failed) {   // another sample of this question failed: it is asked again next run
        free(text), free(finish), free(ref);
        return VERDICT_OK;
    }
    s->texts[ref->sample] = text;
    if (ref->sample == 0) s->finish = finish;
    else free(finish);
    s->prompt_tokens += pt, s->completion_tokens += ct;
    if (++s->got == run->cfg->samples) {
        cJSON *rec = question_record(run, ref->item);
        int rc = journal_append_json(&run->journal, rec);
        run->records[ref->item] = cJSON_PrintUnformatted(rec);
        cJSON_Delete(rec);
        if (rc != 0) {
            snprintf(reason, cap, "%s", scpt_error());
            free(ref);
            return VERDICT_FATAL;
        }
        s->done = 1;
        free_state(run, ref->item, run->cfg->samples);
    }
    free(ref);
    return VERDICT_OK;
}

static void on_failure(void *ctx, void *user, const char *reason, int attempts) {
    Run *run = ctx;
    JobRef *ref = user;
    ItemState *s = &run->st[ref->item];
    if (!s->failed) {
        s->failed = 1;
        run->r->failed++;
        char *key = question_key(run->set, ref->item);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "key", key);
        cJSON_AddNumberToObject(o, "index", ref->item);
        cJSON_AddNumberToObject(o, "sample", ref->sample);
        cJSON_AddStringToObject(o, "reason", reason);
        cJSON_AddNumberToObject(o, "attempts", attempts);
        char *line = cJSON_PrintUnformatted(o);
        if (!run->failures) run->failures = fopen(run->failures_path, "a");
        if (run->failures) fprintf(run->failures, "%s\n", line), fflush(run->failures);
        free(line), free(key);
        cJSON_Delete(o);
        fprintf(stderr, "eval: question %d failed: %s\n", ref->item, reason);
        free_state(run, ref->item, run->cfg->samples);
    }
    free(ref);
}

static void on_abandon(void *ctx, void *user) { free(user); }

// the request body of question i, sample k
static char *request_body(const GenConfig *c, const char *prompt, int i, int k, size_t *len) {
    cJSON *req = cJSON_CreateObject();
    cJSON_AddStringToObject(req, "model", c->model);
    if (c->chat) cJSON_AddItemToObject(req, "messages", cJSON_Parse(prompt));
    else cJSON_AddStringToObject(req, "prompt", prompt);
    cJSON_AddNumberToObject(req, "temperature", c->temperature);
    if (c->top_p < 1) cJSON_AddNumberToObject(req, "top_p", c->top_p);
    cJSON_AddNumberToObject(req, "max_tokens", c->max_tokens);
    if (c->n_stop) {
        cJSON *stop = cJSON_AddArrayToObject(req, "stop");
        for (int s = 0; s < c->n_stop; s++) cJSON_AddItemToArray(stop, cJSON_CreateString(c->stop[s]));
    }
    cJSON_AddNumberToObject(req, "seed", (double)(c->seed + (uint64_t)i * (uint64_t)c->samples + (uint64_t)k));
    char *s = cJSON_PrintUnformatted(req);
    cJSON_Delete(req);
    *len = strlen(s);
    return s;
}

static char *question_prompt(const QASet *set, char *const *contexts, const PromptSet *ps, const GenConfig *c, int i) {
    const QAItem *it = &set->items[i];
    const Document *d = &set->corpus.docs[it->doc];
    QuestionText qt = {d->title[0] ? d->title : d->id, d->author, d->year, it->q->question,
                       contexts ? contexts[i] : NULL, it->q->options, it->q->n_options};
    return c->chat ? gen_prompt_messages(ps, c->shots, &qt) : gen_prompt_text(ps, c->shots, &qt);
}

typedef struct {
    Run *run;
    StrSet wanted;       // the keys of this run's questions
} Resume;

// a journal record of one of this run's questions: it is done
static void on_record(void *ctx, const cJSON *rec) {
    Resume *rs = ctx;
    Run *run = rs->run;
    const cJSON *key = cJSON_GetObjectItemCaseSensitive(rec, "key"), *idx = cJSON_GetObjectItemCaseSensitive(rec, "index");
    const cJSON *pred = cJSON_GetObjectItemCaseSensitive(rec, "pred"), *vote = cJSON_GetObjectItemCaseSensitive(rec, "vote");
    int i = cJSON_IsNumber(idx) ? (int)idx->valuedouble : -1;
    if (!cJSON_IsString(key) || !strset_has(&rs->wanted, key->valuestring) || i < 0 || i >= run->n || run->records[i] ||
        !cJSON_IsNumber(pred) || !cJSON_IsNumber(vote))
        return;
    run->records[i] = cJSON_PrintUnformatted(rec);
    run->st[i].done = 1;
    tally(run->r, &run->set->items[i], (int)pred->valuedouble, (int)vote->valuedouble);
    const cJSON *pt = cJSON_GetObjectItemCaseSensitive(rec, "prompt_tokens"),
                *ct = cJSON_GetObjectItemCaseSensitive(rec, "completion_tokens");
    run->r->prompt_tokens += cJSON_IsNumber(pt) ? (long)pt->valuedouble : 0;
    run->r->completion_tokens += cJSON_IsNumber(ct) ? (long)ct->valuedouble : 0;
    run->r->resumed++;
}

static int open_journal(Run *run, const char *path, const cJSON *settings) {
    Resume rs = {.run = run};
    for (int i = 0; i < run->n; i++) {
        char *k = question_key(run->set, i);
        strset_add(&rs.wanted, k);
        free(k);
    }
    int rc = settings_journal_open(&run->journal, path, settings, on_record, &rs);
    strset_free(&rs.wanted);
    return rc;
}

static void progress(const Run *run, double t0, int final) {
    const GenResult *r = run->r;
    double el = wall_time() - t0;
    int asked = r->n - r->resumed, left = run->n - r->n - r->failed;
    double rate = asked / (el > 0 ? el : 1e-9);
    fprintf(stderr, "%sqa %d/%d | acc %.3f | %.2f q/s | ETA %.0fs%s", isatty(2) ? "\r\033[K" : "", r->n, run->n,
            r->n ? (double)r->correct / r->n : 0, rate, rate > 0 ? left / rate : 0, final || !isatty(2) ? "\n" : "");
}

// predictions.jsonl: the records in question order, written atomically
static int write_predictions(const Run *run, const char *path) {
    AtomicFile af;
    if (atomic_open(&af, path) != 0) return -1;
    for (int i = 0; i < run->n; i++)
        if (run->records[i]) fprintf(af.f, "%s\n", run->records[i]);
    return atomic_commit(&af);
}

int gen_evaluate(const QASet *set, char *const *contexts, const PromptSet *ps, const GenConfig *cfg,
                 const char *journal_path, const char *predictions_path, GenResult *r) {
    memset(r, 0, sizeof *r);
    Run run = {.set = set, .cfg = cfg, .r = r};
    run.n = cfg->limit > 0 && cfg->limit < set->n_items ? cfg->limit : set->n_items;
    run.st = xcalloc((size_t)run.n, sizeof *run.st);
    run.records = xcalloc((size_t)run.n, sizeof *run.records);
    size_t fl = strlen(journal_path) + 32;
    char *failures_path = xmalloc(fl);
    snprintf(failures_path, fl, "%s.failures.jsonl", journal_path);
    run.failures_path = failures_path;
    unlink(failures_path);   // this run's failures only

    char *first = question_prompt(set, contexts, ps, cfg, 0);
    cJSON *settings = settings_json(cfg, first);
    free(first);
    int rc = open_journal(&run, journal_path, settings);
    cJSON_Delete(settings);
    if (rc != 0) goto out;
    if (r->resumed) fprintf(stderr, "eval: %d questions already answered in %s\n", r->resumed, journal_path);

    char url[4200];
    size_t bl = strlen(cfg->server) - (cfg->server[0] && cfg->server[strlen(cfg->server) - 1] == '/');
    snprintf(url, sizeof url, "%.*s/%s", (int)bl, cfg->server, cfg->chat ? "chat/completions" : "completions");
    HttpConfig hc = {.url = url, .api_key = cfg->api_key, .concurrency = cfg->concurrency, .max_retries = cfg->retries,
                     .timeout_s = cfg->timeout_s, .connect_timeout_s = 10, .backoff_s = cfg->backoff_s,
                     .max_backoff_s = 30, .max_retry_after_s = 60, .seed = cfg->seed, .on_response = on_response,
                     .on_failure = on_failure, .on_abandon = on_abandon, .ctx = &run, .log_name = "eval"};
    HttpPool *pool = http_pool_new(&hc);
    double t0 = wall_time(), last = t0;
    int next = 0, sample = 0;
    char *prompt = NULL;
    while (rc == 0) {
        while (next < run.n && (run.st[next].done) && !prompt) next++;
        while (next < run.n && http_pool_room(pool) > 0) {
            if (!prompt) {
                prompt = question_prompt(set, contexts, ps, cfg, next);
                run.st[next].texts = xcalloc((size_t)cfg->samples, sizeof(char *));
            }
            size_t len;
            char *body = request_body(cfg, prompt, next, sample, &len);
            JobRef *ref = xmalloc(sizeof *ref);
            *ref = (JobRef){next, sample};
            http_submit(pool, body, len, ref);
            if (++sample == cfg->samples) {
                free(prompt);
                prompt = NULL;
                sample = 0;
                for (next++; next < run.n && run.st[next].done; next++) {}
            }
        }
        if (next >= run.n && http_pool_active(pool) == 0) break;
        if (http_pool_step(pool, 0.5) != 0) rc = -1;
        if (cfg->progress && wall_time() - last >= 1) progress(&run, t0, 0), last = wall_time();
    }
    free(prompt);
    r->http = http_pool_stats(pool);
    http_pool_free(pool);
    if (cfg->progress) progress(&run, t0, 1);
    if (rc == 0) rc = write_predictions(&run, predictions_path);
    journal_close(&run.journal);
out:
    for (int i = 0; i < run.n; i++) {
        if (run.st[i].texts) free_state(&run, i, cfg->samples);
        free(run.records[i]);
    }
    if (run.failures) fclose(run.failures);
    free(run.st);
    free(run.records);
    free(failures_path);
    return rc;
}
