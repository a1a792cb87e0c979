// Replays the fuzzing corpus (test/fuzz/safetensors, test/fuzz/gguf: seeds and the
// inputs libFuzzer kept) through the readers; under make test's ASan/UBSan run any
// crash, leak or out-of-bounds read the corpus once reached fails here, and so does
// an input that takes longer than MAX_SECONDS (a quadratic path on a crafted header).
#include <dirent.h>
#include "fuzz_harness.h"
#include "test.h"

// per input: the corpus files are at most 64 KiB, read in well under 10 ms; 2 s leaves
// room for the sanitizers on a loaded machine and still catches an n^2 scan
#define MAX_SECONDS 2.0

static void replay(const char *dir, int (*fn)(const uint8_t *, size_t), int *n_files, int *n_accepted) {
    DIR *d = opendir(dir);
    CHECK(d != NULL, "no corpus at %s", dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        size_t size = 0;
        char *data = read_whole_file(path, &size);
        CHECK(data != NULL, "%s", scpt_error());
        if (!data) continue;
        double t0 = wall_time();
        *n_accepted += fn((const uint8_t *)data, size) == 0;
        double took = wall_time() - t0;
        CHECK(took < MAX_SECONDS, "%s took %.2f s", path, took);
        ++*n_files;
        free(data);
    }
    closedir(d);
}

static void test_safetensors_corpus(void) {
    int n = 0, ok = 0;
    replay("test/fuzz/safetensors", fuzz_safetensors, &n, &ok);
    printf("  %d inputs, %d accepted\n", n, ok);
    CHECK(n >= 1 && ok >= 1, "the corpus must hold a valid seed (%d files, %d accepted)", n, ok);
}

static void test_gguf_corpus(void) {
    int n = 0, ok = 0;
    replay("test/fuzz/gguf", fuzz_gguf, &n, &ok);
    printf("  %d inputs, %d accepted\n", n, ok);
    CHECK(n >= 1 && ok >= 1, "the corpus must hold a valid seed (%d files, %d accepted)", n, ok);
}

// the seeds of the hostile cases are refused, each for its reason
static void expect_refused(const char *path, int (*fn)(const uint8_t *, size_t), const char *why) {
    size_t size = 0;
    char *data = read_whole_file(path, &size);
    CHECK(data != NULL, "%s", scpt_error());
    if (!data) return;
    CHECK(fn((const uint8_t *)data, size) != 0 && strstr(scpt_error(), why), "%s: %s", path, scpt_error());
    free(data);
}

static void test_hostile_seeds(void) {
    expect_refused("test/fuzz/safetensors/seed_overlap.safetensors", fuzz_safetensors, "overlap");
    expect_refused("test/fuzz/gguf/seed_kv_count.gguf", fuzz_gguf, "at most 65536");
    expect_refused("test/fuzz/gguf/seed_kv_repeat.gguf", fuzz_gguf, "duplicate key k.0");
}

int main(void) {
    fuzz_setup();
    RUN_TEST(test_safetensors_corpus);
    RUN_TEST(test_gguf_corpus);
    RUN_TEST(test_hostile_seeds);
    fuzz_teardown();
    return test_summary();
}
