// A journal (entigraph_journal.c) that begins with the settings it was written
// under, so a run resumes only what the same settings produced.
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eval_gen.h"
#include "util.h"

typedef struct {
    const cJSON *settings;
    long mismatch_line;
    cJSON **recs;
    int n, cap;
} Scan;

static void on_line(void *ctx, const char *line, size_t len, long lineno) {
    Scan *sc = ctx;
    cJSON *o = cJSON_ParseWithLength(line, len);
    const cJSON *set = cJSON_GetObjectItemCaseSensitive(o, "settings");
    if (set) {
        if (!sc->mismatch_line && !cJSON_Compare(set, sc->settings, 1)) sc->mismatch_line = lineno;
        cJSON_Delete(o);
        return;
    }
    if (sc->n == sc->cap) {
        sc->cap = sc->cap * 2 + 64;
        sc->recs = realloc(sc->recs, (size_t)sc->cap * sizeof *sc->recs);
        if (!sc->recs) die("out of memory");
    }
    sc->recs[sc->n++] = o;
}

int journal_append_json(Journal *j, const cJSON *o) {
    char *s = cJSON_PrintUnformatted(o);
    size_t n = strlen(s);
    char *line = xmalloc(n + 2);
    memcpy(line, s, n);
    line[n] = '\n', line[n + 1] = '\0';
    int rc = journal_append(j, line, n + 1);
    if (rc == 0) rc = journal_sync(j);
    free(line), free(s);
    return rc;
}

int settings_journal_open(Journal *j, const char *path, const cJSON *settings, JsonRecordFn on_record, void *ctx) {
    Scan sc = {.settings = settings};
    int rc = journal_open(j, path, on_line, &sc);
    if (rc == 0 && sc.mismatch_line) {
        journal_close(j);
        scpt_set_error("%s:%ld: the journal was written with other settings (model, prompts, sampling or "
                       "retrieval); give another --out or remove it", path, sc.mismatch_line);
        rc = -1;
    }
    for (int i = 0; i < sc.n; i++) {
        if (rc == 0) on_record(ctx, sc.recs[i]);
        cJSON_Delete(sc.recs[i]);
    }
    free(sc.recs);
    if (rc == 0 && lseek(j->fd, 0, SEEK_END) == 0) {   // a new journal: its settings first
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemReferenceToObject(o, "settings", (cJSON *)settings);
        rc = journal_append_json(j, o);
        cJSON_Delete(o);
    }
    return rc;
}
