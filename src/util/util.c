#define _GNU_SOURCE
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static _Thread_local char error_message[1024];

void scpt_set_error(const char *fmt, ...) {
    // formatted aside first: the arguments may include scpt_error() itself, to prefix it
    char message[sizeof error_message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    memcpy(error_message, message, sizeof message);
}

const char *scpt_error(void) { return error_message; }

void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", program_invocation_short_name);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

void *xmalloc(size_t bytes) {
    void *p = malloc(bytes ? bytes : 1);
    if (!p) die("out of memory allocating %zu bytes", bytes);
    return p;
}

void *xcalloc(size_t count, size_t size) {
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) die("out of memory allocating %zu x %zu bytes", count, size);
    return p;
}

char *xstrdup(const char *s) {
    size_t n = strlen(s) + 1;
    return memcpy(xmalloc(n), s, n);
}

int atomic_open(AtomicFile *af, const char *path) {
    if (strlen(path) >= sizeof af->path) {
        scpt_set_error("%s: path too long", path);
        return -1;
    }
    strcpy(af->path, path);
    snprintf(af->tmp_path, sizeof af->tmp_path, "%s.tmp.%ld", path, (long)getpid());
    af->f = fopen(af->tmp_path, "wb");
    if (!af->f) {
        scpt_set_error("%s: cannot create: %s", af->tmp_path, strerror(errno));
        return -1;
    }
    return 0;
}

// fsync the directory so the rename itself survives a power cut
static void fsync_parent_dir(const char *path) {
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    int fd = open(dirname(buf), O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

int atomic_commit(AtomicFile *af) {
    int bad = ferror(af->f) || fflush(af->f) != 0 || fsync(fileno(af->f)) != 0;
    bad |= fclose(af->f) != 0;
    af->f = NULL;
    if (bad) {
        scpt_set_error("%s: write failed: %s", af->tmp_path, strerror(errno));
        unlink(af->tmp_path);
        return -1;
    }
    if (rename(af->tmp_path, af->path) != 0) {
        scpt_set_error("%s: cannot rename to %s: %s", af->tmp_path, af->path, strerror(errno));
        unlink(af->tmp_path);
        return -1;
    }
    fsync_parent_dir(af->path);
    return 0;
}

void atomic_abort(AtomicFile *af) {
    if (af->f) fclose(af->f);
    af->f = NULL;
    unlink(af->tmp_path);
}

int read_exact(FILE *f, void *buf, size_t bytes, const char *path) {
    size_t got = fread(buf, 1, bytes, f);
    if (got != bytes) {
        scpt_set_error("%s: truncated: wanted %zu more bytes, got %zu", path, bytes, got);
        return -1;
    }
    return 0;
}

char *read_whole_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        scpt_set_error("%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = NULL;
    long n = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (n >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        buf = xmalloc((size_t)n + 1);
        if (read_exact(f, buf, (size_t)n, path) != 0) {
            free(buf);
            buf = NULL;
        } else {
            buf[n] = 0;
            if (size) *size = (size_t)n;
        }
    } else {
        scpt_set_error("%s: cannot read: %s", path, strerror(errno));
    }
    fclose(f);
    return buf;
}

int write_all(FILE *f, const void *buf, size_t bytes, const char *path) {
    if (fwrite(buf, 1, bytes, f) != bytes) {
        scpt_set_error("%s: write failed: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int glob_paths(const char *pattern, char ***paths) {
    char *patterns = xstrdup(pattern);
    int n = 0, cap = 16;
    char **out = xmalloc(cap * sizeof *out);
    char *save = NULL;
    for (char *p = strtok_r(patterns, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
        glob_t g;
        if (glob(p, 0, NULL, &g) != 0) continue;
        for (size_t i = 0; i < g.gl_pathc; i++) {
            if (n == cap) out = realloc(out, (cap *= 2) * sizeof *out);
            if (!out) die("out of memory expanding glob %s", pattern);
            out[n++] = xstrdup(g.gl_pathv[i]);
        }
        globfree(&g);
    }
    free(patterns);
    qsort(out, n, sizeof *out, cmp_str);
    *paths = out;
    return n;
}

void free_paths(char **paths, int n) {
    for (int i = 0; i < n; i++) free(paths[i]);
    free(paths);
}

int make_dirs(const char *path) {
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST) goto fail;
        *p = '/';
    }
    if (mkdir(buf, 0777) != 0 && errno != EEXIST) goto fail;
    return 0;
fail:
    scpt_set_error("%s: cannot create directory: %s", buf, strerror(errno));
    return -1;
}

double wall_time(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}
