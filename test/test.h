// Minimal test harness. A test is a void function; CHECK records a failure and
// goes on; RUN_TEST prints one "[pass] name" line per test; test_summary() prints
// the program's "tally: pass=N fail=N skip=N" line that test/run_tests.sh adds up.
// Neither looks like a test runner's closing line: CI reads only the "overall:"
// line that `make test` ends with.
#ifndef SCPT_TEST_H
#define SCPT_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util.h"

static int tests_passed, tests_failed, tests_skipped, test_had_failure, test_skipping;
// when set (e.g. from a program's first argument), RUN_TEST runs only the tests whose
// name contains it; a filter that selects nothing fails
static const char *test_filter;
static int tests_selected;

#define CHECK(cond, ...)                                                     \
    do {                                                                     \
        if (!(cond)) {                                                       \
            test_had_failure = 1;                                            \
            fprintf(stderr, "  FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                    \
            fputc('\n', stderr);                                             \
        }                                                                    \
    } while (0)

// |a - b| <= tol, with the values in the message
#define CHECK_NEAR(a, b, tol, what)                                                   \
    CHECK(fabs((double)(a) - (double)(b)) <= (tol), "%s: %.9g vs %.9g (tol %.3g)", \
          (what), (double)(a), (double)(b), (double)(tol))

// Marks the running test as skipped, with the reason printed.
#define SKIP_TEST(...)                     \
    do {                                   \
        test_skipping = 1;                 \
        printf("  skipped: ");             \
        printf(__VA_ARGS__);               \
        printf("\n");                      \
        return;                            \
    } while (0)

#define RUN_TEST(fn)                                              \
    do {                                                          \
        if (test_filter && !strstr(#fn, test_filter)) break;      \
        tests_selected++;                                         \
        test_had_failure = 0;                                     \
        test_skipping = 0;                                        \
        fn();                                                     \
        if (test_had_failure) tests_failed++;                     \
        else if (test_skipping) tests_skipped++;                  \
        else tests_passed++;                                      \
        printf("[%s] %s\n", test_had_failure ? "FAIL" : test_skipping ? "skip" : "pass", #fn); \
        fflush(stdout);                                           \
    } while (0)

// the program's closing line; returns its exit status
static inline int test_tally(int passed, int failed, int skipped) {
    printf("tally: pass=%d fail=%d skip=%d\n", passed, failed, skipped);
    return failed ? 1 : 0;
}

static inline int test_summary(void) {
    if (test_filter && tests_selected == 0) {
        fprintf(stderr, "  FAIL: no test name contains '%s'\n", test_filter);
        tests_failed++;
    }
    return test_tally(tests_passed, tests_failed, tests_skipped);
}

// A GPU test program that finds no usable CUDA device: one SKIP line, or under
// SCPT_REQUIRE_GPU=1 (make test-gpu, dev/gpu_check.sh) a failure naming the CUDA
// error, so a run where the driver and runtime disagree cannot pass by skipping.
// Returns the exit status.
static inline int test_no_gpu(const char *why) {
    const char *require = getenv("SCPT_REQUIRE_GPU");
    if (require && strcmp(require, "1") == 0) {
        printf("[FAIL] no CUDA device (%s), and SCPT_REQUIRE_GPU=1 requires one\n", why);
        return test_tally(0, 1, 0);
    }
    printf("SKIP: no CUDA device (%s)\n", why);
    return test_tally(0, 0, 1);
}

#endif
