// The same work through the OpenAI Batch API (`entigraph --batch`): the items go
// into request files of at most --batch-max-requests lines and 200 MB, each is
// uploaded (/v1/files, purpose "batch"), run (/v1/batches, 24h window), polled
// with backoff and, once it ends, its output and error files are downloaded and
// merged into the output JSONL by the live path's own callbacks. What failed
// (an error line, a bad body, a line missing from an expired batch) goes into a
// new batch, until --retries rounds have passed, then into the failures file.
//
// Every step is recorded in OUTPUT.batches.jsonl before the next one starts, and
// the request files stay beside the output (OUTPUT.batch-000001.jsonl, with the
// item keys of its lines in OUTPUT.batch-000001.keys.jsonl), so a killed client
// picks its batches up where they were: a file uploaded but not yet made a batch
// is looked for among the server's batches before one is created, and a batch
// created is only ever polled again, never submitted twice.
//
// --batch-offline stops after writing the request files: a batch runner such as
// vLLM's (python -m vllm.entrypoints.openai.run_batch) answers each into
// OUTPUT.batch-NNNNNN.results.jsonl in the same output format, and a rerun
// merges those.
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "entigraph.h"
#include "util.h"

#define MAX_FILE_BYTES (200ll << 20)   // the API's limit per input file

typedef struct {
    void *user;       // NULL: the item is already in the output (a resumed batch)
    char *key;
    int attempts;     // batches it has been in
} Slot;

typedef struct {
    int no;
    char *file_id, *batch_id;
    int state;        // 0 prepared, 1 uploaded, 2 created, 3 done
    Slot *slots;
    int n;
    double next_poll, wait;
} Batch;

typedef struct {
    const BatchConfig *cfg;
    Journal log;
    Batch *batches;
    int n_batches, last_no;
    Slot *retry;      // items for the next new batch
    int n_retry, cap_retry;
    char *base;       // the server URL without a trailing '/'
    struct curl_slist *auth;
    BatchStats stats;
} Batcher;

// ---- HTTP -------------------------------------------------------------------------------

typedef struct {
    char *data;
    size_t len;
} Body;

static size_t on_body(char *data, size_t size, size_t n, void *arg) {
    Body *b = arg;
    b->data = realloc(b->data, b->len + size * n + 1);
    if (!b->data) die("out of memory reading a Batch API reply");
    memcpy(b->data + b->len, data, size * n);
    b->len += size * n;
    b->data[b->len] = '\0';
    return size * n;
}

// One Batch API call, retried with backoff on transport errors, 408/409/429 and
// 5xx. A JSON body is POSTed; upload_path sends that file as multipart form data
// with purpose "batch"; neither is a GET. 0 with the 2xx reply in *out, or -1
// with the error set.
static int api_call(Batcher *b, const char *path, const char *json, const char *upload_path, Body *out) {
    char url[4400], err[CURL_ERROR_SIZE];
    snprintf(url, sizeof url, "%s%s", b->base, path);
    double wait = b->cfg->backoff_s;
    for (int attempt = 0;; attempt++) {
        CURL *e = curl_easy_init();
        if (!e) die("libcurl: cannot create a handle");
        struct curl_slist *h = NULL;
        for (struct curl_slist *a = b->auth; a; a = a->next) h = curl_slist_append(h, a->data);
        curl_mime *mime = NULL;
        if (json) {
            h = curl_slist_append(h, "Content-Type: application/json");
            curl_easy_setopt(e, CURLOPT_POSTFIELDS, json);
        } else if (upload_path) {
            mime = curl_mime_init(e);
            curl_mimepart *part = curl_mime_addpart(mime);
            curl_mime_name(part, "purpose");
            curl_mime_data(part, "batch", CURL_ZERO_TERMINATED);
            part = curl_mime_addpart(mime);
            curl_mime_name(part, "file");
            curl_mime_filedata(part, upload_path);
            curl_easy_setopt(e, CURLOPT_MIMEPOST, mime);
        }
        Body body = {0};
        err[0] = '\0';
        curl_easy_setopt(e, CURLOPT_URL, url);
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, &body);
        curl_easy_setopt(e, CURLOPT_ERRORBUFFER, err);
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(b->cfg->timeout_s * 1000));
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        CURLcode rc = curl_easy_perform(e);
        long status = 0;
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_cleanup(e);
        curl_mime_free(mime);
        curl_slist_free_all(h);
        b->stats.api_calls++;
        if (rc == CURLE_OK && status >= 200 && status < 300) {
            *out = body;
            return 0;
        }
        int again = rc != CURLE_OK || status == 408 || status == 409 || status == 429 || status >= 500;
        char why[600];
        if (rc != CURLE_OK) snprintf(why, sizeof why, "%s", err[0] ? err : curl_easy_strerror(rc));
        else snprintf(why, sizeof why, "HTTP %ld: %.300s", status, body.data ? body.data : "");
        free(body.data);
        redact_secret(why, b->cfg->api_key);
        if (!again || attempt >= b->cfg->max_retries) {
            scpt_set_error("%s %s: %s", json || upload_path ? "POST" : "GET", path, why);
            return -1;
        }
        fprintf(stderr, "entigraph: %s: %s; retrying in %.1f s\n", path, why, wait);
        usleep((useconds_t)(wait * 1e6));
        wait = wait * 2 < b->cfg->max_backoff_s ? wait * 2 : b->cfg->max_backoff_s;
    }
}

// a string field of a JSON reply, malloc'd; NULL with the error set when absent
static char *reply_field(const Body *body, const char *field, const char *what) {
    cJSON *root = cJSON_ParseWithLength(body->data ? body->data : "", body->len);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, field);
    char *s = cJSON_IsString(v) ? xstrdup(v->valuestring) : NULL;
    if (!s) scpt_set_error("%s: the reply has no \"%s\": %.200s", what, field, body->data ? body->data : "");
    cJSON_Delete(root);
    return s;
}

// The tests' kill -9 at a chosen moment: SCPT_TEST_BATCH_KILL=upload (after the
// file is uploaded), create-unrecorded (the batch created, the journal not yet
// told), create (after it is recorded), download (after its results are merged,
// before that is recorded); once per output.
static void test_kill(Batcher *b, const char *moment) {
    const char *when = getenv("SCPT_TEST_BATCH_KILL");
    if (!when || strcmp(when, moment) != 0) return;
    char flag[4200];
    snprintf(flag, sizeof flag, "%s.killed-%s", b->cfg->output, moment);
    if (access(flag, F_OK) == 0) return;
    FILE *f = fopen(flag, "w");
    if (f) fclose(f);
    journal_sync(&b->log);
    raise(SIGKILL);
}

// ---- the journal of batches --------------------------------------------------------------

static void log_event(Batcher *b, const Batch *bt, const char *event, const char *name, const char *value) {
    cJSON *rec = cJSON_CreateObject();
    cJSON_AddNumberToObject(rec, "batch", bt->no);
    cJSON_AddStringToObject(rec, "event", event);
    if (name) cJSON_AddStringToObject(rec, name, value);
    char *s = cJSON_PrintUnformatted(rec);
    cJSON_Delete(rec);
    size_t n = strlen(s);
    s = realloc(s, n + 2);
    if (!s) die("out of memory");
    s[n] = '\n', s[n + 1] = '\0';
    if (journal_append(&b->log, s, n + 1) != 0 || journal_sync(&b->log) != 0) die("%s", scpt_error());
    free(s);
}

static Batch *batch_no(Batcher *b, int no) {
    for (int i = 0; i < b->n_batches; i++)
        if (b->batches[i].no == no) return &b->batches[i];
    b->batches = realloc(b->batches, (size_t)(b->n_batches + 1) * sizeof *b->batches);
    if (!b->batches) die("out of memory");
    Batch *bt = &b->batches[b->n_batches++];
    *bt = (Batch){.no = no};
    if (no > b->last_no) b->last_no = no;
    return bt;
}

static void on_log_record(void *ctx, const char *line, size_t len, long lineno) {
    Batcher *b = ctx;
    cJSON *rec = cJSON_ParseWithLength(line, len);
    const cJSON *no = cJSON_GetObjectItemCaseSensitive(rec, "batch");
    const cJSON *ev = cJSON_GetObjectItemCaseSensitive(rec, "event");
    if (!cJSON_IsNumber(no) || !cJSON_IsString(ev)) die("%s:%ld: not a batch journal record", b->log.path ? b->log.path : "batches", lineno);
    Batch *bt = batch_no(b, no->valueint);
    const cJSON *v;
    if (!strcmp(ev->valuestring, "uploaded") && cJSON_IsString(v = cJSON_GetObjectItemCaseSensitive(rec, "file_id")))
        bt->file_id = xstrdup(v->valuestring), bt->state = 1;
    else if (!strcmp(ev->valuestring, "created") && cJSON_IsString(v = cJSON_GetObjectItemCaseSensitive(rec, "batch_id")))
        bt->batch_id = xstrdup(v->valuestring), bt->state = 2;
    else if (!strcmp(ev->valuestring, "done"))
        bt->state = 3;
    cJSON_Delete(rec);
}

static void file_name(const Batcher *b, int no, const char *suffix, char *out, size_t cap) {
    snprintf(out, cap, "%s.batch-%06d%s", b->cfg->output, no, suffix);
}

// a resumed batch's keys, from its keys file
static void load_keys(Batcher *b, Batch *bt) {
    char path[4200];
    file_name(b, bt->no, ".keys.jsonl", path, sizeof path);
    FILE *f = fopen(path, "rb");
    if (!f) die("%s: cannot open the keys of batch %d (recorded in the batch journal)", path, bt->no);
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        cJSON *rec = cJSON_Parse(line);
        const cJSON *k = cJSON_GetObjectItemCaseSensitive(rec, "key");
        if (!cJSON_IsString(k)) die("%s: a line without \"key\"", path);
        bt->slots = realloc(bt->slots, (size_t)(bt->n + 1) * sizeof *bt->slots);
        if (!bt->slots) die("out of memory");
        bt->slots[bt->n++] = (Slot){NULL, xstrdup(k->valuestring), 1};
        cJSON_Delete(rec);
    }
    free(line);
    fclose(f);
}

// ---- making batches ----------------------------------------------------------------------

static void add_retry(Batcher *b, Slot s) {
    if (b->n_retry == b->cap_retry) {
        b->cap_retry = b->cap_retry ? 2 * b->cap_retry : 256;
        b->retry = realloc(b->retry, (size_t)b->cap_retry * sizeof *b->retry);
        if (!b->retry) die("out of memory");
    }
    b->retry[b->n_retry++] = s;
}

// Writes the request file and its keys (each atomically), then records the batch.
static void prepare(Batcher *b, Slot *slots, int n) {
    Batch *bt = batch_no(b, b->last_no + 1);
    bt->slots = xmalloc((size_t)n * sizeof *slots);
    memcpy(bt->slots, slots, (size_t)n * sizeof *slots);
    bt->n = n;
    char path[4200], keys_path[4200];
    file_name(b, bt->no, ".jsonl", path, sizeof path);
    file_name(b, bt->no, ".keys.jsonl", keys_path, sizeof keys_path);
    AtomicFile req, keys;
    if (atomic_open(&req, path) != 0 || atomic_open(&keys, keys_path) != 0) die("%s", scpt_error());
    for (int i = 0; i < n; i++) {
        size_t len;
        char *body = b->cfg->body(b->cfg->ctx, slots[i].user, &len);
        fprintf(req.f, "{\"custom_id\":\"b%d-%d\",\"method\":\"POST\",\"url\":\"/v1/chat/completions\",\"body\":%s}\n",
                bt->no, i, body);
        free(body);
        cJSON *k = cJSON_CreateObject();
        char cid[32];
        snprintf(cid, sizeof cid, "b%d-%d", bt->no, i);
        cJSON_AddStringToObject(k, "custom_id", cid);
        cJSON_AddStringToObject(k, "key", slots[i].key);
        char *s = cJSON_PrintUnformatted(k);
        fprintf(keys.f, "%s\n", s);
        free(s);
        cJSON_Delete(k);
    }
    if (atomic_commit(&keys) != 0 || atomic_commit(&req) != 0) die("%s", scpt_error());
    log_event(b, bt, "prepared", NULL, NULL);
    fprintf(stderr, "entigraph: batch %d: %d requests in %s\n", bt->no, n, path);
}

// New batches from the items waiting: within the request and byte limits.
static void make_batches(Batcher *b) {
    int start = 0;
    long long bytes = 0;
    for (int i = 0; i <= b->n_retry; i++) {
        size_t len = 0;
        if (i < b->n_retry) {
            char *body = b->cfg->body(b->cfg->ctx, b->retry[i].user, &len);
            free(body);
            len += 100;   // the line around the body
        }
        if (i == b->n_retry || i - start == b->cfg->max_requests || bytes + (long long)len > b->cfg->max_bytes) {
            if (i > start) prepare(b, b->retry + start, i - start);
            start = i;
            bytes = 0;
        }
        bytes += (long long)len;
    }
    b->n_retry = 0;
}

// the batch made from an uploaded file, when a killed client created it already
static char *find_batch_of_file(Batcher *b, const char *file_id) {
    Body body = {0};
    if (api_call(b, "/batches?limit=100", NULL, NULL, &body) != 0) return NULL;
    cJSON *root = cJSON_ParseWithLength(body.data, body.len);
    const cJSON *item, *data = cJSON_GetObjectItemCaseSensitive(root, "data");
    char *id = NULL;
    cJSON_ArrayForEach(item, data) {
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(item, "input_file_id");
        const cJSON *i = cJSON_GetObjectItemCaseSensitive(item, "id");
        if (cJSON_IsString(f) && cJSON_IsString(i) && !strcmp(f->valuestring, file_id)) id = xstrdup(i->valuestring);
    }
    cJSON_Delete(root);
    free(body.data);
    return id;
}

// Moves a batch on from prepared or uploaded to created. -1 on an API error.
static int submit(Batcher *b, Batch *bt) {
    Body body = {0};
    if (bt->state == 0) {
        char path[4200];
        file_name(b, bt->no, ".jsonl", path, sizeof path);
        if (api_call(b, "/files", NULL, path, &body) != 0) return -1;
        bt->file_id = reply_field(&body, "id", "/files");
        free(body.data);
        if (!bt->file_id) return -1;
        log_event(b, bt, "uploaded", "file_id", bt->file_id);
        bt->state = 1;
        test_kill(b, "upload");
    }
    if (bt->state == 1) {
        bt->batch_id = find_batch_of_file(b, bt->file_id);
        if (!bt->batch_id) {
            char json[512];
            snprintf(json, sizeof json, "{\"input_file_id\":\"%s\",\"endpoint\":\"/v1/chat/completions\",\"completion_window\":\"24h\"}",
                     bt->file_id);
            if (api_call(b, "/batches", json, NULL, &body) != 0) return -1;
            bt->batch_id = reply_field(&body, "id", "/batches");
            free(body.data);
            if (!bt->batch_id) return -1;
            b->stats.batches_created++;
            test_kill(b, "create-unrecorded");
        }
        log_event(b, bt, "created", "batch_id", bt->batch_id);
        bt->state = 2;
        fprintf(stderr, "entigraph: batch %d: %s (file %s)\n", bt->no, bt->batch_id, bt->file_id);
        test_kill(b, "create");
    }
    bt->wait = b->cfg->poll_s;
    bt->next_poll = wall_time() + bt->wait;
    return 0;
}

// ---- results -----------------------------------------------------------------------------

static int slot_of(const Batch *bt, const char *custom_id) {
    int no, i;
    char tail;
    if (sscanf(custom_id, "b%d-%d%c", &no, &i, &tail) != 2 || no != bt->no || i < 0 || i >= bt->n) return -1;
    return i;
}

// one line of an output or error file; the slot's user is then done with, or retried
static int merge_line(Batcher *b, Batch *bt, const char *line, size_t len, char *got) {
    cJSON *rec = cJSON_ParseWithLength(line, len);
    const cJSON *cid = cJSON_GetObjectItemCaseSensitive(rec, "custom_id");
    int i = cJSON_IsString(cid) ? slot_of(bt, cid->valuestring) : -1;
    if (i < 0 || got[i]) {
        cJSON_Delete(rec);
        return 0;   // not ours, or a line repeated
    }
    got[i] = 1;
    Slot *s = &bt->slots[i];
    const cJSON *resp = cJSON_GetObjectItemCaseSensitive(rec, "response");
    const cJSON *status = cJSON_GetObjectItemCaseSensitive(resp, "status_code");
    const cJSON *body = cJSON_GetObjectItemCaseSensitive(resp, "body");
    char reason[512] = "";
    Verdict v = VERDICT_RETRY;
    if (cJSON_IsNumber(status) && status->valueint == 200 && cJSON_IsObject(body)) {
        char *text = cJSON_PrintUnformatted(body);
        if (s->user) v = b->cfg->on_response(b->cfg->ctx, s->user, text, strlen(text), reason, sizeof reason);
        else v = VERDICT_OK;
        free(text);
    } else {
        const cJSON *err = cJSON_GetObjectItemCaseSensitive(rec, "error");
        const cJSON *msg = cJSON_GetObjectItemCaseSensitive(err, "message");
        if (!cJSON_IsString(msg)) msg = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(body, "error"), "message");
        snprintf(reason, sizeof reason, "batch %d: %s%.300s", bt->no,
                 cJSON_IsNumber(status) ? "HTTP error: " : "", cJSON_IsString(msg) ? msg->valuestring : "error line");
    }
    cJSON_Delete(rec);
    if (v == VERDICT_FATAL) {   // the callback is done with the user
        s->user = NULL;
        return -1;
    }
    if (v == VERDICT_OK) {
        if (s->user) b->stats.written++;
        s->user = NULL;
    } else if (s->user) {
        if (s->attempts > b->cfg->max_retries) {
            b->cfg->on_failure(b->cfg->ctx, s->user, reason, s->attempts);
            b->stats.failed++;
        } else {
            add_retry(b, (Slot){s->user, s->key, s->attempts + 1});
            s->key = NULL;
            b->stats.retried++;
        }
        s->user = NULL;
    }
    return 0;
}

// the lines of an output or error file's text
static int merge_text(Batcher *b, Batch *bt, char *text, char *got) {
    int rc = 0;
    for (char *p = text; p && *p && rc == 0;) {
        char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        if (n) rc = merge_line(b, bt, p, n, got);
        p = nl ? nl + 1 : p + n;
    }
    return rc;
}

static int merge_file(Batcher *b, Batch *bt, const char *file_id, char *got) {
    char path[512];
    snprintf(path, sizeof path, "/files/%s/content", file_id);
    Body body = {0};
    if (api_call(b, path, NULL, NULL, &body) != 0) return -1;
    int rc = merge_text(b, bt, body.data, got);
    free(body.data);
    return rc;
}

// After its result lines are merged (got[i] for each line seen): the lines the
// batch never answered (an expired or failed batch) are tried again, and the
// batch is recorded done.
static int finish_batch(Batcher *b, Batch *bt, const char *status, char *got) {
    int rc = 0;
    test_kill(b, "download");
    for (int i = 0; i < bt->n && rc == 0; i++) {
        if (got[i]) continue;
        char line[400];
        snprintf(line, sizeof line, "{\"custom_id\":\"b%d-%d\",\"error\":{\"message\":\"no result: the batch ended %s\"}}",
                 bt->no, i, status);
        rc = merge_line(b, bt, line, strlen(line), got);
    }
    if (rc == 0) {
        log_event(b, bt, "done", "status", status);
        bt->state = 3;
        fprintf(stderr, "entigraph: batch %d %s\n", bt->no, status);
    }
    return rc;
}

// Polls a batch; once it has ended, merges its files. -1 on an API or write error.
static int poll(Batcher *b, Batch *bt) {
    char path[512];
    snprintf(path, sizeof path, "/batches/%s", bt->batch_id);
    Body body = {0};
    if (api_call(b, path, NULL, NULL, &body) != 0) return -1;
    char *status = reply_field(&body, "status", path);
    if (!status) {
        free(body.data);
        return -1;
    }
    int ended = !strcmp(status, "completed") || !strcmp(status, "expired") || !strcmp(status, "failed") ||
                !strcmp(status, "cancelled");
    int rc = 0;
    if (!ended) {
        bt->wait = bt->wait * 2 < b->cfg->max_poll_s ? bt->wait * 2 : b->cfg->max_poll_s;
        bt->next_poll = wall_time() + bt->wait;
    } else {
        cJSON *root = cJSON_ParseWithLength(body.data, body.len);
        const cJSON *out = cJSON_GetObjectItemCaseSensitive(root, "output_file_id");
        const cJSON *err = cJSON_GetObjectItemCaseSensitive(root, "error_file_id");
        char *got = xcalloc((size_t)bt->n + 1, 1);
        if (cJSON_IsString(out)) rc = merge_file(b, bt, out->valuestring, got);
        if (rc == 0 && cJSON_IsString(err)) rc = merge_file(b, bt, err->valuestring, got);
        cJSON_Delete(root);
        if (rc == 0) rc = finish_batch(b, bt, status, got);
        free(got);
    }
    free(status);
    free(body.data);
    return rc;
}

// --batch-offline: a prepared batch whose results file a batch runner (vLLM's
// run_batch) has written is merged; 1 when it is still waiting for the runner.
static int merge_offline(Batcher *b, Batch *bt) {
    char req[4200], res[4200];
    file_name(b, bt->no, ".jsonl", req, sizeof req);
    file_name(b, bt->no, ".results.jsonl", res, sizeof res);
    if (access(res, F_OK) != 0) {
        fprintf(stderr, "entigraph: batch %d waits for its results: python -m vllm.entrypoints.openai.run_batch -i %s -o %s --model %s\n",
                bt->no, req, res, b->cfg->model);
        return 1;
    }
    char *text = read_whole_file(res, NULL);
    if (!text) return -1;
    char *got = xcalloc((size_t)bt->n + 1, 1);
    int rc = merge_text(b, bt, text, got);
    if (rc == 0) rc = finish_batch(b, bt, "completed", got);
    free(got);
    free(text);
    return rc;
}

// ---- the run -----------------------------------------------------------------------------

typedef struct {
    const char *key;
    Slot *slot;
} KeySlot;

static int by_key(const void *a, const void *b) { return strcmp(((const KeySlot *)a)->key, ((const KeySlot *)b)->key); }

int batch_run(const BatchConfig *cfg, volatile sig_atomic_t *interrupted, BatchStats *stats) {
    Batcher b = {.cfg = cfg};
    char path[4200];
    snprintf(path, sizeof path, "%s.batches.jsonl", cfg->output);
    if (journal_open(&b.log, path, on_log_record, &b) != 0) return -1;
    size_t n = strlen(cfg->base_url);
    b.base = xstrdup(cfg->base_url);
    if (n && b.base[n - 1] == '/') b.base[n - 1] = '\0';
    if (cfg->api_key && cfg->api_key[0]) {
        char *auth = xmalloc(strlen(cfg->api_key) + 32);
        sprintf(auth, "Authorization: Bearer %s", cfg->api_key);
        b.auth = curl_slist_append(NULL, auth);
        free(auth);
    }

    // resumed batches: their items are matched to the plan's by key
    KeySlot *index = NULL;
    size_t n_index = 0;
    for (int i = 0; i < b.n_batches; i++) {
        if (b.batches[i].state == 3) continue;
        load_keys(&b, &b.batches[i]);
        index = realloc(index, (n_index + (size_t)b.batches[i].n + 1) * sizeof *index);
        if (!index) die("out of memory");
        for (int k = 0; k < b.batches[i].n; k++) index[n_index++] = (KeySlot){b.batches[i].slots[k].key, &b.batches[i].slots[k]};
        fprintf(stderr, "entigraph: batch %d resumed (%s)\n", b.batches[i].no,
                b.batches[i].state == 2 ? b.batches[i].batch_id : b.batches[i].state == 1 ? "uploaded" : "prepared");
    }
    if (n_index) qsort(index, n_index, sizeof *index, by_key);

    int rc = 0;
    while (!*interrupted && rc == 0) {
        void *user;
        char *key;
        while (cfg->next(cfg->ctx, &user, &key)) {
            KeySlot probe = {key, NULL};
            KeySlot *hit = n_index ? bsearch(&probe, index, n_index, sizeof *index, by_key) : NULL;
            if (hit && !hit->slot->user) {
                hit->slot->user = user;   // it is in a batch already: never sent twice
                free(key);
            } else {
                add_retry(&b, (Slot){user, key, 1});
            }
        }
        if (b.n_retry) make_batches(&b);
        int open = 0, waiting = 0, merged = 0;
        double due = 1e300;
        for (int i = 0; i < b.n_batches && rc == 0; i++) {
            Batch *bt = &b.batches[i];
            if (cfg->offline && bt->state == 0) {
                int w = merge_offline(&b, bt);
                if (w < 0) rc = -1;
                waiting += w > 0;
                merged += w == 0;
                continue;
            }
            if (bt->state < 2) rc = submit(&b, bt);
            if (rc == 0 && bt->state == 2) {
                open++;
                if (bt->next_poll < due) due = bt->next_poll;
            }
        }
        if (rc != 0) break;
        if (merged) continue;   // results in: their follow-up items (and retries) go out next
        if (waiting && !open) {
            rc = 1;   // the rest is up to the batch runner
            break;
        }
        if (!open) break;
        double now = wall_time();
        if (due > now) usleep((useconds_t)((due - now) * 1e6));
        for (int i = 0; i < b.n_batches && rc == 0 && !*interrupted; i++)
            if (b.batches[i].state == 2 && b.batches[i].next_poll <= wall_time()) rc = poll(&b, &b.batches[i]);
    }
    // items not yet merged go back (their batches stay in the journal for a rerun)
    for (int i = 0; i < b.n_batches; i++) {
        for (int k = 0; k < b.batches[i].n; k++) {
            if (b.batches[i].slots[k].user) cfg->on_abandon(cfg->ctx, b.batches[i].slots[k].user);
            free(b.batches[i].slots[k].key);
        }
        free(b.batches[i].slots);
        free(b.batches[i].file_id);
        free(b.batches[i].batch_id);
    }
    for (int i = 0; i < b.n_retry; i++) cfg->on_abandon(cfg->ctx, b.retry[i].user), free(b.retry[i].key);
    *stats = b.stats;
    free(b.retry);
    free(b.batches);
    free(index);
    free(b.base);
    curl_slist_free_all(b.auth);
    journal_close(&b.log);
    return rc;
}
