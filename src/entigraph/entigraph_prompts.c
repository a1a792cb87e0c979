// Prompt files: "@system" and "@user" sections with {name} placeholders.
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "entigraph.h"
#include "util.h"

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        scpt_set_error("%s: cannot open prompt: %s", path, strerror(errno));
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = xmalloc((size_t)n + 1);
    if (n < 0 || read_exact(f, s, (size_t)n, path) != 0) {
        fclose(f);
        free(s);
        return NULL;
    }
    s[n] = '\0';
    fclose(f);
    return s;
}

// a {name} placeholder at s: its length (without braces), 0 when s is not one
static size_t placeholder_len(const char *s) {
    if (s[0] != '{') return 0;
    size_t n = 1;
    while (islower((unsigned char)s[n]) || isdigit((unsigned char)s[n]) || s[n] == '_') n++;
    return s[n] == '}' && n > 1 ? n - 1 : 0;
}

static int check_names(const char *path, const char *section, const char *text,
                       const char *const *allowed) {
    for (const char *p = strchr(text, '{'); p; p = strchr(p + 1, '{')) {
        size_t n = placeholder_len(p);
        if (n == 0) continue;
        int ok = 0;
        for (const char *const *a = allowed; *a && !ok; a++) ok = strlen(*a) == n && !strncmp(*a, p + 1, n);
        if (!ok) {
            scpt_set_error("%s: %s section uses unknown placeholder {%.*s}", path, section, (int)n, p + 1);
            return -1;
        }
    }
    return 0;
}

static char *trimmed_copy(const char *s, size_t n) {
    while (n > 0 && isspace((unsigned char)*s)) s++, n--;
    while (n > 0 && isspace((unsigned char)s[n - 1])) n--;
    char *out = xmalloc(n + 1);
    memcpy(out, s, n);
    out[n] = '\0';
    return out;
}

int prompt_load(Prompt *p, const char *path, const char *const *allowed_names) {
    memset(p, 0, sizeof *p);
    char *text = slurp(path);
    if (!text) return -1;
    // find the section markers: "@system" / "@user" alone on a line
    const char *sys = NULL, *usr = NULL, *sys_end = NULL, *usr_end = NULL;
    for (char *line = text; *line;) {
        char *nl = strchr(line, '\n');
        size_t n = nl ? (size_t)(nl - line) : strlen(line);
        while (n > 0 && isspace((unsigned char)line[n - 1])) n--;
        char *next = nl ? nl + 1 : line + strlen(line);
        int is_sys = n == 7 && !strncmp(line, "@system", 7), is_usr = n == 5 && !strncmp(line, "@user", 5);
        if (is_sys || is_usr) {
            if (sys && !sys_end) sys_end = line;
            if (usr && !usr_end) usr_end = line;
            if ((is_sys && sys) || (is_usr && usr)) {
                scpt_set_error("%s: section @%s appears twice", path, is_sys ? "system" : "user");
                free(text);
                return -1;
            }
            if (is_sys) sys = next;
            else usr = next;
        } else if (!sys && !usr && n > 0 && line[0] != '#') {
            scpt_set_error("%s: text before the first @system/@user section (comments start with #)", path);
            free(text);
            return -1;
        }
        line = next;
    }
    if (!usr) {
        scpt_set_error("%s: no @user section", path);
        free(text);
        return -1;
    }
    const char *end = text + strlen(text);
    p->system = sys ? trimmed_copy(sys, (size_t)((sys_end ? sys_end : end) - sys)) : xstrdup("");
    p->user = trimmed_copy(usr, (size_t)((usr_end ? usr_end : end) - usr));
    p->path = xstrdup(path);
    free(text);
    if (check_names(path, "@system", p->system, allowed_names) != 0 ||
        check_names(path, "@user", p->user, allowed_names) != 0) {
        prompt_free(p);
        return -1;
    }
    return 0;
}

char *prompt_fill(const char *tmpl, const char *const *names, const char *const *values, int n) {
    size_t cap = strlen(tmpl) + 1, len = 0;
    for (int i = 0; i < n; i++) cap += strlen(values[i]);   // enough when each name is used once
    char *out = xmalloc(cap);
    for (const char *p = tmpl; *p;) {
        size_t k = placeholder_len(p);
        int i = 0;
        for (; k && i < n; i++)
            if (strlen(names[i]) == k && !strncmp(names[i], p + 1, k)) break;
        const char *piece = p;
        size_t piece_len = 1;
        if (k && i < n) piece = values[i], piece_len = strlen(values[i]);
        if (len + piece_len + 1 > cap) {
            cap = (len + piece_len + 1) * 2;
            out = realloc(out, cap);
            if (!out) die("out of memory filling a prompt");
        }
        memcpy(out + len, piece, piece_len);
        len += piece_len;
        p += k && i < n ? k + 2 : 1;
    }
    out[len] = '\0';
    return out;
}

void prompt_free(Prompt *p) {
    free(p->path);
    free(p->system);
    free(p->user);
    memset(p, 0, sizeof *p);
}
