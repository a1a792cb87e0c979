// Dense retrieval through a server: chunk and query embeddings from /embeddings
// (OpenAI's form, which llama-server --embeddings and vLLM serve), cosine top-k,
// optionally reranked by /rerank (llama-server --reranking, vLLM: {"query",
// "documents"} -> {"results": [{"index", "relevance_score"}]}).
//
// The chunk embeddings are cached in <cache_dir>/emb_<key>.bin, the key a hash of the
// model name and every chunk's text. The file also holds the embedding of a fixed
// probe text; a cache is used only when the server embeds the probe the same way
// now (cosine >= 0.999), so a different model behind the same name re-embeds.
// Layout: "SCPTEMB1", u32 n_chunks, u32 dim, f32 probe[dim], f32 vectors[n][dim]
// (little-endian, unit length).
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval_gen.h"
#include "util.h"

static const char probe_text[] = "The lighthouse keeper wrote the weather in a red ledger every morning.";

static void endpoint(char *url, size_t cap, const char *base, const char *path) {
    size_t n = strlen(base) - (base[0] && base[strlen(base) - 1] == '/');
    snprintf(url, cap, "%.*s/%s", (int)n, base, path);
}

uint64_t dense_chunks_key(const char *model, const char *const *chunks, int n_chunks) {
    uint64_t h = 1469598103934665603ull;
    for (int i = -1; i < n_chunks; i++)
        for (const unsigned char *p = (const unsigned char *)(i < 0 ? model : chunks[i]);; p++) {
            h = (h ^ *p) * 1099511628211ull;   // FNV-1a, the NUL included as a separator
            if (!*p) break;
        }
    return h;
}

// ---- /embeddings ----------------------------------------------------------------------
typedef struct {
    int dim;             // 0 until the first answer
    float *out;          // row i*batch + j from the answer to request i; allocated by the first answer
    int batch, n_texts;
} EmbedCtx;

static int parse_embeddings(void *ctx, int req, const char *body, size_t len, char *reason, size_t cap) {
    EmbedCtx *e = ctx;
    cJSON *root = cJSON_ParseWithLength(body, len);
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(root, "data"), *item;
    int first = req * e->batch, want = e->n_texts - first < e->batch ? e->n_texts - first : e->batch, got = 0;
    const char *bad = !cJSON_IsArray(data) ? "no \"data\" list" : NULL;
    const cJSON *items = bad ? NULL : data;
    cJSON_ArrayForEach(item, items) {
        const cJSON *idx = cJSON_GetObjectItemCaseSensitive(item, "index");
        const cJSON *vec = cJSON_GetObjectItemCaseSensitive(item, "embedding"), *x;
        int i = cJSON_IsNumber(idx) ? (int)idx->valuedouble : got, d = cJSON_GetArraySize(vec);
        if (!cJSON_IsArray(vec) || d < 1) bad = "an item has no \"embedding\" list";
        else if (e->dim && d != e->dim) bad = "embeddings of different lengths";
        else if (i < 0 || i >= want) bad = "an \"index\" out of range";
        if (bad) break;
        e->dim = d;
        if (!e->out) e->out = xmalloc((size_t)e->n_texts * (size_t)d * sizeof(float));   // the first answer
        float *row = e->out + (size_t)(first + i) * (size_t)d;
        double norm = 0;
        int k = 0;
        cJSON_ArrayForEach(x, vec) {
            double v = cJSON_IsNumber(x) ? x->valuedouble : NAN;
            norm += v * v;
            row[k] = (float)v;
            k++;
        }
        if (!isfinite(norm) || norm == 0) {
            bad = "an embedding is zero or not finite";
            break;
        }
        for (k = 0; k < d; k++) row[k] = (float)(row[k] / sqrt(norm));
        got++;
    }
    if (!bad && got != want) bad = "fewer embeddings than inputs";
    if (bad) snprintf(reason, cap, "embeddings response: %s (%zu bytes)", bad, len);
    cJSON_Delete(root);
    return bad ? -1 : 0;
}

// embeds texts in requests of cfg->batch; *vectors (malloc'd, unit rows) and *dim
static int embed(const DenseConfig *cfg, const char *const *texts, int n, float **vectors, int *dim) {
    char url[4200];
    endpoint(url, sizeof url, cfg->embed_url, "embeddings");
    int n_req = (n + cfg->batch - 1) / cfg->batch;
    char **bodies = xcalloc((size_t)n_req, sizeof *bodies);
    for (int r = 0; r < n_req; r++) {
        cJSON *req = cJSON_CreateObject();
        cJSON_AddStringToObject(req, "model", cfg->embed_model);
        cJSON *in = cJSON_AddArrayToObject(req, "input");
        for (int i = r * cfg->batch; i < n && i < (r + 1) * cfg->batch; i++)
            cJSON_AddItemToArray(in, cJSON_CreateString(texts[i]));
        bodies[r] = cJSON_PrintUnformatted(req);
        cJSON_Delete(req);
    }
    EmbedCtx e = {.batch = cfg->batch, .n_texts = n};
    int rc = oai_batch(url, cfg->api_key, bodies, n_req, cfg->concurrency, cfg->timeout_s, cfg->retries, cfg->backoff_s,
                       parse_embeddings, &e);
    for (int r = 0; r < n_req; r++) free(bodies[r]);
    free(bodies);
    if (rc != 0) {
        free(e.out);
        return scpt_set_error("%s: %s", url, scpt_error()), -1;
    }
    *vectors = e.out;
    *dim = e.dim;
    return 0;
}

static double dot(const float *a, const float *b, int d) {
    double s = 0;
    for (int i = 0; i < d; i++) s += (double)a[i] * b[i];
    return s;
}

static void cache_path(char *path, size_t cap, const DenseConfig *cfg, const char *const *chunks, int n) {
    snprintf(path, cap, "%s/emb_%016llx.bin", cfg->cache_dir,
             (unsigned long long)dense_chunks_key(cfg->embed_model, chunks, n));
}

// the cached vectors when the file matches n chunks and the probe; 0 when used
static int read_cache(DenseIndex *ix, const char *path, int n, const float *probe, int dim) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    char magic[8];
    uint32_t hdr[2];
    float *p = xmalloc((size_t)dim * sizeof *p), *v = NULL;
    int ok = fread(magic, 8, 1, f) == 1 && !memcmp(magic, "SCPTEMB1", 8) && fread(hdr, sizeof hdr, 1, f) == 1 &&
             hdr[0] == (uint32_t)n && hdr[1] == (uint32_t)dim && fread(p, sizeof *p, (size_t)dim, f) == (size_t)dim &&
             dot(p, probe, dim) >= 0.999;
    if (ok) {
        v = xmalloc((size_t)n * (size_t)dim * sizeof *v);
        ok = fread(v, sizeof *v, (size_t)n * (size_t)dim, f) == (size_t)n * (size_t)dim;
    }
    fclose(f);
    free(p);
    if (!ok) {
        free(v);
        fprintf(stderr, "eval: %s does not match the chunks or the model: embedding again\n", path);
        return -1;
    }
    ix->vectors = v;
    ix->from_cache = 1;
    return 0;
}

static int write_cache(const DenseIndex *ix, const char *path, const float *probe) {
    AtomicFile af;
    if (atomic_open(&af, path) != 0) return -1;
    uint32_t hdr[2] = {(uint32_t)ix->n_chunks, (uint32_t)ix->dim};
    fwrite("SCPTEMB1", 8, 1, af.f);
    fwrite(hdr, sizeof hdr, 1, af.f);
    fwrite(probe, sizeof *probe, (size_t)ix->dim, af.f);
    fwrite(ix->vectors, sizeof(float), (size_t)ix->n_chunks * (size_t)ix->dim, af.f);
    return atomic_commit(&af);
}

int dense_index_build(DenseIndex *ix, const DenseConfig *cfg, const char *const *chunks, int n_chunks) {
    memset(ix, 0, sizeof *ix);
    ix->n_chunks = n_chunks;
    const char *probe_in[] = {probe_text};
    float *probe;
    if (embed(cfg, probe_in, 1, &probe, &ix->dim) != 0) return -1;
    if (make_dirs(cfg->cache_dir) != 0) {
        free(probe);
        return -1;
    }
    char path[4200];
    cache_path(path, sizeof path, cfg, chunks, n_chunks);
    int rc = 0;
    if (read_cache(ix, path, n_chunks, probe, ix->dim) != 0) {
        int dim;
        rc = embed(cfg, chunks, n_chunks, &ix->vectors, &dim);
        if (rc == 0 && dim != ix->dim)
            scpt_set_error("%s: chunk embeddings have %d dimensions, the probe %d", cfg->embed_url, dim, ix->dim), rc = -1;
        if (rc == 0) rc = write_cache(ix, path, probe);
    }
    free(probe);
    if (rc == 0)
        fprintf(stderr, "retrieval: %d chunks, %d-dimensional embeddings %s %s\n", n_chunks, ix->dim,
                ix->from_cache ? "read from" : "written to", path);
    return rc;
}

void dense_index_free(DenseIndex *ix) {
    free(ix->vectors);
    memset(ix, 0, sizeof *ix);
}

// ---- /rerank -----------------------------------------------------------------------------
typedef struct {
    int *cand;           // per query: its candidates (chunk indices), `per` of them
    int *n_cand;
    int per, k;
    int *out, *n_out;
} RerankCtx;

static int parse_rerank(void *ctx, int q, const char *body, size_t len, char *reason, size_t cap) {
    RerankCtx *r = ctx;
    cJSON *root = cJSON_ParseWithLength(body, len);
    const cJSON *results = cJSON_GetObjectItemCaseSensitive(root, "results"), *it;
    int n = cJSON_GetArraySize(results), nc = r->n_cand[q];
    const char *bad = !cJSON_IsArray(results) || n < 1 ? "no \"results\" list" : NULL;
    const cJSON *items = bad ? NULL : results;
    // sort by relevance_score, best first (a short list: insertion)
    int *idx = xcalloc((size_t)(n > 0 ? n : 1), sizeof *idx), m = 0;
    double *score = xcalloc((size_t)(n > 0 ? n : 1), sizeof *score);
    cJSON_ArrayForEach(it, items) {
        const cJSON *i = cJSON_GetObjectItemCaseSensitive(it, "index");
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(it, "relevance_score");
        if (!cJSON_IsNumber(i) || i->valuedouble < 0 || i->valuedouble >= nc || !cJSON_IsNumber(s) ||
            !isfinite(s->valuedouble)) {
            bad = "a result without a valid \"index\" and \"relevance_score\"";
            break;
        }
        int j = m++;
        for (; j > 0 && score[j - 1] < s->valuedouble; j--) score[j] = score[j - 1], idx[j] = idx[j - 1];
        score[j] = s->valuedouble, idx[j] = (int)i->valuedouble;
    }
    if (!bad) {
        r->n_out[q] = m < r->k ? m : r->k;
        for (int j = 0; j < r->n_out[q]; j++) r->out[q * r->k + j] = r->cand[q * r->per + idx[j]];
    } else {
        snprintf(reason, cap, "rerank response: %s (%zu bytes)", bad, len);
    }
    free(idx), free(score);
    cJSON_Delete(root);
    return bad ? -1 : 0;
}

// the top `k` of n scores into out (indices, best first; ties to the lower index)
static int top_k(const double *s, int n, int k, int *out) {
    int m = 0;
    if (k <= 0) return 0;
    for (int i = 0; i < n; i++) {
        if (m == k && s[i] <= s[out[m - 1]]) continue;
        int j = m < k ? m++ : m - 1;
        for (; j > 0 && s[out[j - 1]] < s[i]; j--) out[j] = out[j - 1];
        out[j] = i;
    }
    return m;
}

int dense_search(const DenseIndex *ix, const DenseConfig *cfg, const char *const *chunks, const char *const *queries,
                 int n_queries, int k, int *out, int *n_out) {
    float *qv;
    int dim;
    if (embed(cfg, queries, n_queries, &qv, &dim) != 0) return -1;
    if (dim != ix->dim) {
        free(qv);
        return scpt_set_error("%s: query embeddings have %d dimensions, the chunks %d", cfg->embed_url, dim, ix->dim), -1;
    }
    int per = cfg->rerank_url ? (cfg->candidates > k ? cfg->candidates : k) : k;
    int *cand = xcalloc((size_t)n_queries * (size_t)per, sizeof *cand), *n_cand = xcalloc((size_t)n_queries, sizeof *n_cand);
    double *s = xmalloc((size_t)ix->n_chunks * sizeof *s);
    for (int q = 0; q < n_queries; q++) {
        for (int c = 0; c < ix->n_chunks; c++) s[c] = dot(qv + (size_t)q * dim, ix->vectors + (size_t)c * dim, dim);
        n_cand[q] = top_k(s, ix->n_chunks, per, cand + (size_t)q * per);
    }
    free(s);
    free(qv);
    int rc = 0;
    if (!cfg->rerank_url) {
        for (int q = 0; q < n_queries; q++) {
            n_out[q] = n_cand[q];
            memcpy(out + (size_t)q * k, cand + (size_t)q * per, (size_t)n_cand[q] * sizeof *out);
        }
    } else {
        char url[4200];
        endpoint(url, sizeof url, cfg->rerank_url, "rerank");
        char **bodies = xcalloc((size_t)n_queries, sizeof *bodies);
        for (int q = 0; q < n_queries; q++) {
            cJSON *req = cJSON_CreateObject();
            cJSON_AddStringToObject(req, "model", cfg->rerank_model);
            cJSON_AddStringToObject(req, "query", queries[q]);
            cJSON_AddNumberToObject(req, "top_n", k);
            cJSON *docs = cJSON_AddArrayToObject(req, "documents");
            for (int j = 0; j < n_cand[q]; j++) cJSON_AddItemToArray(docs, cJSON_CreateString(chunks[cand[q * per + j]]));
            bodies[q] = cJSON_PrintUnformatted(req);
            cJSON_Delete(req);
        }
        RerankCtx r = {cand, n_cand, per, k, out, n_out};
        rc = oai_batch(url, cfg->api_key, bodies, n_queries, cfg->concurrency, cfg->timeout_s, cfg->retries, cfg->backoff_s,
                       parse_rerank, &r);
        if (rc != 0) scpt_set_error("%s: %s", url, scpt_error());
        for (int q = 0; q < n_queries; q++) free(bodies[q]);
        free(bodies);
    }
    free(cand);
    free(n_cand);
    return rc;
}
