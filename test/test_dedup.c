// Duplicate detection for `tokenize --dedup` (include/dedup.h): exact copies,
// near copies (a few words changed, case and punctuation), unrelated texts, and
// the MinHash estimate against the true Jaccard similarity of the 5-word
// shingle sets, computed here directly.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dedup.h"
#include "rng.h"
#include "test.h"

// n words drawn from a vocabulary of 5000, into buf
static void words(char *buf, int n, uint64_t *state) {
    buf[0] = '\0';
    for (int i = 0; i < n; i++) sprintf(buf + strlen(buf), "w%u ", (unsigned)(rng_next(state) % 5000));
}

// b: a with k words (spread evenly) replaced by words not in the vocabulary
static void edit(const char *a, char *b, int k, int n) {
    b[0] = '\0';
    const char *p = a;
    for (int i = 0; i < n; i++) {
        const char *sp = strchr(p, ' ');
        if (k && i % (n / k) == n / k / 2) sprintf(b + strlen(b), "x%d ", i);
        else strncat(b, p, (size_t)(sp - p + 1));
        p = sp + 1;
    }
}

static int cmp_str(const void *x, const void *y) { return strcmp(*(char *const *)x, *(char *const *)y); }

// the 5-word shingles of a space-separated text, sorted
static int shingles(const char *text, char ***out) {
    char *copy = strdup(text), *save, *w[4096];
    int n = 0;
    for (char *t = strtok_r(copy, " ", &save); t; t = strtok_r(NULL, " ", &save)) w[n++] = t;
    char **s = malloc((size_t)(n + 1) * sizeof *s);
    int m = 0;
    for (int i = 0; i + 5 <= n; i++) {
        s[m] = malloc(256);
        snprintf(s[m++], 256, "%s %s %s %s %s", w[i], w[i + 1], w[i + 2], w[i + 3], w[i + 4]);
    }
    qsort(s, (size_t)m, sizeof *s, cmp_str);
    free(copy);
    *out = s;
    return m;
}

static double true_jaccard(const char *a, const char *b) {
    char **x, **y;
    int nx = shingles(a, &x), ny = shingles(b, &y), i = 0, j = 0, both = 0;
    while (i < nx && j < ny) {
        int c = strcmp(x[i], y[j]);
        if (c == 0) both++, i++, j++;
        else if (c < 0) i++;
        else j++;
    }
    for (int k = 0; k < nx; k++) free(x[k]);
    for (int k = 0; k < ny; k++) free(y[k]);
    free(x), free(y);
    return (double)both / (nx + ny - both);
}

static void test_exact_and_near(void) {
    static char a[40000], b[40000], c[40000];
    uint64_t s = 7;
    words(a, 400, &s);
    words(c, 400, &s);
    edit(a, b, 4, 400);
    Dedup *d = dedup_new(1, 0.8);
    CHECK(dedup_check(d, a, strlen(a)) == DUP_NONE, "the first text is new");
    CHECK(dedup_check(d, a, strlen(a)) == DUP_EXACT, "its copy is an exact duplicate");
    CHECK(dedup_check(d, b, strlen(b)) == DUP_NEAR, "4 of 400 words changed: a near duplicate (J %.2f)", true_jaccard(a, b));
    CHECK(dedup_check(d, c, strlen(c)) == DUP_NONE, "an unrelated text is new");
    const char *x = "Hello, World: the River and the Bridge!", *y = "hello world the river and THE bridge";
    CHECK(dedup_check(d, x, strlen(x)) == DUP_NONE, "a short text is new");
    CHECK(dedup_check(d, y, strlen(y)) == DUP_NEAR, "case and punctuation do not count");
    const char *p1 = "...", *p2 = "!!!";
    CHECK(dedup_check(d, p1, 3) == DUP_NONE && dedup_check(d, p2, 3) == DUP_NONE, "texts without words: exact matches only");
    dedup_free(d);
    d = dedup_new(0, 0.8);
    dedup_check(d, a, strlen(a));
    CHECK(dedup_check(d, b, strlen(b)) == DUP_NONE, "exact mode leaves near duplicates");
    CHECK(dedup_check(d, a, strlen(a)) == DUP_EXACT, "exact mode finds copies");
    dedup_free(d);
}

// With 128 bins the estimate's standard deviation is sqrt(J(1-J)/128) <= 0.045:
// every pair must be within 0.15 (over 3 sigma), and the mean error under 0.03.
static void test_estimate(void) {
    static char a[40000], b[40000];
    uint64_t s = 11;
    double worst = 0, sum = 0;
    int n = 0;
    for (int k = 0; k <= 60; k += 4, n++) {
        words(a, 600, &s);
        edit(a, b, k, 600);
        double est = dedup_similarity(a, strlen(a), b, strlen(b)), truth = true_jaccard(a, b);
        double err = est > truth ? est - truth : truth - est;
        if (err > worst) worst = err;
        sum += est - truth;
    }
    CHECK(worst < 0.15, "largest estimate error %.3f", worst);
    CHECK(sum / n < 0.03 && sum / n > -0.03, "mean estimate error %.3f", sum / n);
}

int main(void) {
    RUN_TEST(test_exact_and_near);
    RUN_TEST(test_estimate);
    return test_summary();
}
