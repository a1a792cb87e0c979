// The generative QA prompt: the prompt file, the exemplars with their rationales,
// and the prompt of a question as text (/completions) or messages (/chat/completions).
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval_gen.h"
#include "util.h"

static const char *const placeholders[] = {"article", "title", "author", "year", "question", "options", "context", NULL};

static char *json_string(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (cJSON_IsString(v)) return xstrdup(v->valuestring);
    if (cJSON_IsNumber(v)) {   // a year given as a number
        char buf[32];
        snprintf(buf, sizeof buf, "%d", (int)v->valuedouble);
        return xstrdup(buf);
    }
    return NULL;
}

static void exemplar_free(Exemplar *e) {
    free(e->title), free(e->author), free(e->year), free(e->question), free(e->rationale);
    for (int i = 0; i < e->n_options; i++) free(e->options[i]);
    free(e->options);
}

// one exemplar line; -1 with the file and line named
static int parse_exemplar(Exemplar *e, const char *line, const char *path, long lineno) {
    memset(e, 0, sizeof *e);
    cJSON *o = cJSON_Parse(line);
    const char *bad = NULL;
    const cJSON *opts = cJSON_GetObjectItemCaseSensitive(o, "options"), *ans = cJSON_GetObjectItemCaseSensitive(o, "answer");
    if (!cJSON_IsObject(o)) bad = "not a JSON object";
    else if (!(e->title = json_string(o, "title"))) bad = "no \"title\" string";
    else if (!(e->question = json_string(o, "question"))) bad = "no \"question\" string";
    else if (!(e->rationale = json_string(o, "rationale"))) bad = "no \"rationale\" string";
    else if (!cJSON_IsArray(opts) || cJSON_GetArraySize(opts) < 2 || cJSON_GetArraySize(opts) > 26)
        bad = "\"options\" must be a list of 2 to 26 strings";
    if (!bad) {
        e->author = json_string(o, "author");
        e->year = json_string(o, "year");
        if (!e->author) e->author = xstrdup("");
        if (!e->year) e->year = xstrdup("");
        e->options = xcalloc((size_t)cJSON_GetArraySize(opts), sizeof *e->options);
        const cJSON *it;
        cJSON_ArrayForEach(it, opts) {
            if (!cJSON_IsString(it)) {
                bad = "an option is not a string";
                break;
            }
            e->options[e->n_options++] = xstrdup(it->valuestring);
        }
    }
    if (!bad) {
        const char *a = cJSON_IsString(ans) ? ans->valuestring : "";
        e->answer = strlen(a) == 1 && a[0] >= 'A' && a[0] < 'A' + e->n_options ? a[0] - 'A' : -1;
        if (e->answer < 0) bad = "\"answer\" must be one option letter (\"A\", \"B\", ...)";
    }
    cJSON_Delete(o);
    if (bad) {
        exemplar_free(e);
        return scpt_set_error("%s:%ld: %s", path, lineno, bad), -1;
    }
    return 0;
}

int prompt_set_load(PromptSet *ps, const char *prompt_path, const char *exemplars_path, int shots) {
    memset(ps, 0, sizeof *ps);
    if (prompt_load(&ps->prompt, prompt_path, placeholders) != 0) return -1;
    if (!strstr(ps->prompt.user, "{question}") || !strstr(ps->prompt.user, "{options}")) {
        prompt_free(&ps->prompt);
        return scpt_set_error("%s: the @user section needs {question} and {options}", prompt_path), -1;
    }
    if (shots == 0) return 0;
    FILE *f = fopen(exemplars_path, "r");
    if (!f) {
        prompt_free(&ps->prompt);
        return scpt_set_error("%s: cannot open the exemplars", exemplars_path), -1;
    }
    char *line = NULL;
    size_t cap = 0;
    long lineno = 0;
    int rc = 0, room = 0;
    while (rc == 0 && getline(&line, &cap, f) >= 0) {
        lineno++;
        if (line[strspn(line, " \t\r\n")] == '\0') continue;
        if (ps->n_ex == room) ps->ex = realloc(ps->ex, (size_t)(room = room * 2 + 8) * sizeof *ps->ex);
        if (!ps->ex) die("out of memory");
        rc = parse_exemplar(&ps->ex[ps->n_ex], line, exemplars_path, lineno);
        ps->n_ex += rc == 0;
    }
    free(line);
    fclose(f);
    if (rc == 0 && ps->n_ex < shots) {
        scpt_set_error("%s: %d exemplars, fewer than --shots %d", exemplars_path, ps->n_ex, shots);
        rc = -1;
    }
    if (rc != 0) prompt_set_free(ps);
    return rc;
}

void prompt_set_free(PromptSet *ps) {
    prompt_free(&ps->prompt);
    for (int i = 0; i < ps->n_ex; i++) exemplar_free(&ps->ex[i]);
    free(ps->ex);
    memset(ps, 0, sizeof *ps);
}

// a string written with stdio (open_memstream): str_open, fprintf/fputs, str_close
typedef struct {
    FILE *f;
    char *s;
    size_t len;
} Str;

static FILE *str_open(Str *b) {
    b->f = open_memstream(&b->s, &b->len);
    if (!b->f) die("out of memory building a prompt");
    return b->f;
}

static char *str_close(Str *b) {
    if (fclose(b->f) != 0) die("out of memory building a prompt");
    return b->s;
}

// "Title" by Author (Year), leaving out what is empty
static char *article_line(const char *title, const char *author, const char *year) {
    Str b;
    FILE *f = str_open(&b);
    fprintf(f, "\"%s\"", title);
    if (author && author[0]) fprintf(f, " by %s", author);
    if (year && year[0]) fprintf(f, " (%s)", year);
    return str_close(&b);
}

// the @user block of a question
static char *user_block(const PromptSet *ps, const QuestionText *q) {
    Str opts, ctx;
    FILE *f = str_open(&opts);
    for (int i = 0; i < q->n_options; i++) fprintf(f, "%s%c. %s", i ? "\n" : "", 'A' + i, q->options[i]);
    f = str_open(&ctx);
    if (q->context && q->context[0]) fprintf(f, "Context:\n%s\n\n", q->context);
    char *article = article_line(q->title, q->author, q->year), *o = str_close(&opts), *c = str_close(&ctx);
    const char *values[] = {article, q->title, q->author ? q->author : "", q->year ? q->year : "", q->question, o, c};
    char *s = prompt_fill(ps->prompt.user, placeholders, values, 7);
    free(article), free(o), free(c);
    return s;
}

static QuestionText exemplar_text(const Exemplar *e) {
    return (QuestionText){e->title, e->author, e->year, e->question, "", e->options, e->n_options};
}

// an exemplar's answer: " <rationale>\nAnswer: <letter>"
static char *exemplar_answer(const Exemplar *e) {
    Str b;
    fprintf(str_open(&b), "%s\nAnswer: %c", e->rationale, 'A' + e->answer);
    return str_close(&b);
}

char *gen_prompt_text(const PromptSet *ps, int shots, const QuestionText *q) {
    Str b;
    FILE *f = str_open(&b);
    if (ps->prompt.system[0]) fprintf(f, "%s\n\n", ps->prompt.system);
    for (int i = 0; i < shots; i++) {
        QuestionText et = exemplar_text(&ps->ex[i]);
        char *u = user_block(ps, &et), *a = exemplar_answer(&ps->ex[i]);
        fprintf(f, "%s %s\n\n", u, a);
        free(u), free(a);
    }
    char *u = user_block(ps, q);
    fputs(u, f);
    free(u);
    return str_close(&b);
}

static void add_message(cJSON *msgs, const char *role, const char *content) {
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "role", role);
    cJSON_AddStringToObject(m, "content", content);
    cJSON_AddItemToArray(msgs, m);
}

char *gen_prompt_messages(const PromptSet *ps, int shots, const QuestionText *q) {
    cJSON *msgs = cJSON_CreateArray();
    if (ps->prompt.system[0]) add_message(msgs, "system", ps->prompt.system);
    for (int i = 0; i < shots; i++) {
        QuestionText et = exemplar_text(&ps->ex[i]);
        char *u = user_block(ps, &et), *a = exemplar_answer(&ps->ex[i]);
        add_message(msgs, "user", u);
        add_message(msgs, "assistant", a);
        free(u), free(a);
    }
    char *u = user_block(ps, q);
    add_message(msgs, "user", u);
    free(u);
    char *s = cJSON_PrintUnformatted(msgs);
    cJSON_Delete(msgs);
    return s;
}
