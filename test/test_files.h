// Scratch files for tests that read files: a temporary folder made at start,
// files written into it by name, and the folder removed at the end.
#ifndef SCPT_TEST_FILES_H
#define SCPT_TEST_FILES_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "util.h"

static char test_dir[] = "/tmp/scpt_test_XXXXXX";

static inline void test_dir_make(void) {
    if (!mkdtemp(test_dir)) die("mkdtemp %s failed", test_dir);
}

// writes text to test_dir/name; returns the path (a static buffer, valid until the next call)
static inline const char *test_put(const char *name, const char *text) {
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", test_dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0) die("cannot write %s", path);
    return path;
}

static inline void test_dir_remove(void) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", test_dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", test_dir);
}

#endif
