// The metrics file: one JSON object per line, each with a "step", flushed as written
// so a plot can read it while the run goes on.
#ifndef SCPT_METRICS_H
#define SCPT_METRICS_H

#include <stdio.h>

typedef struct {
    FILE *f;
    char path[4096];
} MetricsLog;

// Opens `path` for a run. keep_through_step < 0 (a new run) starts the file empty;
// >= 0 (a resumed run) keeps it but drops the lines of later steps, which the
// resumed run writes again. Either way no step is ever in the file twice.
int metrics_open(MetricsLog *log, const char *path, int keep_through_step);
// Writes one line and flushes it. -1 (naming the file) when the write fails, e.g. on
// a full disk, or when the line is not JSON (a NaN or infinity printed by %f).
int metrics_write(MetricsLog *log, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void metrics_close(MetricsLog *log);

#endif
