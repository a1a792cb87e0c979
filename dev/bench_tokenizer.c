// Encoding throughput of the tokenizer on a JSONL corpus (one document per
// record's "text"): MB/s on one thread and on N threads, best of a few passes.
//   build/dev/bench_tokenizer VOCAB CORPUS.jsonl [THREADS]
// Prints one JSON line: {"vocab":..., "bytes":..., "tokens":..., "mbps_1":..., "mbps_n":..., "threads":N}
//   build/dev/bench_tokenizer --read FILE
// Reading alone (plain, .gz or .zst): decoded MB/s of the byte stream, and of the
// JSONL documents read from it, best of a few passes:
//   {"codec":..., "bytes":..., "decode_mbps":..., "docs_mbps":...}
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "../src/data/decompress.h"
#include "tokenize_input.h"
#include "tokenizer.h"
#include "util.h"

#define PASSES 3

typedef struct {
    const Tokenizer *t;
    ByteBuf *docs;
    int n, first, step;
    size_t tokens;
} Share;

static void *encode_share(void *arg) {
    Share *s = arg;
    TokenIds ids = {0};
    s->tokens = 0;
    for (int i = s->first; i < s->n; i += s->step) {
        ids.len = 0;
        if (tokenizer_encode(s->t, s->docs[i].data, s->docs[i].len, &ids) != 0) die("%s", scpt_error());
        s->tokens += ids.len;
    }
    token_ids_free(&ids);
    return NULL;
}

// best wall time of PASSES passes over all documents with `threads` threads
static double timed(const Tokenizer *t, ByteBuf *docs, int n, int threads, size_t *tokens) {
    double best = 1e30;
    Share *shares = xcalloc(threads, sizeof *shares);
    pthread_t *th = xmalloc(threads * sizeof *th);
    for (int pass = 0; pass < PASSES; pass++) {
        double t0 = wall_time();
        for (int k = 0; k < threads; k++) {
            shares[k] = (Share){t, docs, n, k, threads, 0};
            pthread_create(&th[k], NULL, encode_share, &shares[k]);
        }
        *tokens = 0;
        for (int k = 0; k < threads; k++) {
            pthread_join(th[k], NULL);
            *tokens += shares[k].tokens;
        }
        double dt = wall_time() - t0;
        if (dt < best) best = dt;
    }
    free(shares);
    free(th);
    return best;
}

// decoded bytes of the file, through the stream alone or through the JSONL reader
static size_t read_all(const char *path, int docs, const char **codec) {
    size_t bytes = 0;
    if (docs) {
        DocReader r;
        ByteBuf doc = {0};
        int starts, rc;
        if (doc_reader_open(&r, path, DOCS_JSONL, "text") != 0) die("%s", scpt_error());
        while ((rc = doc_reader_next(&r, &doc, &starts)) == 1) bytes += doc.len;
        if (rc < 0) die("%s", scpt_error());
        doc_reader_close(&r);
        byte_buf_free(&doc);
        return bytes;
    }
    InStream *s = in_stream_open(path);
    if (!s) die("%s", scpt_error());
    char *buf = xmalloc(1 << 20);
    long got;
    while ((got = in_stream_read(s, buf, 1 << 20)) > 0) bytes += got;
    if (got < 0) die("%s", scpt_error());
    *codec = in_stream_codec(s);
    free(buf);
    in_stream_close(s);
    return bytes;
}

static int bench_read(const char *path) {
    const char *codec = "";
    double best[2] = {1e30, 1e30};
    size_t bytes = 0;
    for (int docs = 0; docs < 2; docs++)
        for (int pass = 0; pass < PASSES; pass++) {
            double t0 = wall_time();
            size_t n = read_all(path, docs, &codec);
            double dt = wall_time() - t0;
            if (!docs) bytes = n;
            if (dt < best[docs]) best[docs] = dt;
        }
    printf("{\"codec\": \"%s\", \"bytes\": %zu, \"decode_mbps\": %.1f, \"docs_mbps\": %.1f}\n", codec, bytes,
           bytes / best[0] / 1e6, bytes / best[1] / 1e6);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "--read") == 0) return bench_read(argv[2]);
    if (argc < 3) die("usage: bench_tokenizer VOCAB CORPUS.jsonl [THREADS]");
    int threads = argc > 3 ? atoi(argv[3]) : (int)sysconf(_SC_NPROCESSORS_ONLN);
    double t0 = wall_time();
    Tokenizer *t = tokenizer_open(argv[1]);
    if (!t) die("%s", scpt_error());
    double load = wall_time() - t0;
    DocReader r;
    if (doc_reader_open(&r, argv[2], DOCS_JSONL, "text") != 0) die("%s", scpt_error());
    ByteBuf *docs = NULL;
    int n = 0, starts, rc;
    size_t bytes = 0;
    for (;;) {
        docs = realloc(docs, (n + 1) * sizeof *docs);
        memset(&docs[n], 0, sizeof *docs);
        if ((rc = doc_reader_next(&r, &docs[n], &starts)) != 1) break;
        bytes += docs[n++].len;
    }
    if (rc < 0) die("%s", scpt_error());
    doc_reader_close(&r);
    size_t tokens;
    double one = timed(t, docs, n, 1, &tokens), all = timed(t, docs, n, threads, &tokens);
    printf("{\"vocab\": \"%s\", \"load_s\": %.3f, \"bytes\": %zu, \"tokens\": %zu, \"mbps_1\": %.2f, \"mbps_n\": %.2f, "
           "\"threads\": %d}\n", argv[1], load, bytes, tokens, bytes / one / 1e6, bytes / all / 1e6, threads);
    for (int i = 0; i <= n; i++) byte_buf_free(&docs[i]);
    free(docs);
    tokenizer_free(t);
    return 0;
}
