// The mixing data loader: mix ratio, windows never crossing sources or shards,
// full epochs under shuffle, rank striding, exact resume, clear errors.
#include <stdint.h>
#include "loader.h"
#include "test.h"

static char dir[] = "/tmp/scpt_test_loader_XXXXXX";
enum { T = 16, VOCAB = 200 };

// Shard k of a stream holds tokens (base + k*37 + i) % 100 + base: consecutive
// tokens step by one, so a window that crosses a shard end breaks the pattern.
static void write_stream(const char *name, int base, int shards) {
    for (int k = 0; k < shards; k++) {
        int n = 500 + 213 * k;
        int32_t *tok = malloc(n * sizeof *tok);
        for (int i = 0; i < n; i++) tok[i] = base + (k * 37 + i) % 100;
        char path[256];
        snprintf(path, sizeof path, "%s/%s_%02d.bin", dir, name, k);
        ShardWriter w;
        CHECK(shard_writer_open(&w, path, VOCAB, 0, "test", 0) == 0 && shard_writer_append(&w, tok, NULL, n) == 0 &&
                  shard_writer_close(&w) == 0, "%s", scpt_error());
        free(tok);
    }
}

static LoaderOptions options(float replay_frac, int B, int rank, int world) {
    static char train[300], replay[300];
    snprintf(train, sizeof train, "%s/train_*.bin", dir);
    snprintf(replay, sizeof replay, "%s/replay_*.bin", dir);
    return (LoaderOptions){.train_glob = train, .replay_glob = replay, .replay_frac = replay_frac, .B = B,
                           .T = T, .rank = rank, .world = world, .seed = 1337, .shuffle = 1, .vocab_size = VOCAB};
}

// checks one row: every token from the stream `source` claims, consecutive, target = next input
static int row_ok(const int *in, const int *tg, int source) {
    int base = source == STREAM_REPLAY ? 100 : 0;
    for (int t = 0; t < T; t++) {
        if (in[t] < base || in[t] >= base + 100 || tg[t] < base || tg[t] >= base + 100) return 0;
        if (tg[t] - base != (in[t] - base + 1) % 100) return 0;
        if (t + 1 < T && in[t + 1] != tg[t]) return 0;
    }
    return 1;
}

static void test_mix_ratio_and_windows(void) {
    float fracs[] = {0.05f, 0.3f, 0.5f, 0.9f};
    for (int f = 0; f < 4; f++) {
        DataLoader l;
        LoaderOptions o = options(fracs[f], 8, 0, 1);
        CHECK(loader_open(&l, &o) == 0, "%s", scpt_error());
        int in[8 * T], tg[8 * T], src[8], replay = 0, bad_rows = 0;
        for (int step = 0; step < 1250; step++) {   // 10k windows
            loader_next(&l, in, tg, src);
            for (int b = 0; b < 8; b++) {
                replay += src[b] == STREAM_REPLAY;
                bad_rows += !row_ok(in + b * T, tg + b * T, src[b]);
            }
        }
        double got = replay / 10000.0;
        CHECK(fabs(got - fracs[f]) <= 0.01, "replay fraction %.4f for requested %.2f", got, fracs[f]);
        CHECK(bad_rows == 0, "%d windows cross a source or shard boundary", bad_rows);
        loader_close(&l);
    }
}

// one epoch of a stream, shuffled, holds exactly the windows of the unshuffled order
static uint64_t window_key(const int *in, const int *tg) { return (uint64_t)in[0] << 32 | (uint64_t)tg[T - 1]; }
static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}
static void test_epoch_is_a_permutation(void) {
    uint64_t *keys[2];
    int64_t n = 0;
    int moved = 0;
    for (int shuffle = 0; shuffle < 2; shuffle++) {
        DataLoader l;
        LoaderOptions o = options(0, 1, 0, 1);
        o.shuffle = shuffle;
        CHECK(loader_open(&l, &o) == 0, "%s", scpt_error());
        n = loader_windows(&l, STREAM_TRAIN);
        keys[shuffle] = malloc(n * sizeof(uint64_t));
        int in[T], tg[T];
        for (int64_t i = 0; i < n; i++) {
            loader_next(&l, in, tg, NULL);
            keys[shuffle][i] = window_key(in, tg);
        }
        loader_close(&l);
    }
    for (int64_t i = 0; i < n; i++) moved += keys[0][i] != keys[1][i];
    CHECK(moved > n / 2, "shuffle moved only %d of %lld windows", moved, (long long)n);
    qsort(keys[0], n, sizeof(uint64_t), cmp_u64);
    qsort(keys[1], n, sizeof(uint64_t), cmp_u64);
    CHECK(memcmp(keys[0], keys[1], n * sizeof(uint64_t)) == 0, "a shuffled epoch is not the same windows");
    free(keys[0]);
    free(keys[1]);
}

// 2 ranks x B rows, side by side, are exactly 1 rank x 2B rows
static void test_ranks_partition_the_batch(void) {
    DataLoader one, r0, r1;
    LoaderOptions o1 = options(0.4f, 8, 0, 1), o_r0 = options(0.4f, 4, 0, 2), o_r1 = options(0.4f, 4, 1, 2);
    CHECK(loader_open(&one, &o1) == 0 && loader_open(&r0, &o_r0) == 0 && loader_open(&r1, &o_r1) == 0, "%s",
          scpt_error());
    int in[8 * T], tg[8 * T], in0[4 * T], tg0[4 * T], in1[4 * T], tg1[4 * T], diff = 0;
    for (int step = 0; step < 300; step++) {
        loader_next(&one, in, tg, NULL);
        loader_next(&r0, in0, tg0, NULL);
        loader_next(&r1, in1, tg1, NULL);
        diff += memcmp(in, in0, sizeof in0) != 0 || memcmp(in + 4 * T, in1, sizeof in1) != 0;
        diff += memcmp(tg, tg0, sizeof tg0) != 0 || memcmp(tg + 4 * T, tg1, sizeof tg1) != 0;
        diff += memcmp(in0, in1, sizeof in0) == 0;   // ranks must not see the same rows
    }
    CHECK(diff == 0, "%d steps where the ranks' rows differ from the single-rank batch", diff);
    loader_close(&one);
    loader_close(&r0);
    loader_close(&r1);
}

static void test_resume_continues_the_order(void) {
    DataLoader a, b;
    LoaderOptions o = options(0.3f, 4, 0, 1);
    CHECK(loader_open(&a, &o) == 0 && loader_open(&b, &o) == 0, "%s", scpt_error());
    int in[4 * T], tg[4 * T], in2[4 * T], tg2[4 * T], diff = 0;
    for (int i = 0; i < 777; i++) loader_next(&a, in, tg, NULL);   // past an epoch of the train stream
    loader_restore(&b, loader_state(&a));
    for (int i = 0; i < 200; i++) {
        loader_next(&a, in, tg, NULL);
        loader_next(&b, in2, tg2, NULL);
        diff += memcmp(in, in2, sizeof in) != 0 || memcmp(tg, tg2, sizeof tg) != 0;
    }
    CHECK(diff == 0, "%d batches differ after restoring the state", diff);
    loader_close(&a);
    loader_close(&b);
}

// loader_masked says whether any shard of either stream carries a loss mask: train
// then counts every step's targets over the ranks, else it knows the count
static void test_masked(void) {
    DataLoader l;
    LoaderOptions o = options(0.3f, 4, 0, 1);
    CHECK(loader_open(&l, &o) == 0, "%s", scpt_error());
    CHECK(loader_masked(&l) == 0, "shards without a mask reported masked");
    loader_close(&l);
    int32_t tok[300];
    uint8_t mask[300];
    for (int i = 0; i < 300; i++) tok[i] = 100 + i % 100, mask[i] = i % 3 != 0;
    char path[256], glob[300];
    snprintf(path, sizeof path, "%s/masked_00.bin", dir);
    ShardWriter w;
    CHECK(shard_writer_open(&w, path, VOCAB, 0, "test", 1) == 0 && shard_writer_append(&w, tok, mask, 300) == 0 &&
              shard_writer_close(&w) == 0, "%s", scpt_error());
    snprintf(glob, sizeof glob, "%s/masked_*.bin", dir);
    o.replay_glob = glob;
    CHECK(loader_open(&l, &o) == 0, "%s", scpt_error());
    CHECK(loader_masked(&l) == 1, "a masked replay shard not reported");
    loader_close(&l);
}

static void test_errors(void) {
    DataLoader l;
    LoaderOptions o = options(0, 4, 0, 1);
    o.train_glob = "/nonexistent/x_*.bin";
    CHECK(loader_open(&l, &o) == -1 && strstr(scpt_error(), "/nonexistent/x_*.bin"), "%s", scpt_error());
    o = options(0.5f, 4, 0, 1);
    o.replay_glob = NULL;
    CHECK(loader_open(&l, &o) == -1 && strstr(scpt_error(), "--replay"), "%s", scpt_error());
    o = options(0, 4, 0, 1);
    o.vocab_size = 50;   // the train shards record a vocabulary of 200
    CHECK(loader_open(&l, &o) == -1 && strstr(scpt_error(), "train_00.bin") &&
              strstr(scpt_error(), "model's vocabulary is 50"),
          "%s", scpt_error());
    o = options(0, 4, 0, 1);
    o.T = 5000;   // longer than every shard
    CHECK(loader_open(&l, &o) == -1 && strstr(scpt_error(), "no shard holds a window"), "%s", scpt_error());
}

int main(void) {
    if (!mkdtemp(dir)) return 1;
    write_stream("train", 0, 3);
    write_stream("replay", 100, 2);
    RUN_TEST(test_mix_ratio_and_windows);
    RUN_TEST(test_epoch_is_a_permutation);
    RUN_TEST(test_ranks_partition_the_batch);
    RUN_TEST(test_resume_continues_the_order);
    RUN_TEST(test_masked);
    RUN_TEST(test_errors);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) return 1;
    return test_summary();
}
