#define _GNU_SOURCE
#include "corpus.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "util.h"

// ---- a growable string ------------------------------------------------------------

typedef struct {
    char *s;
    size_t len, cap;
} Buf;

static void buf_add(Buf *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->s = realloc(b->s, b->cap);
        if (!b->s) die("out of memory");
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static char *buf_take(Buf *b) {
    if (!b->s) buf_add(b, "", 0);
    return b->s;
}

// ---- HTML to text --------------------------------------------------------------------

static size_t utf8_encode(unsigned long cp, char *out) {
    if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) cp = 0xfffd;
    if (cp < 0x80) { out[0] = (char)cp; return 1; }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | cp >> 6), out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | cp >> 12), out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | cp >> 18), out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f)), out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

// Decodes the character reference at s ('&'...), writing UTF-8 to out; returns
// the bytes consumed, 0 when it is not a reference we know (the '&' stays).
static size_t decode_entity(const char *s, const char *end, char *out, size_t *out_len) {
    static const struct { const char *name; unsigned cp; } named[] = {
        {"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''},
        {"nbsp", ' '}, {"mdash", 0x2014}, {"ndash", 0x2013}, {"hellip", 0x2026},
        {"lsquo", 0x2018}, {"rsquo", 0x2019}, {"ldquo", 0x201c}, {"rdquo", 0x201d},
        {"copy", 0xa9}, {"eacute", 0xe9}, {"egrave", 0xe8}, {"agrave", 0xe0}, {"ccedil", 0xe7},
        {"uuml", 0xfc}, {"ouml", 0xf6}, {"auml", 0xe4}, {"iuml", 0xef}, {"times", 0xd7},
        {"deg", 0xb0}, {"pound", 0xa3}, {"sect", 0xa7}, {"middot", 0xb7},
    };
    const char *semi = memchr(s, ';', (size_t)(end - s) < 12 ? (size_t)(end - s) : 12);
    if (!semi) return 0;
    size_t n = (size_t)(semi - s - 1);
    unsigned long cp;
    if (n >= 2 && s[1] == '#') {
        char *stop;
        int hex = s[2] == 'x' || s[2] == 'X';
        cp = strtoul(s + 2 + hex, &stop, hex ? 16 : 10);
        if (stop != semi || stop == s + 2 + hex) return 0;
    } else {
        size_t i = 0;
        for (; i < sizeof named / sizeof *named; i++)
            if (strlen(named[i].name) == n && memcmp(named[i].name, s + 1, n) == 0) break;
        if (i == sizeof named / sizeof *named) return 0;
        cp = named[i].cp;
    }
    *out_len = utf8_encode(cp, out);
    return (size_t)(semi - s + 1);
}

static int tag_is(const char *name, size_t n, const char *const *list) {
    for (; *list; list++)
        if (strlen(*list) == n && strncasecmp(*list, name, n) == 0) return 1;
    return 0;
}

char *html_to_text(const char *html, size_t len) {
    static const char *const blocks[] = {
        "p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "li", "ul", "ol", "dl", "dt",
        "dd", "tr", "table", "blockquote", "pre", "section", "article", "body", "html",
        "center", "title", NULL};
    static const char *const hidden[] = {"head", "script", "style", NULL};
    const char *p = html, *end = html + len;
    Buf out = {0};
    // pending separator before the next text: 0 none, 1 space, 2 line break, 3 paragraph
    int pending = 0;
    while (p < end) {
        if (*p == '<') {
            if (end - p >= 4 && memcmp(p, "<!--", 4) == 0) {
                const char *close = memmem(p + 4, (size_t)(end - p - 4), "-->", 3);
                p = close ? close + 3 : end;
                continue;
            }
            const char *gt = memchr(p, '>', (size_t)(end - p));
            if (!gt) break;   // an unterminated tag at the end: drop it
            const char *name = p + 1 + (p[1] == '/');
            size_t n = 0;
            while (name + n < gt && (isalnum((unsigned char)name[n]))) n++;
            if (p[1] != '/' && tag_is(name, n, hidden)) {
                // skip to the matching close tag
                char close[16];
                snprintf(close, sizeof close, "</%.*s", (int)n, name);
                const char *q = gt + 1;
                while (q < end && strncasecmp(q, close, strlen(close)) != 0) q++;
                gt = q < end ? memchr(q, '>', (size_t)(end - q)) : NULL;
                p = gt ? gt + 1 : end;
                continue;
            }
            if (n == 2 && strncasecmp(name, "br", 2) == 0) {
                if (pending < 2) pending = 2;
            } else if (tag_is(name, n, blocks)) {
                pending = 3;
            }
            p = gt + 1;
            continue;
        }
        if (isspace((unsigned char)*p)) {
            if (pending < 1) pending = 1;
            p++;
            continue;
        }
        if (out.len > 0 && pending)
            buf_add(&out, pending == 3 ? "\n\n" : pending == 2 ? "\n" : " ", (size_t)(pending == 3 ? 2 : 1));
        pending = 0;
        char enc[4];
        size_t enc_len, used;
        if (*p == '&' && (used = decode_entity(p, end, enc, &enc_len)) > 0) {
            if (enc_len == 1 && enc[0] == ' ') pending = 1;   // &nbsp; behaves as white space here
            else buf_add(&out, enc, enc_len);
            p += used;
            continue;
        }
        buf_add(&out, p, 1);
        p++;
    }
    return buf_take(&out);
}

// HTML when a tag starts anywhere; QuALITY's "htmlstripped" release is plain text
static int looks_like_html(const char *s) {
    for (const char *p = strchr(s, '<'); p; p = strchr(p + 1, '<'))
        if (isalpha((unsigned char)p[1]) || p[1] == '/' || p[1] == '!') return 1;
    return 0;
}

// ---- JSON helpers --------------------------------------------------------------------

typedef struct {
    const char *path;
    long line;
} Where;

// a string or number field as a malloc'd string; NULL when absent
static char *field_text(const cJSON *obj, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (cJSON_IsString(v)) return xstrdup(v->valuestring);
    if (cJSON_IsNumber(v)) {
        char num[64];
        double x = v->valuedouble;   // converted only inside long long's range
        if (x > -0x1p63 && x < 0x1p63 && x == (double)(long long)x)
            snprintf(num, sizeof num, "%lld", (long long)v->valuedouble);
        else
            snprintf(num, sizeof num, "%.17g", v->valuedouble);
        return xstrdup(num);
    }
    return NULL;
}

static char *field_or_empty(const cJSON *obj, const char *key) {
    char *s = field_text(obj, key);
    return s ? s : xstrdup("");
}

// "article" as a string or a list of string lines, joined
static char *article_html(const cJSON *v) {
    if (cJSON_IsString(v)) return xstrdup(v->valuestring);
    if (!cJSON_IsArray(v)) return NULL;
    Buf b = {0};
    const cJSON *line;
    cJSON_ArrayForEach(line, v) {
        if (!cJSON_IsString(line)) {
            free(b.s);
            return NULL;
        }
        buf_add(&b, line->valuestring, strlen(line->valuestring));
    }
    return buf_take(&b);
}

static void question_free(Question *q) {
    free(q->question);
    for (int i = 0; i < q->n_options; i++) free(q->options[i]);
    free(q->options);
}

static int question_same(const Question *a, const Question *b) {
    if (strcmp(a->question, b->question) != 0 || a->n_options != b->n_options) return 0;
    for (int i = 0; i < a->n_options; i++)
        if (strcmp(a->options[i], b->options[i]) != 0) return 0;
    return 1;
}

static void add_question(Document *d, Question q) {
    for (int i = 0; i < d->n_questions; i++)
        if (question_same(&d->questions[i], &q)) {
            question_free(&q);
            return;
        }
    d->questions = realloc(d->questions, (size_t)(d->n_questions + 1) * sizeof *d->questions);
    if (!d->questions) die("out of memory");
    d->questions[d->n_questions++] = q;
}

// gold_label (1-based, number or string) -> 0-based index, checked against the options:
// a whole number, nothing else ("2.7" and "3xyz" are refused, not read as 2 and 3)
static int parse_gold(const cJSON *v, int n_options, int *gold) {
    *gold = -1;
    if (!v || cJSON_IsNull(v)) return 0;
    double g = -1;
    if (cJSON_IsNumber(v)) {
        g = v->valuedouble;
    } else if (cJSON_IsString(v)) {
        const char *s = v->valuestring;
        char *end;
        long x = strtol(s, &end, 10);
        if (end != s && *end == '\0' && s[0] >= '0' && s[0] <= '9') g = (double)x;
    }
    // compared as a double: a huge or fractional value never reaches the int conversion
    if (!(g >= 1 && g <= n_options) || g != (double)(int)g) return -1;
    *gold = (int)g - 1;
    return 0;
}

// one question from its text, option values and gold label; -1 on a bad one
static int make_question(Question *q, const cJSON *text, const cJSON **opts, int n_opts,
                         const cJSON *gold, const cJSON *difficult, Where w, const char *what) {
    memset(q, 0, sizeof *q);
    if (!cJSON_IsString(text) || n_opts < 2) {
        scpt_set_error("%s:%ld: %s needs a question string and at least 2 options", w.path, w.line, what);
        return -1;
    }
    q->question = xstrdup(text->valuestring);
    q->options = xcalloc((size_t)n_opts, sizeof *q->options);
    for (int i = 0; i < n_opts; i++) {
        if (!cJSON_IsString(opts[i])) {
            scpt_set_error("%s:%ld: %s option %d is not a string", w.path, w.line, what, i + 1);
            question_free(q);
            return -1;
        }
        q->options[q->n_options++] = xstrdup(opts[i]->valuestring);
    }
    if (parse_gold(gold, n_opts, &q->gold) != 0) {
        scpt_set_error("%s:%ld: %s gold label is not 1..%d", w.path, w.line, what, n_opts);
        question_free(q);
        return -1;
    }
    q->difficult = cJSON_IsNumber(difficult) ? difficult->valuedouble != 0
                   : cJSON_IsBool(difficult) ? cJSON_IsTrue(difficult) : -1;
    return 0;
}

// QuALITY's hard flag where a file carries the validation answers but not the flag
// (the flattened release): hard when a majority of the timed (speed) annotators chose
// a wrong option while a majority of the untimed ones chose the gold one, as the
// QuALITY paper defines it; -1 when either list is absent or empty
static int hard_from_answers(const cJSON *untimed, const cJSON *speed, int gold) {
    int n[2] = {0, 0}, right[2] = {0, 0};
    const cJSON *lists[2] = {untimed, speed}, *a;
    for (int l = 0; l < 2; l++) {
        if (!cJSON_IsArray(lists[l])) return -1;
        cJSON_ArrayForEach(a, lists[l]) {
            n[l]++;
            right[l] += cJSON_IsNumber(a) && (int)a->valuedouble - 1 == gold;
        }
        if (n[l] == 0) return -1;
    }
    return 2 * right[0] > n[0] && 2 * (n[1] - right[1]) > n[1];
}

static int quality_questions(Document *d, const cJSON *row, Where w) {
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(row, "questions");
    if (list) {   // the original release: questions: [{question, options[], gold_label}]
        if (!cJSON_IsArray(list)) {
            scpt_set_error("%s:%ld: \"questions\" is not a list", w.path, w.line);
            return -1;
        }
        int k = 0;
        const cJSON *item;
        cJSON_ArrayForEach(item, list) {
            const cJSON *opts[16], *o;
            int n = 0;
            cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(item, "options")) {
                if (n < 16) opts[n] = o;
                n++;
            }
            char what[32];
            snprintf(what, sizeof what, "question %d", ++k);
            Question q;
            if (n > 16 || make_question(&q, cJSON_GetObjectItemCaseSensitive(item, "question"), opts, n,
                                        cJSON_GetObjectItemCaseSensitive(item, "gold_label"),
                                        cJSON_GetObjectItemCaseSensitive(item, "difficult"), w, what) != 0) {
                if (n > 16) scpt_set_error("%s:%ld: %s has more than 16 options", w.path, w.line, what);
                return -1;
            }
            add_question(d, q);
        }
        return 0;
    }
    // the flattened release: questionK, questionKoptionJ, questionK_gold_label
    for (int k = 1;; k++) {
        char key[64];
        snprintf(key, sizeof key, "question%d", k);
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(row, key);
        if (!text) return 0;
        const cJSON *opts[16];
        int n = 0;
        for (; n < 16; n++) {
            snprintf(key, sizeof key, "question%doption%d", k, n + 1);
            if (!(opts[n] = cJSON_GetObjectItemCaseSensitive(row, key))) break;
        }
        char gold_key[64], diff_key[64], what[32];
        snprintf(gold_key, sizeof gold_key, "question%d_gold_label", k);
        snprintf(diff_key, sizeof diff_key, "question%d_difficult", k);
        snprintf(what, sizeof what, "question%d", k);
        Question q;
        if (make_question(&q, text, opts, n, cJSON_GetObjectItemCaseSensitive(row, gold_key),
                          cJSON_GetObjectItemCaseSensitive(row, diff_key), w, what) != 0)
            return -1;
        if (q.difficult < 0) {
            char untimed[64], speed[64];
            snprintf(untimed, sizeof untimed, "question%d_annotator_answers", k);
            snprintf(speed, sizeof speed, "question%d_annotator_speed_answers", k);
            q.difficult = hard_from_answers(cJSON_GetObjectItemCaseSensitive(row, untimed),
                                            cJSON_GetObjectItemCaseSensitive(row, speed), q.gold);
        }
        add_question(d, q);
    }
}

static void doc_free(Document *d) {
    free(d->id), free(d->title), free(d->author), free(d->year), free(d->text);
    for (int i = 0; i < d->n_questions; i++) question_free(&d->questions[i]);
    free(d->questions);
}

// one JSONL row into d (plain or QuALITY); -1 on bad input
static int parse_row(Document *d, const cJSON *row, Where w) {
    memset(d, 0, sizeof *d);
    const cJSON *article = cJSON_GetObjectItemCaseSensitive(row, "article");
    int quality = article != NULL;
    d->id = field_text(row, quality ? "article_id" : "id");
    if (!d->id) {
        scpt_set_error("%s:%ld: no \"%s\" (a string or number)", w.path, w.line,
                       quality ? "article_id" : "id");
        return -1;
    }
    d->title = field_or_empty(row, "title");
    d->author = field_or_empty(row, "author");
    d->year = field_or_empty(row, "year");
    if (quality) {
        char *html = article_html(article);
        if (!html) {
            scpt_set_error("%s:%ld: \"article\" is neither a string nor a list of strings", w.path, w.line);
            return -1;
        }
        d->text = looks_like_html(html) ? html_to_text(html, strlen(html)) : xstrdup(html);
        free(html);
        if (quality_questions(d, row, w) != 0) return -1;
    } else {
        d->text = field_text(row, "text");
        if (!d->text || !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(row, "text"))) {
            scpt_set_error("%s:%ld: no \"text\" string", w.path, w.line);
            return -1;
        }
    }
    if (d->text[strspn(d->text, " \t\r\n")] == '\0') {
        scpt_set_error("%s:%ld: document %s has empty text", w.path, w.line, d->id);
        return -1;
    }
    return 0;
}

static void corpus_add(Corpus *c, Document *d) {
    c->docs = realloc(c->docs, (size_t)(c->n_docs + 1) * sizeof *c->docs);
    if (!c->docs) die("out of memory");
    c->docs[c->n_docs++] = *d;
}

// adds d, or merges it into the document with the same id (same text required)
static int corpus_merge(Corpus *c, Document *d, Where w) {
    for (int i = c->n_docs - 1; i >= 0; i--) {   // repeats are usually adjacent rows
        Document *e = &c->docs[i];
        if (strcmp(e->id, d->id) != 0) continue;
        if (strcmp(e->text, d->text) != 0) {
            scpt_set_error("%s:%ld: document id %s appears again with a different text", w.path,
                           w.line, d->id);
            doc_free(d);
            return -1;
        }
        for (int k = 0; k < d->n_questions; k++) add_question(e, d->questions[k]);
        d->n_questions = 0;
        doc_free(d);
        return 0;
    }
    corpus_add(c, d);
    return 0;
}

static int load_jsonl(Corpus *c, const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        scpt_set_error("%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    Where w = {path, 0};
    int rc = 0;
    while (rc == 0 && (n = getline(&line, &cap, f)) >= 0) {
        w.line++;
        if (line[strspn(line, " \t\r\n")] == '\0') continue;
        cJSON *row = cJSON_ParseWithLength(line, (size_t)n);
        if (!cJSON_IsObject(row)) {
            scpt_set_error("%s:%ld: not a JSON object", path, w.line);
            rc = -1;
        } else {
            Document d;
            rc = parse_row(&d, row, w);
            if (rc == 0) rc = corpus_merge(c, &d, w);
            else doc_free(&d);
        }
        cJSON_Delete(row);
    }
    if (rc == 0 && ferror(f)) {
        scpt_set_error("%s: read error", path);
        rc = -1;
    }
    free(line);
    fclose(f);
    if (rc == 0 && c->n_docs == 0) {
        scpt_set_error("%s: no documents", path);
        rc = -1;
    }
    return rc;
}

static char *read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        scpt_set_error("%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    Buf b = {0};
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) buf_add(&b, chunk, n);
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(b.s);
        scpt_set_error("%s: read error", path);
        return NULL;
    }
    return buf_take(&b);
}

static int load_dir(Corpus *c, const char *dir) {
    char pattern[4096];
    snprintf(pattern, sizeof pattern, "%s/*.txt", dir);
    char **paths;
    int n = glob_paths(pattern, &paths), rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        Document d = {0};
        d.text = read_file(paths[i]);
        if (!d.text) {
            rc = -1;
            break;
        }
        const char *base = strrchr(paths[i], '/') ? strrchr(paths[i], '/') + 1 : paths[i];
        d.id = xstrdup(base);
        d.id[strlen(d.id) - 4] = '\0';
        d.title = xstrdup(d.id);
        d.author = xstrdup("");
        d.year = xstrdup("");
        if (d.text[strspn(d.text, " \t\r\n")] == '\0') {
            scpt_set_error("%s: empty document", paths[i]);
            doc_free(&d);
            rc = -1;
            break;
        }
        corpus_add(c, &d);
    }
    free_paths(paths, n);
    if (rc == 0 && c->n_docs == 0) {
        scpt_set_error("%s: no .txt files", dir);
        rc = -1;
    }
    return rc;
}

int corpus_load(Corpus *c, const char *path) {
    memset(c, 0, sizeof *c);
    struct stat st;
    if (stat(path, &st) != 0) {
        scpt_set_error("%s: %s", path, strerror(errno));
        return -1;
    }
    int rc = S_ISDIR(st.st_mode) ? load_dir(c, path) : load_jsonl(c, path);
    if (rc != 0) corpus_free(c);
    return rc;
}

void corpus_free(Corpus *c) {
    for (int i = 0; i < c->n_docs; i++) doc_free(&c->docs[i]);
    free(c->docs);
    memset(c, 0, sizeof *c);
}
