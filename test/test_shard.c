// Shard format: round trip in both token widths, and corrupt files rejected
// with an error that names the file.
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include "shard.h"
#include "test.h"

static char dir[] = "/tmp/scpt_test_shard_XXXXXX";

static void path_in_dir(char *out, const char *name) { sprintf(out, "%s/%s", dir, name); }

static void write_tokens(const char *path, int vocab, const int32_t *tok, int n) {
    ShardWriter w;
    CHECK(shard_writer_open(&w, path, vocab, 0, "test", 0) == 0, "%s", scpt_error());
    CHECK(shard_writer_append(&w, tok, NULL, n) == 0, "%s", scpt_error());
    CHECK(shard_writer_close(&w) == 0, "%s", scpt_error());
}

static void test_round_trip(void) {
    int vocabs[2] = {50257, 128256};
    for (int k = 0; k < 2; k++) {
        int32_t tok[10000];
        for (int i = 0; i < 10000; i++) tok[i] = (int32_t)((i * 7919u) % vocabs[k]);
        char path[256];
        path_in_dir(path, "rt.bin");
        write_tokens(path, vocabs[k], tok, 10000);
        Shard s;
        CHECK(shard_open(&s, path, vocabs[k]) == 0, "%s", scpt_error());
        CHECK(s.num_tokens == 10000, "count %lld", (long long)s.num_tokens);
        CHECK(s.token_bytes == (vocabs[k] <= 65536 ? 2 : 4), "width %d", s.token_bytes);
        CHECK(s.vocab_size == vocabs[k] && s.eot == 0, "header vocab %d eot %d", s.vocab_size, s.eot);
        int bad = 0;
        for (int i = 0; i < 10000; i++) bad += shard_token(&s, i) != tok[i];
        CHECK(bad == 0, "%d tokens differ", bad);
        shard_close(&s);
    }
}

// Writes a valid shard, then lets `corrupt` damage it; opening must fail with a
// message naming the file and containing `expect`.
static void expect_rejected(void (*corrupt)(const char *), int max_vocab, const char *expect) {
    char path[256];
    path_in_dir(path, "bad.bin");
    int32_t tok[100];
    for (int i = 0; i < 100; i++) tok[i] = i;
    write_tokens(path, 1000, tok, 100);
    corrupt(path);
    Shard s;
    int rc = shard_open(&s, path, max_vocab);
    CHECK(rc == -1, "corrupt shard accepted");
    CHECK(strstr(scpt_error(), path) != NULL, "error does not name the file: %s", scpt_error());
    CHECK(strstr(scpt_error(), expect) != NULL, "error '%s' lacks '%s'", scpt_error(), expect);
}

static void poke_int(const char *path, long offset, int32_t value) {
    FILE *f = fopen(path, "r+b");
    fseek(f, offset, SEEK_SET);
    fwrite(&value, 4, 1, f);
    fclose(f);
}
static void bad_magic(const char *path) { poke_int(path, 0, 12345); }
static void bad_version(const char *path) { poke_int(path, 4, 9); }
static void truncate_tokens(const char *path) { CHECK(truncate(path, SHARD_HEADER_BYTES + 150) == 0, "truncate"); }
static void truncate_header(const char *path) { CHECK(truncate(path, 100) == 0, "truncate"); }
static void trailing_bytes(const char *path) {
    FILE *f = fopen(path, "ab");
    fputs("xyz", f);
    fclose(f);
}
static void no_change(const char *path) { (void)path; }
static void bad_width(const char *path) { poke_int(path, 20, 3); }
static void bad_flags(const char *path) { poke_int(path, 24, 6); }

static void test_corrupt_shards(void) {
    expect_rejected(bad_magic, 0, "bad magic");
    expect_rejected(bad_version, 0, "unsupported shard version");
    expect_rejected(truncate_tokens, 0, "truncated");
    expect_rejected(truncate_header, 0, "truncated");
    expect_rejected(trailing_bytes, 0, "bytes after");
    expect_rejected(no_change, 50, "model's vocabulary is 50");   // the shard records 1000
    expect_rejected(bad_width, 0, "token width 3");
    expect_rejected(bad_flags, 0, "unknown header flags");
}

// a version-3 shard: tokenizer and vocabulary in the header, the loss mask bit by bit
static void test_mask_round_trip(void) {
    int sizes[3] = {1, 8, 1003};   // the mask's last byte partly used, full, partly used
    for (int k = 0; k < 3; k++) {
        int n = sizes[k];
        int32_t tok[1003];
        uint8_t mask[1003];
        for (int i = 0; i < n; i++) tok[i] = i % 50257, mask[i] = (i * 7 + 3) % 5 < 2;
        char path[256];
        path_in_dir(path, "mask.bin");
        ShardWriter w;
        CHECK(shard_writer_open(&w, path, 50257, 50256, "gpt2", 1) == 0, "%s", scpt_error());
        // two appends, the second starting mid-byte
        CHECK(shard_writer_append(&w, tok, mask, n / 3) == 0 && shard_writer_append(&w, tok + n / 3, mask + n / 3, n - n / 3) == 0,
              "%s", scpt_error());
        CHECK(shard_writer_close(&w) == 0, "%s", scpt_error());
        Shard s;
        CHECK(shard_open(&s, path, 50257) == 0, "%s", scpt_error());
        CHECK(s.version == SHARD_VERSION_3 && s.mask && strcmp(s.tokenizer, "gpt2") == 0 && s.eot == 50256,
              "version %d, mask %p, tokenizer '%s', eot %d", s.version, (void *)s.mask, s.tokenizer, s.eot);
        int bad = 0;
        for (int i = 0; i < n; i++) bad += shard_trained(&s, i) != mask[i] || shard_token(&s, i) != tok[i];
        CHECK(bad == 0, "n=%d: %d tokens or mask bits differ", n, bad);
        shard_close(&s);
        CHECK(truncate(path, SHARD_HEADER_BYTES + 2 * n) == 0, "truncate");   // the mask cut off
        CHECK(shard_open(&s, path, 0) == -1 && strstr(scpt_error(), "loss mask"), "%s", scpt_error());
    }
}

// train refuses data of another tokenizer: a GPT-2 shard for a Llama 3 model
static void test_vocab_mismatch(void) {
    char path[256];
    path_in_dir(path, "gpt2.bin");
    int32_t tok[3] = {1, 2, 3};
    ShardWriter w;
    CHECK(shard_writer_open(&w, path, 50257, 50256, "gpt2", 0) == 0 && shard_writer_append(&w, tok, NULL, 3) == 0 &&
              shard_writer_close(&w) == 0, "%s", scpt_error());
    Shard s;
    CHECK(shard_open(&s, path, 128256) == -1, "a GPT-2 shard opened for a vocabulary of 128256");
    CHECK(strstr(scpt_error(), path) && strstr(scpt_error(), "gpt2") && strstr(scpt_error(), "128256"), "%s",
          scpt_error());
    CHECK(shard_open(&s, path, 50257) == 0 && !s.mask && shard_trained(&s, 2), "%s", scpt_error());
    shard_close(&s);
}

// versions 1 and 2 (earlier scpt, llm.c) still read: no mask, no tokenizer name,
// and with no vocabulary recorded the token ids are checked against the model's
static void test_old_versions(void) {
    for (int version = 1; version <= 2; version++) {
        char path[256];
        path_in_dir(path, "old.bin");
        int32_t header[SHARD_HEADER_INTS] = {SHARD_MAGIC, version, 4};
        uint32_t tok[4] = {7, 0, 60000, 3};
        FILE *f = fopen(path, "wb");
        fwrite(header, sizeof header, 1, f);
        for (int i = 0; i < 4; i++) fwrite(&tok[i], version == 1 ? 2 : 4, 1, f);   // little-endian host
        fclose(f);
        Shard s;
        CHECK(shard_open(&s, path, 65536) == 0 && s.version == version && !s.mask && s.tokenizer[0] == 0 &&
                  s.vocab_size == 0 && shard_token(&s, 2) == 60000 && shard_trained(&s, 0),
              "version %d: %s", version, scpt_error());
        shard_close(&s);
        CHECK(shard_open(&s, path, 50257) == -1 && strstr(scpt_error(), "token 60000 at position 2"), "%s",
              scpt_error());
    }
}

static void test_missing_file(void) {
    Shard s;
    CHECK(shard_open(&s, "/nonexistent/shard.bin", 0) == -1, "opened a missing file");
    CHECK(strstr(scpt_error(), "/nonexistent/shard.bin") != NULL, "%s", scpt_error());
}

static void test_writer_rejects_out_of_vocab(void) {
    char path[256];
    path_in_dir(path, "w.bin");
    ShardWriter w;
    CHECK(shard_writer_open(&w, path, 100, 0, "test", 0) == 0, "%s", scpt_error());
    int32_t tok[2] = {5, 100};
    CHECK(shard_writer_append(&w, tok, NULL, 2) == -1, "token 100 accepted for vocab 100");
    shard_writer_abort(&w);
    CHECK(access(path, F_OK) != 0, "aborted shard left a file behind");
}

int main(void) {
    if (!mkdtemp(dir)) return 1;
    RUN_TEST(test_round_trip);
    RUN_TEST(test_corrupt_shards);
    RUN_TEST(test_missing_file);
    RUN_TEST(test_writer_rejects_out_of_vocab);
    RUN_TEST(test_mask_round_trip);
    RUN_TEST(test_vocab_mismatch);
    RUN_TEST(test_old_versions);
    char cmd[300];
    sprintf(cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) return 1;
    return test_summary();
}
