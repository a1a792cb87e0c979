// Question sets: QuALITY through the corpus reader, or the simple JSONL format.
#define _GNU_SOURCE
#include "qa.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

// the first non-blank line of the file has an "article" field: QuALITY
static int is_quality(FILE *f) {
    char *line = NULL;
    size_t cap = 0;
    int quality = 0;
    while (getline(&line, &cap, f) >= 0) {
        if (line[strspn(line, " \t\r\n")] == '\0') continue;
        cJSON *row = cJSON_Parse(line);
        quality = row && cJSON_GetObjectItemCaseSensitive(row, "article") != NULL;
        cJSON_Delete(row);
        break;
    }
    free(line);
    rewind(f);
    return quality;
}

// one simple-format line into d (a document holding one question); -1 on bad input
static int parse_simple(Document *d, const cJSON *row, const char *path, long lineno) {
    memset(d, 0, sizeof *d);
    const cJSON *q = cJSON_GetObjectItemCaseSensitive(row, "question");
    const cJSON *opts = cJSON_GetObjectItemCaseSensitive(row, "options");
    const cJSON *ans = cJSON_GetObjectItemCaseSensitive(row, "answer");
    if (!cJSON_IsString(q)) return scpt_set_error("%s:%ld: no \"question\" string", path, lineno), -1;
    if (!cJSON_IsArray(opts) || cJSON_GetArraySize(opts) < 2 || cJSON_GetArraySize(opts) > 16)
        return scpt_set_error("%s:%ld: \"options\" must be a list of 2 to 16 strings", path, lineno), -1;
    int n = cJSON_GetArraySize(opts);
    if (!cJSON_IsNumber(ans))
        return scpt_set_error("%s:%ld: no integer \"answer\" (0-based option index)", path, lineno), -1;
    // the range as a double first: a huge value never reaches the int conversion
    if (!(ans->valuedouble >= 0 && ans->valuedouble < n))
        return scpt_set_error("%s:%ld: answer %g out of range 0..%d", path, lineno, ans->valuedouble, n - 1), -1;
    if (ans->valuedouble != (int)ans->valuedouble)
        return scpt_set_error("%s:%ld: answer %g is not an integer (0-based option index)", path, lineno,
                              ans->valuedouble), -1;
    Question *qq = xcalloc(1, sizeof *qq);
    qq->question = xstrdup(q->valuestring);
    qq->options = xcalloc((size_t)n, sizeof *qq->options);
    qq->gold = (int)ans->valuedouble;
    qq->difficult = -1;
    d->questions = qq;
    d->n_questions = 1;
    const cJSON *o;
    cJSON_ArrayForEach(o, opts) {
        if (!cJSON_IsString(o))
            return scpt_set_error("%s:%ld: option %d is not a string", path, lineno, qq->n_options + 1), -1;
        qq->options[qq->n_options++] = xstrdup(o->valuestring);
    }
    const cJSON *doc = cJSON_GetObjectItemCaseSensitive(row, "doc");
    char id[32];
    snprintf(id, sizeof id, "line%ld", lineno);
    d->id = xstrdup(cJSON_IsString(doc) ? doc->valuestring : id);
    const cJSON *title = cJSON_GetObjectItemCaseSensitive(row, "title");
    d->title = xstrdup(cJSON_IsString(title) ? title->valuestring : "");
    d->author = xstrdup("");
    d->year = xstrdup("");
    d->text = xstrdup("");
    return 0;
}

static int load_simple(Corpus *c, FILE *f, const char *path) {
    char *line = NULL;
    size_t cap = 0;
    long lineno = 0;
    int rc = 0;
    while (getline(&line, &cap, f) >= 0) {
        lineno++;
        if (line[strspn(line, " \t\r\n")] == '\0') continue;
        cJSON *row = cJSON_Parse(line);
        if (!row || !cJSON_IsObject(row)) {
            scpt_set_error("%s:%ld: not a JSON object", path, lineno);
            cJSON_Delete(row);
            rc = -1;
            break;
        }
        c->docs = realloc(c->docs, (size_t)(c->n_docs + 1) * sizeof *c->docs);
        if (!c->docs) die("out of memory");
        rc = parse_simple(&c->docs[c->n_docs++], row, path, lineno);
        cJSON_Delete(row);
        if (rc != 0) break;
    }
    free(line);
    return rc;
}

int qa_load(QASet *s, const char *path) {
    memset(s, 0, sizeof *s);
    FILE *f = fopen(path, "r");
    if (!f) return scpt_set_error("%s: cannot open", path), -1;
    int rc = is_quality(f) ? corpus_load(&s->corpus, path) : load_simple(&s->corpus, f, path);
    fclose(f);
    if (rc != 0) {
        corpus_free(&s->corpus);
        return -1;
    }
    for (int d = 0; d < s->corpus.n_docs; d++)
        for (int i = 0; i < s->corpus.docs[d].n_questions; i++) {
            const Question *q = &s->corpus.docs[d].questions[i];
            if (q->gold < 0) continue;   // unlabelled (QuALITY's test split): nothing to score against
            s->items = realloc(s->items, (size_t)(s->n_items + 1) * sizeof *s->items);
            if (!s->items) die("out of memory");
            s->items[s->n_items++] = (QAItem){q, d};
        }
    if (s->n_items == 0) {
        qa_free(s);
        return scpt_set_error("%s: no labelled questions", path), -1;
    }
    return 0;
}

void qa_free(QASet *s) {
    corpus_free(&s->corpus);
    free(s->items);
    memset(s, 0, sizeof *s);
}
