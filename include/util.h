// Small helpers shared by every part: errors, checked allocation and file I/O,
// atomic file replacement, wall-clock time.
#ifndef SCPT_UTIL_H
#define SCPT_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

// Library functions that can fail on user input return -1 and leave a message
// (naming the file and what is wrong) that scpt_error() returns. Programs print
// it and exit; tests assert on it.
void scpt_set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *scpt_error(void);

// Print "<program>: <message>" to stderr and exit(1): a failure at run time (usage
// errors exit 2: usage_error in args.h). For programs, not libraries.
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

void *xmalloc(size_t bytes);
void *xcalloc(size_t count, size_t size);
char *xstrdup(const char *s);

// Writes to a temporary file beside `path`; atomic_commit() fsyncs it and renames
// it over `path`, so readers see the old file or the new one, never a torn one.
typedef struct {
    FILE *f;
    char path[4096];
    char tmp_path[4096 + 32];
} AtomicFile;
int atomic_open(AtomicFile *af, const char *path);
int atomic_commit(AtomicFile *af);   // closes af->f; -1 on any write error
void atomic_abort(AtomicFile *af);   // closes and removes the temporary

// fread that fails with "<path>: truncated ..." instead of returning short.
int read_exact(FILE *f, void *buf, size_t bytes, const char *path);
int write_all(FILE *f, const void *buf, size_t bytes, const char *path);
// A whole file, NUL-terminated (malloc'd; its length in *size when not NULL);
// NULL with the error set.
char *read_whole_file(const char *path, size_t *size);

// Expands a shell glob (or a comma-separated list of globs) into sorted paths.
// Returns the count (0 when nothing matched); *paths is a malloc'd array.
int glob_paths(const char *pattern, char ***paths);
void free_paths(char **paths, int n);

int make_dirs(const char *path);     // mkdir -p
double wall_time(void);              // seconds, monotonic

#endif
