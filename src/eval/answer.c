// Which option a chain-of-thought completion chose (the rules are in eval_gen.h).
#define _GNU_SOURCE
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "eval_gen.h"

// the option index of letter c, -1 when c is not one of the n labels
static int label_of(char c, int n) {
    int i = tolower((unsigned char)c) - 'a';
    return i >= 0 && i < n ? i : -1;
}

static int is_word_char(char c) { return isalnum((unsigned char)c) || c == '_'; }

// A label standing alone at s (after a marker): "B", "(B)", "[B]", "**B**", "option B".
// Returns the index and sets *end past it, or -1.
static int label_at(const char *s, int n, const char **end) {
    while (*s == ' ' || *s == '\t' || *s == '*') s++;
    if (!strncasecmp(s, "option ", 7)) s += 7;
    else if (!strncasecmp(s, "choice ", 7)) s += 7;
    char open = *s == '(' || *s == '[' ? *s++ : 0;
    int i = label_of(*s, n);
    if (i < 0 || is_word_char(s[1])) return -1;
    s++;
    if (open) {
        if (*s != (open == '(' ? ')' : ']')) return -1;
        s++;
    } else {
        // "A man ...", "a bit unclear": a bare letter and then a word is prose
        const char *t = s;
        while (*t == ' ' || *t == '\t') t++;
        if (t > s && isalpha((unsigned char)*t)) return -1;
    }
    *end = s;
    return i;
}

// another label in the rest of the sentence after a chosen one: "B or C", "B, C"
static int another_label(const char *s, int n, int chosen) {
    for (; *s && *s != '\n'; s++) {
        if (*s == '.' && (s[1] == ' ' || s[1] == '\n' || s[1] == '\0')) return 0;   // the sentence ends
        if (is_word_char(*s) && (s[1] == '\0' || !is_word_char(s[1])) && label_of(*s, n) >= 0 &&
            label_of(*s, n) != chosen && (isupper((unsigned char)*s) || s[-1] == '(')) {
            // a capital letter standing alone, or "(c)"
            if (s[-1] == ' ' || s[-1] == '(' || s[-1] == ',' || s[-1] == '/') return 1;
        }
    }
    return 0;
}

// the label after a marker ending at s, -1 when none or ambiguous
static int label_after(const char *s, int n) {
    const char *end;
    int i = label_at(s, n, &end);
    return i >= 0 && !another_label(end, n, i) ? i : -1;
}

// 1: the first line beginning with "Answer:"
static int answer_line(const char *text, int n, int *found) {
    for (const char *line = text; line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        const char *s = line;
        while (*s == ' ' || *s == '\t' || *s == '*' || *s == '#' || *s == '>') s++;
        if (strncasecmp(s, "answer", 6) != 0) continue;
        s += 6;
        while (*s == '*') s++;
        if (*s != ':') continue;
        *found = 1;
        return label_after(s + 1, n);
    }
    *found = 0;
    return -1;
}

// 2: the last "answer is" or "answer:" anywhere
static int answer_in_prose(const char *text, int n, int *found) {
    const char *best = NULL;
    for (const char *p = text; (p = strcasestr(p, "answer")); p += 6) {
        if (p > text && is_word_char(p[-1])) continue;
        const char *s = p + 6;
        while (*s == '*') s++;
        if (*s == ':') best = s + 1;
        else if (!strncasecmp(s, " is", 3) && !is_word_char(s[3])) best = s + 3;
        else if (!strncasecmp(s, " would be", 9) && !is_word_char(s[9])) best = s + 9;
    }
    *found = best != NULL;
    return best ? label_after(best, n) : -1;
}

// 3: the completion is a label alone
static int bare_label(const char *text, int n) {
    const char *s = text;
    while (isspace((unsigned char)*s) || *s == '*' || *s == '(' || *s == '[') s++;
    int i = label_of(*s, n);
    if (i < 0) return -1;
    for (s++; *s; s++)
        if (!isspace((unsigned char)*s) && !strchr("*.)]:", *s)) return -1;
    return i;
}

int extract_answer(const char *completion, int n_options) {
    if (!completion || n_options < 1 || n_options > 26) return -1;
    int found;
    int i = answer_line(completion, n_options, &found);
    if (found) return i;
    i = answer_in_prose(completion, n_options, &found);
    if (found) return i;
    return bare_label(completion, n_options);
}

int majority_vote(const int *answers, int n) {
    int best = -1, best_count = 0;
    for (int i = 0; i < n; i++) {
        if (answers[i] < 0) continue;
        int count = 0;
        for (int j = 0; j < n; j++) count += answers[j] == answers[i];
        if (count > best_count) best = answers[i], best_count = count;   // strictly more: ties to the first seen
    }
    return best;
}
