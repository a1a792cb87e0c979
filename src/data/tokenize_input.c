// Document readers for `tokenize` (see include/tokenize_input.h). JSONL records
// are parsed here rather than with cJSON because cJSON's strings end at the
// first NUL, and a document's bytes must reach the tokenizer exactly.
#include "tokenize_input.h"

#include <stdlib.h>
#include <string.h>
#include "decompress.h"
#include "util.h"

#define READ_BLOCK (1 << 20)

void byte_buf_append(ByteBuf *b, const void *data, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1) cap *= 2;
        b->data = realloc(b->data, cap);
        if (!b->data) die("out of memory growing a buffer to %zu bytes", cap);
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void byte_buf_free(ByteBuf *b) {
    free(b->data);
    memset(b, 0, sizeof *b);
}

// ---- JSON ------------------------------------------------------------------

typedef struct {
    const char *p, *begin, *end;
    const char *why;
} Json;

static int json_fail(Json *j, const char *why) {
    if (!j->why) j->why = why;
    return -1;
}

static void json_ws(Json *j) {
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')) j->p++;
}

static int json_literal(Json *j, const char *word) {
    size_t n = strlen(word);
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n) != 0) return json_fail(j, "invalid literal");
    j->p += n;
    return 0;
}

static int json_hex4(Json *j, unsigned *v) {
    if (j->end - j->p < 4) return json_fail(j, "truncated \\u escape");
    *v = 0;
    for (int i = 0; i < 4; i++) {
        char c = j->p[i];
        int d = c >= '0' && c <= '9' ? c - '0' : (c | 0x20) >= 'a' && (c | 0x20) <= 'f' ? (c | 0x20) - 'a' + 10 : -1;
        if (d < 0) return json_fail(j, "bad \\u escape");
        *v = *v << 4 | (unsigned)d;
    }
    j->p += 4;
    return 0;
}

static void put_utf8(ByteBuf *out, unsigned c) {
    char b[4];
    int n;
    if (c < 0x80) b[0] = (char)c, n = 1;
    else if (c < 0x800) b[0] = (char)(0xc0 | c >> 6), b[1] = (char)(0x80 | (c & 0x3f)), n = 2;
    else if (c < 0x10000)
        b[0] = (char)(0xe0 | c >> 12), b[1] = (char)(0x80 | (c >> 6 & 0x3f)), b[2] = (char)(0x80 | (c & 0x3f)), n = 3;
    else
        b[0] = (char)(0xf0 | c >> 18), b[1] = (char)(0x80 | (c >> 12 & 0x3f)), b[2] = (char)(0x80 | (c >> 6 & 0x3f)),
        b[3] = (char)(0x80 | (c & 0x3f)), n = 4;
    byte_buf_append(out, b, n);
}

// \uXXXX, with a following low surrogate when it is a high one. A lone
// surrogate cannot be UTF-8 and becomes U+FFFD (as JavaScript's encoders do).
static int json_unicode_escape(Json *j, ByteBuf *out) {
    unsigned c, lo;
    if (json_hex4(j, &c) != 0) return -1;
    if (c >= 0xd800 && c < 0xdc00 && j->end - j->p >= 6 && j->p[0] == '\\' && j->p[1] == 'u') {
        const char *save = j->p;
        j->p += 2;
        if (json_hex4(j, &lo) != 0) return -1;
        if (lo >= 0xdc00 && lo < 0xe000) c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
        else j->p = save;
    }
    if (out) put_utf8(out, c >= 0xd800 && c < 0xe000 ? 0xfffd : c);
    return 0;
}

// A string at j->p; decoded into out when out is not NULL. Bytes other than
// quotes, backslashes and control characters pass through as they are.
static int json_string(Json *j, ByteBuf *out) {
    j->p++;
    for (;;) {
        const char *s = j->p;
        while (j->p < j->end && *j->p != '"' && *j->p != '\\' && (unsigned char)*j->p >= 0x20) j->p++;
        if (out) byte_buf_append(out, s, j->p - s);
        if (j->p >= j->end) return json_fail(j, "unterminated string");
        if (*j->p == '"') {
            j->p++;
            return 0;
        }
        if (*j->p != '\\') return json_fail(j, "control character inside a string");
        if (j->p + 1 >= j->end) return json_fail(j, "unterminated string");
        char e = j->p[1], lit;
        j->p += 2;
        switch (e) {
        case '"': lit = '"'; break;
        case '\\': lit = '\\'; break;
        case '/': lit = '/'; break;
        case 'b': lit = '\b'; break;
        case 'f': lit = '\f'; break;
        case 'n': lit = '\n'; break;
        case 'r': lit = '\r'; break;
        case 't': lit = '\t'; break;
        case 'u':
            if (json_unicode_escape(j, out) != 0) return -1;
            continue;
        default: return json_fail(j, "bad escape in a string");
        }
        if (out) byte_buf_append(out, &lit, 1);
    }
}

static int json_number(Json *j) {
    const char *s = j->p;
    if (j->p < j->end && *j->p == '-') j->p++;
    const char *digits = j->p;
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9') j->p++;
    if (j->p == digits) return json_fail(j, "unexpected character");
    if (j->p < j->end && *j->p == '.') {
        digits = ++j->p;
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9') j->p++;
        if (j->p == digits) return json_fail(j, "bad number");
    }
    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        j->p++;
        if (j->p < j->end && (*j->p == '+' || *j->p == '-')) j->p++;
        digits = j->p;
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9') j->p++;
        if (j->p == digits) return json_fail(j, "bad number");
    }
    return j->p > s ? 0 : -1;
}

static int json_value(Json *j, int depth);

// An array of strings at j->p, decoded into out one after the other: QuALITY
// stores an article as the list of its lines, each ending in its own newline.
// Returns 1, consuming nothing, when an element is not a string.
static int json_string_array(Json *j, ByteBuf *out) {
    const char *start = j->p;
    j->p++;
    json_ws(j);
    if (j->p < j->end && *j->p == ']') {
        j->p++;
        return 0;
    }
    for (;;) {
        json_ws(j);
        if (j->p >= j->end) return json_fail(j, "unexpected end of line");
        if (*j->p != '"') {
            j->p = start;
            return 1;
        }
        if (json_string(j, out) != 0) return -1;
        json_ws(j);
        if (j->p < j->end && *j->p == ',') {
            j->p++;
            continue;
        }
        if (j->p < j->end && *j->p == ']') {
            j->p++;
            return 0;
        }
        return json_fail(j, "expected ',' or ']'");
    }
}

// An object or array at j->p; for the top-level object, the value of `field`
// (the last one, as JavaScript and Python keep) is decoded into out.
static int json_container(Json *j, int depth, const char *field, ByteBuf *out, int *found) {
    char close = *j->p == '{' ? '}' : ']';
    size_t field_len = field ? strlen(field) : 0, keep = out ? out->len : 0;
    ByteBuf key = {0};
    int rc = -1;
    j->p++;
    json_ws(j);
    if (j->p < j->end && *j->p == close) {
        j->p++;
        return 0;
    }
    for (;;) {
        json_ws(j);
        int match = 0;
        if (close == '}') {
            if (j->p >= j->end || *j->p != '"') {
                json_fail(j, "expected a string key");
                break;
            }
            key.len = 0;
            if (json_string(j, field ? &key : NULL) != 0) break;
            match = field && key.len == field_len && memcmp(key.data, field, field_len) == 0;
            json_ws(j);
            if (j->p >= j->end || *j->p != ':') {
                json_fail(j, "expected ':' after a key");
                break;
            }
            j->p++;
            json_ws(j);
        }
        int got = 1;  // 0: the field's value decoded into out
        if (match && j->p < j->end && (*j->p == '"' || *j->p == '[')) {
            out->len = keep;
            got = *j->p == '"' ? json_string(j, out) : json_string_array(j, out);
            if (got < 0) break;
            if (got == 0) *found = 1;
            else out->len = keep, *found = 0;  // the last value counts, and it is not text
        }
        if (got == 1 && json_value(j, depth + 1) != 0) break;
        json_ws(j);
        if (j->p < j->end && *j->p == ',') {
            j->p++;
            continue;
        }
        if (j->p < j->end && *j->p == close) {
            j->p++;
            rc = 0;
        } else {
            json_fail(j, close == '}' ? "expected ',' or '}'" : "expected ',' or ']'");
        }
        break;
    }
    byte_buf_free(&key);
    return rc;
}

static int json_value(Json *j, int depth) {
    json_ws(j);
    if (j->p >= j->end) return json_fail(j, "unexpected end of line");
    if (depth > 256) return json_fail(j, "nested too deeply");
    switch (*j->p) {
    case '{':
    case '[': return json_container(j, depth, NULL, NULL, NULL);
    case '"': return json_string(j, NULL);
    case 't': return json_literal(j, "true");
    case 'f': return json_literal(j, "false");
    case 'n': return json_literal(j, "null");
    default: return json_number(j);
    }
}

int jsonl_string_field(const char *line, size_t len, const char *field, ByteBuf *out,
                       const char **why, size_t *where) {
    Json j = {.p = line, .begin = line, .end = line + len};
    int found = 0;
    json_ws(&j);
    if (j.p >= j.end || *j.p != '{') json_fail(&j, "not a JSON object");
    else if (json_container(&j, 0, field, out, &found) == 0) {
        json_ws(&j);
        if (j.p < j.end) json_fail(&j, "text after the JSON object");
    }
    if (j.why) {
        *why = j.why;
        *where = j.p - j.begin;
        return -1;
    }
    return found;
}

// ---- documents ---------------------------------------------------------------

int doc_reader_open(DocReader *r, const char *path, DocMode mode, const char *field) {
    memset(r, 0, sizeof *r);
    if (!(r->in = in_stream_open(path))) return -1;
    r->path = xstrdup(strcmp(path, "-") == 0 ? "<stdin>" : path);
    r->mode = mode;
    r->field = field;
    r->cap = READ_BLOCK;
    r->buf = xmalloc(r->cap);
    return 0;
}

void doc_reader_close(DocReader *r) {
    in_stream_close(r->in);
    free(r->buf);
    free(r->path);
    memset(r, 0, sizeof *r);
}

// Reads more input after the unconsumed bytes, growing the buffer when it is
// full of them. Returns the bytes added (0 at the end), -1 on a read error.
static long fill(DocReader *r) {
    if (r->eof) return 0;
    if (r->start > 0) {
        memmove(r->buf, r->buf + r->start, r->end - r->start);
        r->end -= r->start;
        r->start = 0;
    }
    if (r->end == r->cap) {
        r->buf = realloc(r->buf, r->cap *= 2);
        if (!r->buf) die("%s: out of memory for a %zu-byte line", r->path, r->cap);
    }
    long got = in_stream_read(r->in, r->buf + r->end, r->cap - r->end);
    if (got < 0) return -1;
    if (got == 0) r->eof = 1;
    r->end += got;
    r->bytes_read = in_stream_file_bytes(r->in);
    return got;
}

// The next line without its "\n" or "\r\n": 1, 0 at the end, -1 on error.
static int next_line(DocReader *r, const char **line, size_t *len) {
    size_t scanned = r->start;
    for (;;) {
        char *nl = memchr(r->buf + scanned, '\n', r->end - scanned);
        if (nl || (r->eof && r->start < r->end)) {
            size_t stop = nl ? (size_t)(nl - r->buf) : r->end;
            *line = r->buf + r->start;
            *len = stop - r->start;
            if (*len && (*line)[*len - 1] == '\r') (*len)--;
            r->start = nl ? stop + 1 : stop;
            r->line_no++;
            return 1;
        }
        if (r->eof) return 0;
        size_t pending = r->end - r->start;
        long got = fill(r);
        if (got < 0) return -1;
        scanned = r->start + pending;
    }
}

static int is_blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\f' && s[i] != '\v') return 0;
    return 1;
}

static int next_jsonl(DocReader *r, ByteBuf *out) {
    const char *line;
    size_t len;
    int rc;
    while ((rc = next_line(r, &line, &len)) == 1) {
        if (is_blank(line, len)) continue;
        const char *why;
        size_t where;
        out->len = 0;
        int found = jsonl_string_field(line, len, r->field, out, &why, &where);
        if (found < 0) {
            scpt_set_error("%s:%lld: not a valid JSON object: %s at byte %zu", r->path, (long long)r->line_no, why,
                           where + 1);
            return -1;
        }
        if (!found) {
            scpt_set_error("%s:%lld: the record has no field \"%s\" holding a string or an array of strings", r->path, (long long)r->line_no, r->field);
            return -1;
        }
        if (out->len > 0) return 1;
    }
    return rc;
}

int doc_reader_next(DocReader *r, ByteBuf *out, int *starts_doc) {
    const char *line;
    size_t len;
    int rc;
    out->len = 0;
    *starts_doc = 1;
    switch (r->mode) {
    case DOCS_FILE:
        if (r->start == r->end && fill(r) < 0) return -1;
        if (r->start == r->end) return 0;
        byte_buf_append(out, r->buf + r->start, r->end - r->start);
        r->start = r->end;
        *starts_doc = !r->in_file_doc;
        r->in_file_doc = 1;
        return 1;
    case DOCS_LINES:
        while ((rc = next_line(r, &line, &len)) == 1)
            if (len) {
                byte_buf_append(out, line, len);
                return 1;
            }
        return rc;
    case DOCS_PARAGRAPHS:
        while ((rc = next_line(r, &line, &len)) == 1) {
            if (is_blank(line, len)) {
                if (out->len) return 1;
                continue;
            }
            if (out->len) byte_buf_append(out, "\n", 1);
            byte_buf_append(out, line, len);
        }
        return rc < 0 ? -1 : out->len > 0;
    case DOCS_JSONL: return next_jsonl(r, out);
    }
    return -1;
}
