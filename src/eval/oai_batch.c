// A batch of requests on the HTTP pool, waited for: the embedding and rerank calls
// of dense retrieval, whose answers are needed before anything else can go on.
#include <stdlib.h>
#include <string.h>

#include "eval_gen.h"
#include "util.h"

typedef struct {
    BatchParseFn parse;
    void *ctx;
    int failed;
} Batch;

static Verdict on_response(void *ctx, void *user, const char *body, size_t len, char *reason, size_t cap) {
    Batch *b = ctx;
    return b->parse(b->ctx, (int)(intptr_t)user, body, len, reason, cap) == 0 ? VERDICT_OK : VERDICT_RETRY;
}

static void on_failure(void *ctx, void *user, const char *reason, int attempts) {
    Batch *b = ctx;
    if (!b->failed) scpt_set_error("request %d failed: %s", (int)(intptr_t)user, reason);
    b->failed = 1;
}

int oai_batch(const char *url, const char *api_key, char **bodies, int n, int concurrency, double timeout_s,
              int retries, double backoff_s, BatchParseFn parse, void *ctx) {
    Batch b = {parse, ctx, 0};
    HttpConfig hc = {.url = url, .api_key = api_key, .concurrency = concurrency, .max_retries = retries,
                     .timeout_s = timeout_s, .connect_timeout_s = 10, .backoff_s = backoff_s, .max_backoff_s = 30,
                     .max_retry_after_s = 60, .seed = 1, .on_response = on_response, .on_failure = on_failure,
                     .ctx = &b, .log_name = "eval"};
    HttpPool *pool = http_pool_new(&hc);
    int next = 0, rc = 0;
    while (rc == 0 && !b.failed && (next < n || http_pool_active(pool) > 0)) {
        while (next < n && http_pool_room(pool) > 0) {
            http_submit(pool, xstrdup(bodies[next]), strlen(bodies[next]), (void *)(intptr_t)next);
            next++;
        }
        rc = http_pool_step(pool, 0.5);
    }
    http_pool_free(pool);
    return rc == 0 && !b.failed ? 0 : -1;
}
