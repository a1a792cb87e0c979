// The metrics file: one JSON object per line, each with a "step", flushed as written
// so a plot can read it while the run goes on.
#ifndef SCPT_METRICS_H
#define SCPT_METRICS_H

#include <stdio.h>

typedef struct {
    FILE *f;
} MetricsLog;

// Opens `path` for appending. With keep_through_step >= 0 (a resumed run), lines of
// a later step, which the resumed run will write again, are dropped first.
int metrics_open(MetricsLog *log, const char *path, int keep_through_step);
void metrics_write(MetricsLog *log, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void metrics_close(MetricsLog *log);

#endif
