// N POST requests in flight on one libcurl multi handle. A job that fails in a
// way that may pass (timeouts, dropped connections, truncated bodies, 408/409/429,
// 5xx, a body the caller rejects) waits with exponential backoff and jitter, or
// for as long as the server's Retry-After says, and is sent again; after
// max_retries it is reported failed. A 429 also holds back every other start
// until its Retry-After has passed. 401/403/404 stop the run: they will not pass,
// and so does a refused connection before the server has ever answered.
#define _GNU_SOURCE
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "entigraph.h"
#include "rng.h"
#include "util.h"

#define MAX_BODY (64u << 20)   // a chat completion is far smaller; more is a broken server
#define SNIPPET_BYTES 200      // of a response body quoted in a message

struct HttpJob {
    void *user;
    char *body;
    size_t body_len;
    int attempts;
    int slot;                // running: index in the pool's running list
    double due;              // waiting jobs: earliest start
    CURL *easy;
    char *resp;
    size_t resp_len, resp_cap;
    int too_big;
    char curl_error[CURL_ERROR_SIZE];
};

struct HttpPool {
    HttpConfig cfg;
    CURLM *multi;
    struct curl_slist *headers;
    HttpJob **waiting, **running;   // running[j->slot] == j
    int n_waiting, n_running;
    CURL **spare;            // finished easy handles, kept for their settings
    int n_spare;
    double cooldown_until;   // no start before this (after a 429)
    uint64_t rng;
    HttpStats stats;
    double last_log;
    long quiet_logs;
    int fatal;
    int answered;            // some request got an HTTP answer: the server exists
};

size_t redact_secret_bytes(char *s, size_t len, const char *secret) {
    size_t n = secret ? strlen(secret) : 0;
    if (n < 4) return len;   // short "keys" such as "x" would garble the message
    for (char *p = memmem(s, len, secret, n); p; p = memmem(p + 3, len - (size_t)(p + 3 - s), secret, n)) {
        memcpy(p, "***", 3);
        memmove(p + 3, p + n, len - (size_t)(p + n - s));
        len -= n - 3;
    }
    return len;
}

void redact_secret(char *s, const char *secret) { s[redact_secret_bytes(s, strlen(s), secret)] = '\0'; }

void http_error_snippet(const char *body, size_t len, const char *secret, char *out, size_t cap) {
    // redacted before it is cut: a key straddling the cut would leave its first half
    size_t take = SNIPPET_BYTES + (secret ? strlen(secret) : 0);
    if (take > len) take = len;
    char *copy = xmalloc(take + 1);
    memcpy(copy, body, take);
    size_t n = redact_secret_bytes(copy, take, secret);
    if (n > SNIPPET_BYTES) n = SNIPPET_BYTES;
    if (n >= cap) n = cap - 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)copy[i];
        out[i] = c < 32 ? ' ' : (char)c;
    }
    out[n] = '\0';
    free(copy);
}

static int curl_ready;

HttpPool *http_pool_new(const HttpConfig *cfg) {
    if (!curl_ready) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) die("libcurl initialisation failed");
        curl_ready = 1;
    }
    HttpPool *p = xcalloc(1, sizeof *p);
    p->cfg = *cfg;
    p->multi = curl_multi_init();
    if (!p->multi) die("libcurl: cannot create a multi handle");
    curl_multi_setopt(p->multi, CURLMOPT_MAXCONNECTS, (long)cfg->concurrency + 4);
    p->headers = curl_slist_append(NULL, "Content-Type: application/json");
    p->headers = curl_slist_append(p->headers, "Expect:");   // no 100-continue round trip
    if (cfg->api_key && cfg->api_key[0]) {
        size_t n = strlen(cfg->api_key) + 32;
        char *auth = xmalloc(n);
        snprintf(auth, n, "Authorization: Bearer %s", cfg->api_key);
        p->headers = curl_slist_append(p->headers, auth);
        memset(auth, 0, n);
        free(auth);
    }
    p->waiting = xcalloc((size_t)cfg->concurrency, sizeof *p->waiting);
    p->running = xcalloc((size_t)cfg->concurrency, sizeof *p->running);
    p->spare = xcalloc((size_t)cfg->concurrency, sizeof *p->spare);
    p->rng = cfg->seed ^ 0x5eed;
    return p;
}

static void finish(HttpJob *j) {
    free(j->body);
    free(j->resp);
    free(j);
}

// the user of a job still open when the pool goes (after a fatal error) goes back to the caller
static void abandon(HttpPool *p, HttpJob *j) {
    if (j->easy) {
        curl_multi_remove_handle(p->multi, j->easy);
        curl_easy_cleanup(j->easy);
    }
    if (p->cfg.on_abandon) p->cfg.on_abandon(p->cfg.ctx, j->user);
    finish(j);
}

void http_pool_free(HttpPool *p) {
    if (!p) return;
    for (int i = 0; i < p->n_running; i++) abandon(p, p->running[i]);
    for (int i = 0; i < p->n_waiting; i++) abandon(p, p->waiting[i]);
    for (int i = 0; i < p->n_spare; i++) curl_easy_cleanup(p->spare[i]);
    curl_multi_cleanup(p->multi);
    curl_slist_free_all(p->headers);
    free(p->waiting);
    free(p->running);
    free(p->spare);
    free(p);
}

int http_pool_room(const HttpPool *p) {
    return p->fatal ? 0 : p->cfg.concurrency - p->n_running - p->n_waiting;
}
int http_pool_active(const HttpPool *p) { return p->n_running + p->n_waiting; }
HttpStats http_pool_stats(const HttpPool *p) { return p->stats; }

void http_submit(HttpPool *p, char *body, size_t len, void *user) {
    HttpJob *j = xcalloc(1, sizeof *j);
    j->user = user;
    j->body = body;
    j->body_len = len;
    j->due = 0;
    p->waiting[p->n_waiting++] = j;
}

static size_t on_data(char *data, size_t size, size_t n, void *arg) {
    HttpJob *j = arg;
    size_t bytes = size * n;
    if (j->resp_len + bytes > MAX_BODY) {
        j->too_big = 1;
        return 0;   // aborts the transfer
    }
    if (j->resp_len + bytes + 1 > j->resp_cap) {
        j->resp_cap = (j->resp_len + bytes + 1) * 2;
        j->resp = realloc(j->resp, j->resp_cap);
        if (!j->resp) die("out of memory receiving a response");
    }
    memcpy(j->resp + j->resp_len, data, bytes);
    j->resp_len += bytes;
    j->resp[j->resp_len] = '\0';
    return bytes;
}

static void start(HttpPool *p, HttpJob *j) {
    CURL *e = p->n_spare ? p->spare[--p->n_spare] : curl_easy_init();
    if (!e) die("libcurl: cannot create a handle");
    j->easy = e;
    j->resp_len = 0;
    j->too_big = 0;
    j->curl_error[0] = '\0';
    j->attempts++;
    curl_easy_setopt(e, CURLOPT_URL, p->cfg.url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, p->headers);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, j->body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)j->body_len);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, j);
    curl_easy_setopt(e, CURLOPT_PRIVATE, j);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, j->curl_error);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(p->cfg.timeout_s * 1000));
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)(p->cfg.connect_timeout_s * 1000));
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    curl_multi_add_handle(p->multi, e);
    j->slot = p->n_running;
    p->running[p->n_running++] = j;
    p->stats.requests++;
}

// exponential backoff with jitter: half the step fixed, half uniform
static double backoff(HttpPool *p, int attempts) {
    double d = p->cfg.backoff_s;
    for (int i = 1; i < attempts && d < p->cfg.max_backoff_s; i++) d *= 2;
    if (d > p->cfg.max_backoff_s) d = p->cfg.max_backoff_s;
    return d / 2 + d / 2 * rng_uniform(&p->rng);
}

static void log_line(HttpPool *p, const char *fmt, const char *reason, int attempt, double delay) {
    double now = wall_time();
    if (now - p->last_log < 1.0) {   // at most a line a second, the rest counted
        p->quiet_logs++;
        return;
    }
    if (isatty(2)) fprintf(stderr, "\r\033[K");   // over the progress bar
    fprintf(stderr, fmt, p->cfg.log_name ? p->cfg.log_name : "entigraph", attempt, p->cfg.max_retries + 1, delay, reason);
    if (p->quiet_logs) fprintf(stderr, " (+%ld more since the last line)", p->quiet_logs);
    fputc('\n', stderr);
    p->last_log = now;
    p->quiet_logs = 0;
}

// after a failed attempt: wait and retry, or give up
static void retry_or_fail(HttpPool *p, HttpJob *j, const char *reason, double wait_s) {
    if (j->attempts > p->cfg.max_retries) {
        char msg[600];
        snprintf(msg, sizeof msg, "%s (after %d attempts)", reason, j->attempts);
        p->cfg.on_failure(p->cfg.ctx, j->user, msg, j->attempts);
        finish(j);
        return;
    }
    double delay = wait_s >= 0 ? wait_s : backoff(p, j->attempts);
    log_line(p, "%s: attempt %d/%d failed, retrying in %.1f s: %s", reason, j->attempts, delay);
    p->stats.retries++;
    j->due = wall_time() + delay;
    p->waiting[p->n_waiting++] = j;
}

// the Retry-After of a response in seconds (retry-after-ms first), -1 when none
static double retry_after(HttpPool *p, CURL *e) {
    struct curl_header *h;
    if (curl_easy_header(e, "retry-after-ms", 0, CURLH_HEADER, -1, &h) == CURLHE_OK) {
        char *end;
        double ms = strtod(h->value, &end);
        if (end != h->value && ms >= 0) return ms / 1000;
    }
    if (curl_easy_header(e, "retry-after", 0, CURLH_HEADER, -1, &h) == CURLHE_OK) {
        char *end;
        double s = strtod(h->value, &end);   // seconds, possibly fractional
        if (end != h->value && s >= 0) return s;
        curl_off_t secs;                      // an HTTP date: curl turns it into seconds
        if (curl_easy_getinfo(e, CURLINFO_RETRY_AFTER, &secs) == CURLE_OK && secs >= 0) return (double)secs;
    }
    return -1;
}

static void completed(HttpPool *p, CURL *e, CURLcode code) {
    HttpJob *j;
    curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&j);
    long status = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    double after = code == CURLE_OK ? retry_after(p, e) : -1;
    curl_multi_remove_handle(p->multi, e);
    p->spare[p->n_spare++] = e;
    j->easy = NULL;
    p->running[j->slot] = p->running[--p->n_running];
    p->running[j->slot]->slot = j->slot;
    char reason[512], snippet[256];
    if (code != CURLE_OK) {
        p->stats.transport_errors++;
        if (code == CURLE_OPERATION_TIMEDOUT)
            snprintf(reason, sizeof reason, "timeout (%s)", j->curl_error[0] ? j->curl_error : "no answer in time");
        else if (j->too_big)
            snprintf(reason, sizeof reason, "response larger than %u bytes", MAX_BODY);
        else
            snprintf(reason, sizeof reason, "transport: %s%s%s", curl_easy_strerror(code),
                     j->curl_error[0] ? ": " : "", j->curl_error);
        // nothing has ever answered at this address: retrying for minutes would not help
        if (!p->answered && (code == CURLE_COULDNT_CONNECT || code == CURLE_COULDNT_RESOLVE_HOST)) {
            scpt_set_error("no server answers at %s (%s); start one or set OPENAI_BASE_URL", p->cfg.url, reason);
            p->fatal = 1;
            abandon(p, j);
            return;
        }
        if (code == CURLE_URL_MALFORMAT || code == CURLE_UNSUPPORTED_PROTOCOL) {
            scpt_set_error("request to the server failed: %s", reason);
            p->fatal = 1;
            p->cfg.on_failure(p->cfg.ctx, j->user, reason, j->attempts);
            finish(j);
            return;
        }
        retry_or_fail(p, j, reason, -1);
        return;
    }
    p->answered = 1;
    if (status >= 200 && status < 300) {
        reason[0] = '\0';
        // a server that echoes the key puts it in no record and no message
        if (j->resp) j->resp[j->resp_len = redact_secret_bytes(j->resp, j->resp_len, p->cfg.api_key)] = '\0';
        Verdict v = p->cfg.on_response(p->cfg.ctx, j->user, j->resp ? j->resp : "", j->resp_len, reason,
                                       sizeof reason);
        redact_secret(reason, p->cfg.api_key);
        if (v == VERDICT_OK) {
            finish(j);
        } else if (v == VERDICT_FATAL) {
            scpt_set_error("%s", reason);
            p->fatal = 1;
            finish(j);
        } else if (v == VERDICT_RETRY) {
            retry_or_fail(p, j, reason, -1);
        } else {
            p->cfg.on_failure(p->cfg.ctx, j->user, reason, j->attempts);
            finish(j);
        }
        return;
    }
    p->stats.http_errors++;
    http_error_snippet(j->resp ? j->resp : "", j->resp_len, p->cfg.api_key, snippet, sizeof snippet);
    snprintf(reason, sizeof reason, "HTTP %ld: %s", status, snippet);
    if (status == 429) {
        p->stats.rate_limited++;
        double wait = after >= 0 ? after : backoff(p, j->attempts);
        if (wait > p->cfg.max_retry_after_s) wait = p->cfg.max_retry_after_s;
        double until = wall_time() + wait;
        if (after >= 0 && until > p->cooldown_until) p->cooldown_until = until;
        retry_or_fail(p, j, reason, wait);
    } else if (status == 408 || status == 409 || status >= 500) {
        retry_or_fail(p, j, reason, after >= 0 && after <= p->cfg.max_retry_after_s ? after : -1);
    } else if (status == 401 || status == 403 || status == 404) {
        // the key, the URL or the model is wrong: every other request would fail too
        scpt_set_error("the server refused the request: %s", reason);
        p->fatal = 1;
        p->cfg.on_failure(p->cfg.ctx, j->user, reason, j->attempts);
        finish(j);
    } else {
        p->cfg.on_failure(p->cfg.ctx, j->user, reason, j->attempts);
        finish(j);
    }
}

static int drain(HttpPool *p) {
    int left, n = 0;
    CURLMsg *m;
    while ((m = curl_multi_info_read(p->multi, &left)))
        if (m->msg == CURLMSG_DONE) {
            completed(p, m->easy_handle, m->data.result);
            n++;
        }
    return n;
}

// starts the waiting jobs that are due; returns seconds until the next one is
static double start_due(HttpPool *p) {
    double now = wall_time(), next = 1e9;
    if (p->fatal) return next;
    if (now < p->cooldown_until) return p->cooldown_until - now;
    for (int i = 0; i < p->n_waiting;) {
        HttpJob *j = p->waiting[i];
        if (j->due <= now) {
            p->waiting[i] = p->waiting[--p->n_waiting];
            start(p, j);
        } else {
            if (j->due - now < next) next = j->due - now;
            i++;
        }
    }
    return next;
}

int http_pool_step(HttpPool *p, double wait_s) {
    double next = start_due(p);
    int running;
    curl_multi_perform(p->multi, &running);
    if (drain(p) == 0) {
        double wait = next < wait_s ? next : wait_s;
        curl_multi_poll(p->multi, NULL, 0, (int)(wait * 1000) + 1, NULL);
        curl_multi_perform(p->multi, &running);
        drain(p);
    }
    if (p->fatal) return -1;
    return 0;
}
