// The output JSONL as a journal: every record is one write(2) of a whole line to
// an O_APPEND descriptor, so a kill -9 leaves at most one torn last line, which
// the next open truncates away before anything is appended.
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "entigraph.h"
#include "util.h"

// Scans the complete lines of f, calling on_record for each; returns the byte
// length of the complete part (the file minus a torn tail), -1 on a bad line.
static long scan(FILE *f, const char *path, RecordFn on_record, void *ctx) {
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    long good = 0, lineno = 0;
    while ((n = getline(&line, &cap, f)) > 0) {
        lineno++;
        if (line[n - 1] != '\n') break;   // the torn tail: no newline, so never appended after
        cJSON *rec = cJSON_ParseWithLength(line, (size_t)n);
        int ok = cJSON_IsObject(rec);
        cJSON_Delete(rec);
        if (!ok) {
            scpt_set_error("%s:%ld: not a JSON object; the file is not an entigraph output or was "
                           "edited (fix or move it before resuming)", path, lineno);
            free(line);
            return -1;
        }
        if (on_record) on_record(ctx, line, (size_t)n, lineno);
        good += n;
    }
    free(line);
    if (ferror(f)) {
        scpt_set_error("%s: read error", path);
        return -1;
    }
    return good;
}

int journal_scan(const char *path, RecordFn on_record, void *ctx) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        scpt_set_error("%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    long good = scan(f, path, on_record, ctx);
    fclose(f);
    return good < 0 ? -1 : 0;
}

int journal_open(Journal *j, const char *path, RecordFn on_record, void *ctx) {
    memset(j, 0, sizeof *j);
    j->fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (j->fd < 0) {
        scpt_set_error("%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    if (flock(j->fd, LOCK_EX | LOCK_NB) != 0) {
        scpt_set_error("%s: another process is writing it (locked)", path);
        close(j->fd);
        return -1;
    }
    FILE *f = fdopen(dup(j->fd), "rb");
    if (!f) {
        scpt_set_error("%s: cannot read: %s", path, strerror(errno));
        close(j->fd);
        return -1;
    }
    rewind(f);
    long good = scan(f, path, on_record, ctx);
    fclose(f);
    struct stat st;
    if (good < 0 || fstat(j->fd, &st) != 0) {
        close(j->fd);
        return -1;
    }
    if (st.st_size > good) {
        j->torn_bytes = (long)st.st_size - good;
        if (ftruncate(j->fd, good) != 0 || fsync(j->fd) != 0) {
            scpt_set_error("%s: cannot truncate the torn last line: %s", path, strerror(errno));
            close(j->fd);
            return -1;
        }
    }
    j->path = xstrdup(path);
    return 0;
}

int journal_append(Journal *j, const char *line, size_t len) {
    // one write for the whole line; a short write (disk full) is undone so that no
    // partial record stays behind the next one
    struct stat st;
    if (fstat(j->fd, &st) != 0) goto fail;
    ssize_t w = write(j->fd, line, len);
    if (w == (ssize_t)len) {
        j->dirty = 1;
        return 0;
    }
    if (w >= 0) {
        if (ftruncate(j->fd, st.st_size) != 0) {}
        errno = ENOSPC;
    }
fail:
    scpt_set_error("%s: write failed: %s", j->path, strerror(errno));
    return -1;
}

int journal_sync(Journal *j) {
    if (!j->dirty) return 0;
    if (fdatasync(j->fd) != 0) {
        scpt_set_error("%s: fsync failed: %s", j->path, strerror(errno));
        return -1;
    }
    j->dirty = 0;
    return 0;
}

void journal_close(Journal *j) {
    if (j->fd >= 0) {
        journal_sync(j);
        close(j->fd);
    }
    free(j->path);
    j->fd = -1;
    j->path = NULL;
}
