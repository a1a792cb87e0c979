#include "metrics.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "util.h"

// rewrites the file without the lines whose "step" is past `step` (a regular file
// only: a device such as /dev/null is never replaced)
static int drop_later_steps(const char *path, int step) {
    struct stat sb;
    if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode)) return 0;
    FILE *in = fopen(path, "r");
    if (!in) return errno == ENOENT ? 0 : (scpt_set_error("%s: %s", path, strerror(errno)), -1);
    AtomicFile out;
    if (atomic_open(&out, path) != 0) {
        fclose(in);
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, in) > 0) {
        const char *s = strstr(line, "\"step\":");
        if (s && atoi(s + 7) > step) continue;
        fputs(line, out.f);
    }
    free(line);
    fclose(in);
    return atomic_commit(&out);
}

int metrics_open(MetricsLog *log, const char *path, int keep_through_step) {
    snprintf(log->path, sizeof log->path, "%s", path);
    if (keep_through_step >= 0 && drop_later_steps(path, keep_through_step) != 0) return -1;
    log->f = fopen(path, keep_through_step >= 0 ? "a" : "w");
    if (!log->f) {
        scpt_set_error("%s: cannot open metrics file: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

int metrics_write(MetricsLog *log, const char *fmt, ...) {
    char line[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    cJSON *parsed = n > 0 && n < (int)sizeof line ? cJSON_Parse(line) : NULL;
    cJSON_Delete(parsed);
    if (!parsed) {
        scpt_set_error("%s: refusing a metrics line that is not JSON: %.200s", log->path, line);
        return -1;
    }
    if (fprintf(log->f, "%s\n", line) < 0 || fflush(log->f) != 0) {
        scpt_set_error("%s: cannot write metrics: %s", log->path, strerror(errno));
        return -1;
    }
    return 0;
}

void metrics_close(MetricsLog *log) {
    if (log->f) fclose(log->f);
    log->f = NULL;
}
