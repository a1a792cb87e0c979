// Replays the fuzzing corpus (test/fuzz/safetensors, test/fuzz/gguf: seeds and the
// inputs libFuzzer kept) through the readers; under make test's ASan/UBSan run any
// crash, leak or out-of-bounds read the corpus once reached fails here.
#include <dirent.h>
#include "fuzz_harness.h"
#include "test.h"

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
        *n_accepted += fn((const uint8_t *)data, size) == 0;
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

int main(void) {
    fuzz_setup();
    RUN_TEST(test_safetensors_corpus);
    RUN_TEST(test_gguf_corpus);
    fuzz_teardown();
    return test_summary();
}
