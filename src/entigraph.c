// entigraph: synthetic data from a corpus through an OpenAI-compatible server.
// EntiGraph: per document a summary and its entities, then text on how pairs and
// triples of them relate; or the Rephrase baseline: every chunk in several styles.
// Usage: doc/entigraph.md; the output and failures formats: doc/formats.md.
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "args.h"
#include "corpus.h"
#include "entigraph.h"
#include "util.h"

#define MAX_STYLES 16

typedef struct {
    const char *corpus, *output, *failures, *prompts, *schema_path, *styles, *summary_json;
    const char *model, *json_mode_name, *max_triples_name, *max_tokens_name;
    const char *plan_vocab, *prices_path;
    int plan_only, plan_entities, batch, batch_offline, batch_max_requests;
    float batch_poll_s, batch_max_poll_s;
    float price_input, price_output;
    int rephrase, concurrency, max_retries, chunk_words, json_mode, quiet;
    int max_completion_tokens, seed, max_entities, max_pairs;
    long long max_tokens;
    float temperature, timeout_s, connect_timeout_s, backoff_s, max_backoff_s, max_retry_after_s, progress_s;
    ApiConfig api;
    PlanConfig plan;
} Options;

// one request in flight
typedef struct {
    WorkItem item;
    char *key;
} Pending;

static void pending_free(Pending *pd) {
    free(pd->key);
    free(pd);
}

typedef struct {
    Options *o;
    Corpus corpus;
    DocPlan *plans;
    Scheduler sched;
    StrSet done;
    Journal out, failed;
    Prompt entities_prompt, pair_prompt, triple_prompt;
    Prompt style_prompts[MAX_STYLES];
    char *style_names[MAX_STYLES];
    int n_styles;
    int next_entities_doc;   // entity steps start in document order, before any relation
    struct DocId *ids;       // documents by id
    // counters
    long resumed_records, duplicate_records, written, failures, skipped;
    long long resumed_tokens, generated_tokens, paid_prompt_tokens, paid_completion_tokens;
    double server_prompt_ms, server_predicted_ms;
    int write_failed;
    CostPlan cost;           // what is left to send, and what earlier runs got
    Prices prices;
    double planned_usd;      // the plan's live cost at the start (-1: no prices)
} Run;

static volatile sig_atomic_t interrupted;
static void on_signal(int sig) {
    if (interrupted) _exit(130);   // a second ^C: stop at once; the journal stays consistent
    interrupted = sig;
}

// ---- documents by id ----------------------------------------------------------------------

// ids sorted, for resuming a large corpus without a scan per record
typedef struct DocId {
    const char *id;
    int doc;
} DocId;

static int by_id(const void *a, const void *b) { return strcmp(((const DocId *)a)->id, ((const DocId *)b)->id); }

static DocId *sorted_ids(const Corpus *c) {
    DocId *ids = xmalloc((size_t)(c->n_docs ? c->n_docs : 1) * sizeof *ids);
    for (int i = 0; i < c->n_docs; i++) ids[i] = (DocId){c->docs[i].id, i};
    qsort(ids, (size_t)c->n_docs, sizeof *ids, by_id);
    return ids;
}

static int doc_index(const Run *r, const char *id) {
    DocId key = {id, -1};
    const DocId *hit = bsearch(&key, r->ids, (size_t)r->corpus.n_docs, sizeof key, by_id);
    return hit ? hit->doc : -1;
}

// ---- resuming: what the output already holds ------------------------------------------------

static const char *str_field(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

// the resume key of a record, as item_key builds it for an item
static char *record_key(const cJSON *rec) {
    const char *parts[6] = {str_field(rec, "doc_id"), str_field(rec, "kind")};
    int n = 2;
    char chunk[24];
    if (!parts[0] || !parts[1]) return NULL;
    if (!strcmp(parts[1], "pair") || !strcmp(parts[1], "triple")) {
        const cJSON *e, *ents = cJSON_GetObjectItemCaseSensitive(rec, "entities");
        cJSON_ArrayForEach(e, ents) {
            if (!cJSON_IsString(e) || n == 5) return NULL;
            parts[n++] = e->valuestring;
        }
        if (n != (!strcmp(parts[1], "pair") ? 4 : 5)) return NULL;
    } else if (!strcmp(parts[1], "rephrase")) {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(rec, "chunk");
        if (!(parts[2] = str_field(rec, "style")) || !cJSON_IsNumber(c)) return NULL;
        snprintf(chunk, sizeof chunk, "%d", c->valueint);
        parts[3] = chunk;
        n = 4;
    } else if (strcmp(parts[1], "entities") != 0) {
        return NULL;
    }
    return join_key(parts, n);
}

static void on_old_record(void *ctx, const char *line, size_t len, long lineno) {
    Run *r = ctx;
    cJSON *rec = cJSON_ParseWithLength(line, len);
    char *key = record_key(rec);
    if (!key) {
        fprintf(stderr, "entigraph: %s:%ld: not an entigraph record, ignored\n", r->o->output, lineno);
        cJSON_Delete(rec);
        return;
    }
    if (!strset_add(&r->done, key)) {
        r->duplicate_records++;
    } else {
        r->resumed_records++;
        const cJSON *usage = cJSON_GetObjectItemCaseSensitive(rec, "usage");
        const cJSON *ct = cJSON_GetObjectItemCaseSensitive(usage, "completion_tokens");
        if (cJSON_IsNumber(ct)) r->resumed_tokens += (long long)ct->valuedouble;
        for (int k = 0; k < 4; k++)
            if (!strcmp(str_field(rec, "kind"), item_kind_names[k]))
                cost_seen(&r->cost, (ItemKind)k, cJSON_IsNumber(ct) ? (long)ct->valuedouble : 0);
        int d = doc_index(r, str_field(rec, "doc_id"));
        const cJSON *ents = cJSON_GetObjectItemCaseSensitive(rec, "entities");
        if (!strcmp(str_field(rec, "kind"), "entities") && d >= 0 && r->plans[d].entities_state == 0) {
            int n = cJSON_GetArraySize(ents), k = 0;
            char **names = xcalloc((size_t)n, sizeof *names);
            const cJSON *e;
            cJSON_ArrayForEach(e, ents) if (cJSON_IsString(e)) names[k++] = e->valuestring;
            plan_entities(&r->plans[d], r->corpus.docs[d].id, names, k, &r->o->plan);
            free(names);
        }
    }
    free(key);
    cJSON_Delete(rec);
}

// ---- records ----------------------------------------------------------------------------

static cJSON *item_json(const Run *r, const WorkItem *it) {
    cJSON *rec = cJSON_CreateObject();
    const DocPlan *dp = &r->plans[it->doc];
    cJSON_AddStringToObject(rec, "doc_id", r->corpus.docs[it->doc].id);
    cJSON_AddStringToObject(rec, "kind", item_kind_names[it->kind]);
    cJSON *ents = cJSON_AddArrayToObject(rec, "entities");
    int k = it->kind == KIND_PAIR ? 2 : it->kind == KIND_TRIPLE ? 3 : 0;
    for (int i = 0; i < k; i++) cJSON_AddItemToArray(ents, cJSON_CreateString(dp->entities[it->ent[i]]));
    if (it->kind == KIND_REPHRASE) {
        cJSON_AddStringToObject(rec, "style", r->style_names[it->style]);
        cJSON_AddNumberToObject(rec, "chunk", it->chunk);
    }
    return rec;
}

// appends rec as one line; 0, or -1 (and the run stops) when the disk refuses it
static int append_json(Run *r, Journal *j, cJSON *rec) {
    char *s = cJSON_PrintUnformatted(rec);
    cJSON_Delete(rec);
    if (!s) die("out of memory writing a record");
    size_t n = strlen(s);
    s = realloc(s, n + 2);
    if (!s) die("out of memory writing a record");
    s[n] = '\n', s[n + 1] = '\0';
    int rc = journal_append(j, s, n + 1);
    free(s);
    if (rc != 0) {
        fprintf(stderr, "\nentigraph: %s\n", scpt_error());
        r->write_failed = 1;
    }
    return rc;
}

static void describe(const Run *r, const WorkItem *it, char *out, size_t cap) {
    const DocPlan *dp = &r->plans[it->doc];
    int k = it->kind == KIND_PAIR ? 2 : it->kind == KIND_TRIPLE ? 3 : 0;
    int w = snprintf(out, cap, "doc %s %s", r->corpus.docs[it->doc].id, item_kind_names[it->kind]);
    for (int i = 0; i < k && w > 0 && (size_t)w < cap; i++)
        w += snprintf(out + w, cap - (size_t)w, "%s%s", i ? " / " : " (", dp->entities[it->ent[i]]);
    if (k && w > 0 && (size_t)w < cap) snprintf(out + w, cap - (size_t)w, ")");
    if (it->kind == KIND_REPHRASE) snprintf(out + w, cap - (size_t)w, " %s chunk %d", r->style_names[it->style], it->chunk);
}

// ---- the HTTP callbacks -------------------------------------------------------------------

static Verdict on_response(void *ctx, void *user, const char *body, size_t len, char *reason, size_t cap) {
    Run *r = ctx;
    Pending *pd = user;
    ChatResult res;
    if (api_parse_chat(body, len, &res, reason, cap) != 0) return VERDICT_RETRY;
    r->paid_prompt_tokens += res.prompt_tokens;
    r->paid_completion_tokens += res.completion_tokens;
    r->server_prompt_ms += res.server_prompt_ms;
    r->server_predicted_ms += res.server_predicted_ms;
    if (res.content[strspn(res.content, " \t\r\n")] == '\0') {
        snprintf(reason, cap, "empty completion (finish_reason %s)", res.finish_reason);
        chat_result_free(&res);
        return VERDICT_RETRY;
    }
    WorkItem *it = &pd->item;
    cJSON *rec = item_json(r, it);
    char *summary = NULL, **names = NULL;
    int n_names = 0;
    if (it->kind == KIND_ENTITIES) {
        if (api_parse_entities(res.content, &summary, &names, &n_names, reason, cap) != 0) {
            cJSON_Delete(rec);
            chat_result_free(&res);
            return VERDICT_RETRY;
        }
        // the record keeps every name; --max-entities cuts when planning
        char **clean;
        int n_clean = normalize_entities(names, n_names, 0, &clean);
        cJSON *ents = cJSON_GetObjectItemCaseSensitive(rec, "entities");
        for (int i = 0; i < n_clean; i++) {
            cJSON_AddItemToArray(ents, cJSON_CreateString(clean[i]));
            free(clean[i]);
        }
        free(clean);
    }
    cJSON_AddStringToObject(rec, "text", summary ? summary : res.content);
    cJSON_AddStringToObject(rec, "model", res.model[0] ? res.model : r->o->api.model);
    cJSON *usage = cJSON_AddObjectToObject(rec, "usage");
    cJSON_AddNumberToObject(usage, "prompt_tokens", (double)res.prompt_tokens);
    cJSON_AddNumberToObject(usage, "completion_tokens", (double)res.completion_tokens);
    cJSON_AddStringToObject(rec, "finish_reason", res.finish_reason);
    int rc = append_json(r, &r->out, rec);
    if (rc == 0) {
        r->written++;
        r->generated_tokens += res.completion_tokens;
        strset_add(&r->done, pd->key);
        if (it->kind == KIND_ENTITIES) {   // now its pairs and triples can start
            plan_entities(&r->plans[it->doc], r->corpus.docs[it->doc].id, names, n_names, &r->o->plan);
            sched_add(&r->sched, it->doc);
        }
    }
    for (int i = 0; i < n_names; i++) free(names[i]);
    free(names);
    free(summary);
    chat_result_free(&res);
    pending_free(pd);
    if (rc != 0) snprintf(reason, cap, "cannot write the output");
    return rc == 0 ? VERDICT_OK : VERDICT_FATAL;
}

static void on_failure(void *ctx, void *user, const char *reason, int attempts) {
    Run *r = ctx;
    Pending *pd = user;
    char what[512];
    describe(r, &pd->item, what, sizeof what);
    fprintf(stderr, "%sentigraph: failed: %s: %s\n", isatty(2) ? "\r\033[K" : "", what, reason);
    if (pd->item.kind == KIND_ENTITIES) r->plans[pd->item.doc].entities_state = 3;
    cJSON *rec = item_json(r, &pd->item);
    cJSON_AddStringToObject(rec, "reason", reason);
    cJSON_AddNumberToObject(rec, "attempts", attempts);
    if (!r->write_failed) append_json(r, &r->failed, rec);
    else cJSON_Delete(rec);
    r->failures++;
    pending_free(pd);
}

static void on_abandon(void *ctx, void *user) { pending_free(user); }

// ---- building requests --------------------------------------------------------------------

// The item's system and user messages (malloc'd); `names` overrides the
// document's entity list, and `text` the document (the cost plan counts it apart).
static const Prompt *fill_prompts(Run *r, const WorkItem *it, char *const *names_of_ents, const char *text,
                                  char **system, char **user) {
    const Document *d = &r->corpus.docs[it->doc];
    const DocPlan *dp = &r->plans[it->doc];
    const char *names[8] = {"title", "author", "year", "document"};
    const char *values[8] = {d->title, d->author, d->year, text ? text : d->text};
    int n = 4;
    const Prompt *p = &r->entities_prompt;
    if (it->kind == KIND_PAIR || it->kind == KIND_TRIPLE) {
        static const char *const ent_names[3] = {"entity1", "entity2", "entity3"};
        p = it->kind == KIND_PAIR ? &r->pair_prompt : &r->triple_prompt;
        for (int k = 0; k < (it->kind == KIND_PAIR ? 2 : 3); k++) {
            names[n] = ent_names[k];
            values[n++] = (names_of_ents ? names_of_ents : dp->entities)[it->ent[k]];
        }
    } else if (it->kind == KIND_REPHRASE) {
        p = &r->style_prompts[it->style];
        names[n] = "chunk";
        values[n++] = dp->chunks[it->chunk];
    }
    *system = prompt_fill(p->system, names, values, n);
    *user = prompt_fill(p->user, names, values, n);
    return p;
}

static char *request_for(Run *r, const WorkItem *it, size_t *len) {
    char *system, *user;
    fill_prompts(r, it, NULL, NULL, &system, &user);
    char *body = api_chat_request(&r->o->api, system, user, it->kind == KIND_ENTITIES, len);
    free(system);
    free(user);
    return body;
}

// the next item not yet in the output, 0 when none is ready now
static int next_item(Run *r, WorkItem *out) {
    for (;;) {
        WorkItem it = {0};
        int found = 0;
        while (!r->o->rephrase && r->next_entities_doc < r->corpus.n_docs && !found) {
            int d = r->next_entities_doc++;
            if (r->plans[d].entities_state == 0) {
                r->plans[d].entities_state = 1;
                it = (WorkItem){d, KIND_ENTITIES, {0, 0, 0}, 0, 0};
                found = 1;
            }
        }
        if (!found && !sched_next(&r->sched, r->plans, &it)) return 0;
        char *key = item_key(&r->corpus, r->plans, &it, (const char *const *)r->style_names);
        int done = strset_has(&r->done, key);
        free(key);
        if (!done) {
            *out = it;
            return 1;
        }
        r->skipped++;
    }
}

// ---- the Batch API path: the same items and callbacks (src/entigraph/entigraph_batch.c) ----------

static int batch_next(void *ctx, void **user, char **key) {
    Run *r = ctx;
    WorkItem it;
    if (r->write_failed || !next_item(r, &it)) return 0;
    Pending *pd = xmalloc(sizeof *pd);
    pd->item = it;
    pd->key = item_key(&r->corpus, r->plans, &it, (const char *const *)r->style_names);
    *user = pd;
    *key = xstrdup(pd->key);
    return 1;
}

static char *batch_body(void *ctx, void *user, size_t *len) { return request_for(ctx, &((Pending *)user)->item, len); }

// ---- the cost plan ---------------------------------------------------------------------------

static int count_of(const char *s, const char *what) {
    int n = 0;
    for (const char *p = s ? strstr(s, what) : NULL; p; p = strstr(p + 1, what)) n++;
    return n;
}

// one request to come, its document's tokens counted once per document
static void plan_item(Run *r, const WorkItem *it, char *const *names, long doc_tokens) {
    char *system, *user;
    const Prompt *p = fill_prompts(r, it, names, "", &system, &user);
    int uses = count_of(p->system, "{document}") + count_of(p->user, "{document}");
    cost_add(&r->cost, it->kind, system, user, uses * doc_tokens);
    free(system);
    free(user);
}

static int item_done(Run *r, const WorkItem *it) {
    char *key = item_key(&r->corpus, r->plans, it, (const char *const *)r->style_names);
    int done = strset_has(&r->done, key);
    free(key);
    return done;
}

// Every request still to send: known items exactly; for a document whose entities
// are not known yet, its pairs and triples as if it had --plan-entities names (by
// default the mean of the documents already known, else 20) of placeholder text.
static void plan_cost(Run *r) {
    long known = 0, names_total = 0;
    for (int d = 0; d < r->corpus.n_docs; d++)
        if (r->plans[d].entities_state == 2) known++, names_total += r->plans[d].n_entities;
    int guess = r->o->plan_entities ? r->o->plan_entities : known ? (int)((names_total + known / 2) / known) : 20;
    char **fake = xcalloc((size_t)guess + 1, sizeof *fake);
    for (int i = 0; i < guess; i++) {
        char name[32];
        snprintf(name, sizeof name, "Entity Name %d", i + 1);
        fake[i] = xstrdup(name);
    }
    for (int d = 0; d < r->corpus.n_docs; d++) {
        DocPlan *dp = &r->plans[d];
        long doc_tokens = r->o->rephrase ? 0 : cost_count(&r->cost, r->corpus.docs[d].text);
        if (r->o->rephrase || dp->entities_state == 2) {
            for (int i = 0; i < dp->n_items; i++) {
                WorkItem it = dp->items[i];
                it.doc = d;   // the plan's items leave it to the scheduler
                if (!item_done(r, &it)) plan_item(r, &it, NULL, doc_tokens);
            }
            continue;
        }
        WorkItem ent = {d, KIND_ENTITIES, {0, 0, 0}, 0, 0};
        plan_item(r, &ent, NULL, doc_tokens);
        DocPlan hypo = {0};
        plan_entities(&hypo, r->corpus.docs[d].id, fake, guess, &r->o->plan);
        for (int i = 0; i < hypo.n_items; i++) {
            hypo.items[i].doc = d;
            plan_item(r, &hypo.items[i], hypo.entities, doc_tokens);
        }
        plan_free(&hypo);
    }
    free_paths(fake, guess);
    double req, prompt, comp, comp_max;
    cost_totals(&r->cost, &req, &prompt, &comp, &comp_max);
    r->planned_usd = prices_cost(&r->prices, 0, prompt, comp);
}

// ---- progress -------------------------------------------------------------------------------

static void fmt_duration(double s, char *out, size_t cap) {
    if (s < 0 || s > 1e7) snprintf(out, cap, "?");
    else if (s < 60) snprintf(out, cap, "%.0fs", s);
    else if (s < 3600) snprintf(out, cap, "%dm%02ds", (int)s / 60, (int)s % 60);
    else snprintf(out, cap, "%dh%02dm", (int)s / 3600, (int)s % 3600 / 60);
}

// items of the whole plan: known items, plus for documents still waiting for their
// entities as many as the documents with entities have on average
static double planned_items(const Run *r) {
    double known = 0, with = 0, waiting = 0;
    for (int d = 0; d < r->corpus.n_docs; d++) {
        const DocPlan *dp = &r->plans[d];
        if (!r->o->rephrase) known++;   // the entity step
        if (dp->entities_state == 2) known += dp->n_items, with++;
        else if (dp->entities_state < 2) waiting++;
    }
    return known + (with > 0 ? waiting * (known - r->corpus.n_docs) / with : 0);
}

static void progress(const Run *r, HttpPool *pool, double t0, int final) {
    double el = wall_time() - t0;
    HttpStats st = http_pool_stats(pool);
    long done = r->resumed_records + r->written + r->failures;
    double total = planned_items(r), frac, eta;
    if (r->o->max_tokens > 0) {
        double have = (double)(r->resumed_tokens + r->generated_tokens);
        frac = have / (double)r->o->max_tokens;
        eta = r->generated_tokens > 0 ? ((double)r->o->max_tokens - have) / (r->generated_tokens / el) : -1;
    } else {
        frac = total > 0 ? done / total : 0;
        eta = r->written + r->failures > 0 ? (total - done) / ((r->written + r->failures) / el) : -1;
    }
    if (frac > 1) frac = 1;
    char bar[24], eta_s[32];
    int fill = (int)(frac * 20);
    for (int i = 0; i < 20; i++) bar[i] = i < fill ? '=' : i == fill ? '>' : ' ';
    bar[20] = '\0';
    fmt_duration(final ? 0 : eta, eta_s, sizeof eta_s);
    char spend[96] = "";
    double paid = prices_cost(&r->prices, 0, (double)r->paid_prompt_tokens, (double)r->paid_completion_tokens);
    if (paid >= 0) snprintf(spend, sizeof spend, " | spent $%.2f of $%.2f planned", paid, r->planned_usd);
    fprintf(stderr, "%s[%s] %5.1f%% %ld/%.0f items | %.2f req/s | %.0f tok/s | %lld tok | in flight %d | "
            "retries %ld | failed %ld | ETA %s%s%s",
            isatty(2) ? "\r\033[K" : "", bar, 100 * frac, done, total, st.requests / el,
            r->generated_tokens / el, r->resumed_tokens + r->generated_tokens, http_pool_active(pool),
            st.retries, r->failures, eta_s, spend, isatty(2) && !final ? "" : "\n");
}

static void summary(const Run *r, HttpPool *pool, double elapsed) {
    HttpStats st = http_pool_stats(pool);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + 1e-6 * (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
    fprintf(stderr,
            "entigraph: %.1f s: %ld records written, %ld failed, %ld already in the output%s\n"
            "  requests %ld (retries %ld; HTTP errors %ld, of them 429 %ld; transport errors %ld)\n"
            "  tokens paid: prompt %lld, completion %lld; generated into the output: %lld (%lld with earlier runs)\n"
            "  %.2f requests/s, %.0f generated tokens/s; client CPU %.3f s (%.3f ms per request)\n",
            elapsed, r->written, r->failures, r->resumed_records,
            r->duplicate_records ? " (repeated records in the output were counted once)" : "",
            st.requests, st.retries, st.http_errors, st.rate_limited, st.transport_errors,
            r->paid_prompt_tokens, r->paid_completion_tokens, r->generated_tokens,
            r->resumed_tokens + r->generated_tokens, st.requests / elapsed, r->generated_tokens / elapsed,
            cpu, st.requests ? 1000 * cpu / st.requests : 0.0);
    if (r->server_predicted_ms > 0)
        fprintf(stderr, "  server timings (summed over requests): prompt %.0f ms, generation %.0f ms\n",
                r->server_prompt_ms, r->server_predicted_ms);
    if (!r->o->summary_json) return;
    cJSON *s = cJSON_CreateObject();
    cJSON_AddNumberToObject(s, "elapsed_s", elapsed);
    cJSON_AddNumberToObject(s, "written", r->written);
    cJSON_AddNumberToObject(s, "failed", r->failures);
    cJSON_AddNumberToObject(s, "resumed", r->resumed_records);
    cJSON_AddNumberToObject(s, "requests", st.requests);
    cJSON_AddNumberToObject(s, "retries", st.retries);
    cJSON_AddNumberToObject(s, "http_errors", st.http_errors);
    cJSON_AddNumberToObject(s, "rate_limited", st.rate_limited);
    cJSON_AddNumberToObject(s, "transport_errors", st.transport_errors);
    cJSON_AddNumberToObject(s, "prompt_tokens", (double)r->paid_prompt_tokens);
    cJSON_AddNumberToObject(s, "completion_tokens", (double)r->paid_completion_tokens);
    cJSON_AddNumberToObject(s, "generated_tokens", (double)r->generated_tokens);
    cJSON_AddNumberToObject(s, "server_prompt_ms", r->server_prompt_ms);
    cJSON_AddNumberToObject(s, "server_predicted_ms", r->server_predicted_ms);
    cJSON_AddNumberToObject(s, "cpu_s", cpu);
    char *text = cJSON_Print(s);
    cJSON_Delete(s);
    AtomicFile af;
    if (atomic_open(&af, r->o->summary_json) != 0 || fputs(text, af.f) < 0 || atomic_commit(&af) != 0)
        fprintf(stderr, "entigraph: %s\n", scpt_error());
    free(text);
}

// ---- setup --------------------------------------------------------------------------------

static char *default_prompts_dir(void) {
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 32);
    if (n > 0) {
        exe[n] = '\0';
        char *dir = dirname(exe), path[4200];
        snprintf(path, sizeof path, "%s/doc/prompts", dir);
        struct stat st;
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) return xstrdup(path);
    }
    return xstrdup("doc/prompts");
}

static void parse_args(Options *o, int argc, char **argv) {
    *o = (Options){.model = "gpt-4-turbo", .json_mode_name = "schema", .max_triples_name = "pairs", .max_tokens_name = "0",
                   .concurrency = 16, .max_retries = 6, .chunk_words = 300, .max_completion_tokens = 2048,
                   .seed = 42, .max_pairs = -1, .temperature = 1.0f, .timeout_s = 600, .connect_timeout_s = 10,
                   .backoff_s = 1, .max_backoff_s = 60, .max_retry_after_s = 600, .progress_s = 10,
                   .plan_vocab = "llama3", .price_input = -1, .price_output = -1,
                   .batch_max_requests = 50000, .batch_poll_s = 10, .batch_max_poll_s = 300};
    ArgSpec specs[] = {
        {"--corpus", ARG_STRING, &o->corpus, "JSONL (id/title/text, or QuALITY) or a folder of .txt files", 0, 0},
        {"--output", ARG_STRING, &o->output, "output JSONL, appended; a rerun resumes it", 0, 0},
        {"--failures", ARG_STRING, &o->failures, "failed items (default OUTPUT.failures.jsonl)", 0, 0},
        {"--rephrase", ARG_FLAG, &o->rephrase, "the Rephrase baseline instead of EntiGraph", 0, 0},
        {"--model", ARG_STRING, &o->model, "model name sent to the server", 0, 0},
        {"--temperature", ARG_FLOAT, &o->temperature, "sampling temperature", 0, 2},
        {"--max-completion-tokens", ARG_INT, &o->max_completion_tokens, "tokens per request", 1, 1 << 30},
        // a string: budgets beyond args.h's 32-bit integers are real
        {"--max-tokens", ARG_STRING, &o->max_tokens_name, "budget of generated tokens in the output (0: none)", 0, 0},
        {"--concurrency", ARG_INT, &o->concurrency, "requests in flight", 1, 4096},
        {"--seed", ARG_INT, &o->seed, "order of the pairs and triples, and the triples drawn", 0, 2147483647},
        {"--max-entities", ARG_INT, &o->max_entities, "entities used per document (0: all)", 0, 1 << 20},
        {"--max-pairs", ARG_INT, &o->max_pairs, "pairs per document (-1: all)", -1, 2147483647},
        {"--max-triples", ARG_STRING, &o->max_triples_name, "triples per document: N, all, or pairs (as many as pairs)", 0, 0},
        {"--prompts", ARG_STRING, &o->prompts, "prompt folder (default doc/prompts beside the program)", 0, 0},
        {"--styles", ARG_STRING, &o->styles, "rephrase styles a,b: DIR/rephrase_<style>.txt (default all)", 0, 0},
        {"--chunk-words", ARG_INT, &o->chunk_words, "rephrase chunk size in words", 1, 1 << 24},
        {"--json-mode", ARG_STRING, &o->json_mode_name, "entity-step constraint: schema, object or off", 0, 0},
        {"--entity-schema", ARG_STRING, &o->schema_path, "JSON schema of the entity step (default DIR/entities.schema.json)", 0, 0},
        {"--timeout", ARG_FLOAT, &o->timeout_s, "seconds per request", 0.001, 1e6},
        {"--connect-timeout", ARG_FLOAT, &o->connect_timeout_s, "seconds to connect", 0.001, 1e6},
        {"--retries", ARG_INT, &o->max_retries, "retries per item after the first attempt", 0, 1000},
        {"--backoff", ARG_FLOAT, &o->backoff_s, "first retry delay in seconds (doubles, with jitter)", 0, 1e6},
        {"--max-backoff", ARG_FLOAT, &o->max_backoff_s, "longest retry delay", 0, 1e6},
        {"--max-retry-after", ARG_FLOAT, &o->max_retry_after_s, "longest Retry-After honoured", 0, 1e6},
        {"--progress-interval", ARG_FLOAT, &o->progress_s, "seconds between progress lines when stderr is not a terminal", 0, 1e6},
        {"--summary-json", ARG_STRING, &o->summary_json, "write the final figures as JSON", 0, 0},
        {"--quiet", ARG_FLAG, &o->quiet, "no progress lines", 0, 0},
        {"--batch", ARG_FLAG, &o->batch, "send the work through the OpenAI Batch API (half price, within 24 h)", 0, 0},
        {"--batch-offline", ARG_FLAG, &o->batch_offline, "--batch with request files for an offline runner (vLLM's run_batch), no server", 0, 0},
        {"--batch-max-requests", ARG_INT, &o->batch_max_requests, "requests per batch file", 1, 50000},
        {"--batch-poll", ARG_FLOAT, &o->batch_poll_s, "seconds before a batch's first poll (doubling)", 0.001, 1e6},
        {"--batch-max-poll", ARG_FLOAT, &o->batch_max_poll_s, "longest wait between polls", 0.001, 1e6},
        {"--plan", ARG_FLAG, &o->plan_only, "print the requests, tokens and cost still to spend, send nothing", 0, 0},
        {"--plan-vocab", ARG_STRING, &o->plan_vocab, "tokenizer counting prompt tokens: gpt2, llama3 or a file (default: llama3, cl100k's superset)", 0, 0},
        {"--plan-entities", ARG_INT, &o->plan_entities, "entities assumed for documents not yet seen (0: the mean of those seen, else 20)", 0, 1 << 20},
        {"--price-input", ARG_FLOAT, &o->price_input, "US dollars per million prompt tokens (-1: from --prices)", -1, 1e6},
        {"--price-output", ARG_FLOAT, &o->price_output, "US dollars per million completion tokens (-1: from --prices)", -1, 1e6},
        {"--prices", ARG_STRING, &o->prices_path, "JSON prices file: {\"MODEL\": {\"input\": $, \"output\": $}} per million tokens", 0, 0},
    };
    args_parse(argc, argv, specs, sizeof specs / sizeof specs[0],
               "usage: entigraph --corpus PATH --output OUT.jsonl [options]\n\n"
               "Synthetic data from a corpus through an OpenAI-compatible server (doc/entigraph.md).\n"
               "Server: OPENAI_BASE_URL (default https://api.openai.com/v1), OPENAI_API_KEY (never printed).");
    if (!o->corpus || !o->output) usage_error("--corpus and --output are required");
    args_want_file("--output", o->output, "give the output JSONL file");
    const char *t = o->max_triples_name;
    char *end;
    long n = strtol(t, &end, 10);
    if (!strcmp(t, "all")) o->plan.max_triples = -1;
    else if (!strcmp(t, "pairs")) o->plan.max_triples = -2;
    else if (end != t && !*end && n >= 0 && n <= 2147483647) o->plan.max_triples = (int)n;
    else usage_error("--max-triples must be a number, all or pairs");
    const char *m = o->json_mode_name;
    o->json_mode = !strcmp(m, "schema") ? 2 : !strcmp(m, "object") ? 1 : !strcmp(m, "off") ? 0 : -1;
    if (o->json_mode < 0) usage_error("--json-mode must be schema, object or off");
    o->max_tokens = strtoll(o->max_tokens_name, &end, 10);
    if (end == o->max_tokens_name || *end || o->max_tokens < 0) usage_error("--max-tokens must be a number of tokens, 0 for none");
    if (o->batch_offline) o->batch = 1;
    if (o->batch && o->max_tokens > 0) usage_error("--max-tokens: not with --batch (a batch's tokens are known only when it ends)");
    o->plan.seed = (uint64_t)o->seed;
    o->plan.max_entities = o->max_entities;
    o->plan.max_pairs = o->max_pairs;
    o->api = (ApiConfig){.model = o->model, .temperature = o->temperature,
                         .max_completion_tokens = o->max_completion_tokens, .json_mode = o->json_mode};
}

static void load_prompt(Prompt *p, const char *dir, const char *name, const char *const *allowed) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (prompt_load(p, path, allowed) != 0) die("%s", scpt_error());
}

static void load_prompts(Run *r, const char *dir) {
    static const char *const ent[] = {"title", "author", "year", "document", NULL};
    static const char *const pair[] = {"title", "author", "year", "document", "entity1", "entity2", NULL};
    static const char *const triple[] = {"title", "author", "year", "document", "entity1", "entity2", "entity3", NULL};
    static const char *const reph[] = {"title", "author", "year", "chunk", NULL};
    if (!r->o->rephrase) {
        load_prompt(&r->entities_prompt, dir, "entities.txt", ent);
        load_prompt(&r->pair_prompt, dir, "pair.txt", pair);
        load_prompt(&r->triple_prompt, dir, "triple.txt", triple);
        return;
    }
    char **paths = NULL;
    int n = 0;
    if (r->o->styles) {
        char *list = xstrdup(r->o->styles), *save = NULL;
        for (char *s = strtok_r(list, ",", &save); s; s = strtok_r(NULL, ",", &save)) {
            if (n == MAX_STYLES) usage_error("--styles: at most %d styles", MAX_STYLES);
            r->style_names[n++] = xstrdup(s);
        }
        free(list);
    } else {
        char pattern[4200];
        snprintf(pattern, sizeof pattern, "%s/rephrase_*.txt", dir);
        int found = glob_paths(pattern, &paths);
        for (int i = 0; i < found && n < MAX_STYLES; i++) {
            char *base = strrchr(paths[i], '/') + 1;
            r->style_names[n] = xstrdup(base + strlen("rephrase_"));
            r->style_names[n++][strlen(base) - strlen("rephrase_") - 4] = '\0';
        }
        free_paths(paths, found);
    }
    if (n == 0) die("%s: no rephrase_<style>.txt prompts", dir);
    for (int i = 0; i < n; i++) {
        char name[256];
        snprintf(name, sizeof name, "rephrase_%s.txt", r->style_names[i]);
        load_prompt(&r->style_prompts[i], dir, name, reph);
    }
    r->n_styles = n;
}

static char *read_text_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) die("%s: cannot open", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *s = xmalloc((size_t)n + 1);
    if (read_exact(f, s, (size_t)n, path) != 0) die("%s", scpt_error());
    s[n] = '\0';
    fclose(f);
    return s;
}

static void run_free(Run *r) {
    for (int d = 0; d < r->corpus.n_docs; d++) plan_free(&r->plans[d]);
    free(r->plans);
    free(r->ids);
    sched_free(&r->sched);
    strset_free(&r->done);
    prompt_free(&r->entities_prompt), prompt_free(&r->pair_prompt), prompt_free(&r->triple_prompt);
    for (int i = 0; i < r->n_styles; i++) prompt_free(&r->style_prompts[i]), free(r->style_names[i]);
    corpus_free(&r->corpus);
    cost_free(&r->cost);
}

int main(int argc, char **argv) {
    Options o;
    parse_args(&o, argc, argv);
    // the server before any file is touched: a usage error leaves no empty output behind.
    // A key is needed by OpenAI's API only; local servers (llama-server, vLLM) take none.
    const char *base = getenv("OPENAI_BASE_URL");
    const char *key = getenv("OPENAI_API_KEY");
    if (!base || !base[0]) base = "https://api.openai.com/v1";
    if (!o.batch_offline && strstr(base, "api.openai.com") && (!key || !key[0]))
        usage_error("OPENAI_API_KEY is not set (%s needs one; a local server at OPENAI_BASE_URL does not)", base);
    char url[4200];
    snprintf(url, sizeof url, "%.*s/chat/completions", (int)(strlen(base) - (base[strlen(base) - 1] == '/')), base);
    Run r = {.o = &o};
    char *prompts_dir = o.prompts ? xstrdup(o.prompts) : default_prompts_dir();
    load_prompts(&r, prompts_dir);
    char *schema = NULL;
    if (!o.rephrase && o.json_mode == 2) {
        char path[4200];
        snprintf(path, sizeof path, "%s/entities.schema.json", prompts_dir);
        schema = read_text_file(o.schema_path ? o.schema_path : path);
        cJSON *check = cJSON_Parse(schema);
        if (!cJSON_IsObject(check)) die("%s: not a JSON object", o.schema_path ? o.schema_path : path);
        cJSON_Delete(check);
        o.api.entity_schema = schema;
    }
    if (corpus_load(&r.corpus, o.corpus) != 0) die("%s", scpt_error());
    if (o.plan_only || o.price_input >= 0 || o.prices_path) cost_init(&r.cost, o.plan_vocab, o.max_completion_tokens);
    r.prices = (Prices){o.price_input, o.price_output, -1, -1};
    if (o.prices_path) prices_load(&r.prices, o.prices_path, o.model);
    prices_finish(&r.prices);
    r.plans = xcalloc((size_t)r.corpus.n_docs, sizeof *r.plans);
    r.ids = sorted_ids(&r.corpus);
    sched_init(&r.sched, r.plans, r.corpus.n_docs);
    if (o.rephrase)
        for (int d = 0; d < r.corpus.n_docs; d++)
            plan_rephrase(&r.plans[d], r.corpus.docs[d].text, o.chunk_words, r.n_styles);

    if (o.plan_only) {   // reads the output without opening it for writing
        if (access(o.output, F_OK) == 0 && journal_scan(o.output, on_old_record, &r) != 0) die("%s", scpt_error());
        plan_cost(&r);
        printf("entigraph --plan: %d documents, %s, model %s; %ld records already in %s; prompt tokens counted with %s\n",
               r.corpus.n_docs, o.rephrase ? "Rephrase" : "EntiGraph", o.model, r.resumed_records, o.output, o.plan_vocab);
        cost_print(&r.cost, &r.prices, stdout);
        run_free(&r);
        free(schema);
        free(prompts_dir);
        return 0;
    }
    if (journal_open(&r.out, o.output, on_old_record, &r) != 0) die("%s", scpt_error());
    if (r.out.torn_bytes) fprintf(stderr, "entigraph: %s: cut a torn last line of %ld bytes\n", o.output, r.out.torn_bytes);
    if (r.duplicate_records) fprintf(stderr, "entigraph: %s: %ld repeated records (counted once)\n", o.output, r.duplicate_records);
    char failures_path[4200];
    snprintf(failures_path, sizeof failures_path, "%s.failures.jsonl", o.output);
    if (journal_open(&r.failed, o.failures ? o.failures : failures_path, NULL, NULL) != 0) die("%s", scpt_error());
    for (int d = 0; d < r.corpus.n_docs; d++) sched_add(&r.sched, d);
    r.planned_usd = -1;
    if (r.cost.tok && r.prices.input >= 0 && !o.quiet) plan_cost(&r);


    HttpConfig hc = {.url = url, .api_key = key, .concurrency = o.concurrency, .max_retries = o.max_retries,
                     .timeout_s = o.timeout_s, .connect_timeout_s = o.connect_timeout_s,
                     .backoff_s = o.backoff_s, .max_backoff_s = o.max_backoff_s,
                     .max_retry_after_s = o.max_retry_after_s, .seed = o.plan.seed,
                     .on_response = on_response, .on_failure = on_failure, .on_abandon = on_abandon, .ctx = &r};
    HttpPool *pool = http_pool_new(&hc);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGPIPE, SIG_IGN);

    fprintf(stderr, "entigraph: %d documents, %s at %s, model %s, %d in flight%s\n", r.corpus.n_docs,
            o.rephrase ? "Rephrase" : "EntiGraph", o.batch_offline ? "request files (offline)" : o.batch ? base : url, o.model,
            o.batch ? 0 : o.concurrency,
            r.resumed_records ? ", resuming" : "");
    double t0 = wall_time(), last_progress = t0;
    int fatal = 0;
    BatchStats bs = {0};
    int waiting = 0;   // --batch-offline: request files wait for their runner
    if (o.batch) {
        BatchConfig bc = {.base_url = base, .api_key = key, .output = o.output, .model = o.model, .offline = o.batch_offline,
                          .max_requests = o.batch_max_requests,
                          .max_bytes = 200ll << 20, .max_retries = o.max_retries, .poll_s = o.batch_poll_s,
                          .max_poll_s = o.batch_max_poll_s, .backoff_s = o.backoff_s, .max_backoff_s = o.max_backoff_s,
                          .timeout_s = o.timeout_s, .ctx = &r, .next = batch_next, .body = batch_body,
                          .on_response = on_response, .on_failure = on_failure, .on_abandon = on_abandon};
        int rc = batch_run(&bc, &interrupted, &bs);
        waiting = rc == 1;
        fatal = rc < 0 || r.write_failed;
    }
    for (; !o.batch;) {
        int budget_left = o.max_tokens <= 0 || r.resumed_tokens + r.generated_tokens < o.max_tokens;
        WorkItem it;
        while (!interrupted && !r.write_failed && budget_left && http_pool_room(pool) > 0 && next_item(&r, &it)) {
            Pending *pd = xmalloc(sizeof *pd);
            pd->item = it;
            pd->key = item_key(&r.corpus, r.plans, &it, (const char *const *)r.style_names);
            size_t len;
            char *body = request_for(&r, &it, &len);
            http_submit(pool, body, len, pd);
        }
        if (http_pool_active(pool) == 0) break;
        if (http_pool_step(pool, 0.25) != 0) {
            fatal = 1;
            break;
        }
        if (journal_sync(&r.out) != 0 || journal_sync(&r.failed) != 0) {
            fprintf(stderr, "entigraph: %s\n", scpt_error());
            r.write_failed = 1;
        }
        double now = wall_time();
        if (!o.quiet && now - last_progress >= (isatty(2) ? 0.25 : o.progress_s)) {
            progress(&r, pool, t0, 0);
            last_progress = now;
        }
    }
    journal_sync(&r.out);
    journal_sync(&r.failed);
    if (!o.quiet) progress(&r, pool, t0, 1);
    if (fatal) fprintf(stderr, "entigraph: stopped: %s\n", scpt_error());
    if (interrupted) fprintf(stderr, "entigraph: interrupted; a rerun resumes\n");
    if (o.max_tokens > 0 && r.resumed_tokens + r.generated_tokens >= o.max_tokens)
        fprintf(stderr, "entigraph: token budget of %lld reached\n", o.max_tokens);
    summary(&r, pool, wall_time() - t0);
    if (o.batch)
        fprintf(stderr, "  Batch API: %ld batches created, %ld calls; %ld items written, %ld sent again, %ld failed\n",
                bs.batches_created, bs.api_calls, bs.written, bs.retried, bs.failed);

    http_pool_free(pool);
    journal_close(&r.out);
    journal_close(&r.failed);
    run_free(&r);
    free(schema);
    free(prompts_dir);
    if (fatal || r.write_failed) return 1;
    if (interrupted) return 130;
    if (waiting) return 4;
    return r.failures ? 3 : 0;   // 2 is args.h's bad flags
}
