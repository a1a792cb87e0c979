// Tests of the scaling-curve fits: exact recovery of known curves, and the paper's own
// numbers: its stated accuracies (test/data/entigraph_scaling.csv) and its fitted
// mixture-of-exponential curve (test/data/entigraph_mixexp_paper.csv).
#include "fit.h"
#include "test.h"

// token counts of the paper's scaling runs: 455M / 2^k
static void tokens(double *n, int count) {
    for (int k = 0; k < count; k++) n[k] = 455e6 / pow(2, count - 1 - k);
}

static void test_loglinear_exact(void) {
    double n[9], acc[9];
    tokens(n, 9);
    for (int k = 0; k < 9; k++) acc[k] = 0.1 + 0.02 * log(n[k]);
    LogLinFit f;
    CHECK(fit_loglinear(n, acc, 9, &f) == 0, "%s", scpt_error());
    CHECK_NEAR(f.a, 0.1, 1e-9, "intercept");
    CHECK_NEAR(f.b, 0.02, 1e-11, "slope");
    CHECK(fit_loglinear(n, acc, 1, &f) == -1, "one point refused");
}

// points drawn from a two-rate mixture with time constants between grid nodes: the fit
// must pass within 0.002 (0.2 accuracy points) of every point; not exact, since the grid
// spaces time constants about 9% apart
static void test_mixexp_recovers_a_mixture(void) {
    MixExpFit truth = {0.39, {0.06, 0.12}, {7e6, 1.5e8}};
    double n[10], acc[10];
    n[0] = 0;
    tokens(n + 1, 9);
    for (int k = 0; k < 10; k++) acc[k] = mixexp_at(&truth, n[k]);
    MixExpFit f;
    CHECK(fit_mixexp(n, acc, 10, &f) == 0, "%s", scpt_error());
    for (int k = 0; k < 10; k++) CHECK_NEAR(mixexp_at(&f, n[k]), acc[k], 2e-3, "fitted curve at a point");
    CHECK_NEAR(f.a0, truth.a0, 2e-3, "accuracy at zero tokens");
    // a log-linear trend is not a mixture of two exponentials: its fit error is larger
    LogLinFit l;
    CHECK(fit_loglinear(n, acc, 10, &l) == 0, "%s", scpt_error());
    double err = 0;
    for (int k = 1; k < 10; k++) err = fmax(err, fabs(loglinear_at(&l, n[k]) - acc[k]));
    CHECK(err > 5e-3, "the line does not fit the saturating mixture (max err %.4f)", err);
}

// the paper's curve y(x) = a - sum b_i r_i^x (x in millions, y in percent) in fit.h's form
static MixExpFit paper_curve(void) {
    MixExpFit m = {0};
    FILE *f = fopen("test/data/entigraph_mixexp_paper.csv", "r");
    CHECK(f != NULL, "test/data/entigraph_mixexp_paper.csv");
    if (!f) return m;
    char line[512];
    double a = 0, b[3] = {0}, r[3] = {0};
    int got = 0;
    while (fgets(line, sizeof line, f) && got != 7)
        if (line[0] != '#' && line[0] != 'a')
            got = sscanf(line, "%lf,%lf,%lf,%lf,%lf,%lf,%lf", &a, &b[0], &r[0], &b[1], &r[1], &b[2], &r[2]);
    fclose(f);
    CHECK(got == 7, "the paper's seven parameters read");
    m.a0 = a / 100;
    // the paper lists its slowest rate first; fit.h keeps ascending time constants
    for (int i = 0; i < 3; i++) m.c[2 - i] = b[i] / 100, m.t[2 - i] = -1e6 / log(r[i]), m.a0 -= b[i] / 100;
    // the conversion is exact: both forms agree at any token count
    for (double x = 0.1; x < 1e4; x *= 3.7) {
        double y = a;
        for (int i = 0; i < 3; i++) y -= b[i] * pow(r[i], x);
        CHECK(fabs(mixexp_at(&m, x * 1e6) - y / 100) < 1e-12, "the paper's form at %g M tokens", x);
    }
    return m;
}

static int read_points(const char *path, double *n, double *acc, int max) {
    FILE *f = fopen(path, "r");
    CHECK(f != NULL, "%s", path);
    if (!f) return 0;
    int count = 0;
    char line[512], name[64];
    while (fgets(line, sizeof line, f) && count < max)
        if (line[0] != '#' && sscanf(line, "%63[^,],%lf,%lf", name, &n[count], &acc[count]) == 3 &&
            strcmp(name, "EntiGraph") == 0)
            count++;
    fclose(f);
    return count;
}

// The paper's fitted curve against the accuracies it states: within 1.5 points of each.
// The bound is the paper's own: its fit gives 38.31% at zero tokens, 1.18 points under
// the 39.49% it reports for the base model (and 56.16% at 455M against 56.22%).
static void test_paper_curve_meets_stated_points(void) {
    MixExpFit paper = paper_curve();
    double n[8], acc[8];
    int count = read_points("test/data/entigraph_scaling.csv", n, acc, 8);
    CHECK(count == 2, "%d stated EntiGraph points", count);
    for (int k = 0; k < count; k++)
        CHECK(fabs(mixexp_at(&paper, n[k]) - acc[k]) < 0.015, "the paper's curve at its stated %g tokens: %.4f vs %.4f",
              n[k], mixexp_at(&paper, n[k]), acc[k]);
    MixExpFit m;
    CHECK(fit_mixexp(n, acc, count, &m) == -1, "two points are too few for a mixture");
}

// Our fit on the paper's curve, sampled at zero tokens and at the token counts of
// subsamples halving the 455M corpus down to 0.9M (the range of the paper's figure):
// the fitted curve must pass within 0.1 accuracy points of every sample and stay within
// 0.2 of the paper's curve between them, with the paper's parameters (time constants to
// 1%: the samples pin them down, the fit's refinement goes to a millionth). The log-linear line, the paper's first
// description of the trend, is within 2 points over that range but misses it by more
// than the mixture does.
static void test_fit_recovers_paper_curve(void) {
    MixExpFit paper = paper_curve(), m;
    double n[11], acc[11];
    n[0] = 0;
    tokens(n + 1, 10);
    for (int k = 0; k < 11; k++) acc[k] = mixexp_at(&paper, n[k]);
    CHECK(fit_mixexp(n, acc, 11, &m) == 0, "%s", scpt_error());
    double err_mix = 0, err_line = 0;
    for (int k = 0; k < 11; k++) err_mix = fmax(err_mix, fabs(mixexp_at(&m, n[k]) - acc[k]));
    CHECK(err_mix < 1e-3, "mixture within 0.1 points of every sample (max err %.5f)", err_mix);
    // the paper's three rates come back: its time constants are 0.34M, 9.1M and 909M tokens
    for (int i = 0; i < MIXEXP_RATES; i++) {
        CHECK(fabs(m.t[i] / paper.t[i] - 1) < 0.01, "time constant %d: %.4g vs the paper's %.4g", i, m.t[i], paper.t[i]);
        CHECK(fabs(m.c[i] - paper.c[i]) < 1e-3, "weight %d: %.4f vs the paper's %.4f", i, m.c[i], paper.c[i]);
    }
    for (double x = n[1]; x < 455e6; x *= 1.09)
        CHECK(fabs(mixexp_at(&m, x) - mixexp_at(&paper, x)) < 2e-3, "between the samples, at %.3g tokens", x);
    LogLinFit l;
    CHECK(fit_loglinear(n, acc, 11, &l) == 0, "%s", scpt_error());
    for (int k = 1; k < 11; k++) err_line = fmax(err_line, fabs(loglinear_at(&l, n[k]) - acc[k]));
    CHECK(err_line < 0.02, "line within 2 points of every sample (max err %.4f)", err_line);
    CHECK(err_line > err_mix, "the mixture fits closer than the line (%.5f vs %.5f)", err_mix, err_line);
}

int main(void) {
    RUN_TEST(test_loglinear_exact);
    RUN_TEST(test_mixexp_recovers_a_mixture);
    RUN_TEST(test_paper_curve_meets_stated_points);
    RUN_TEST(test_fit_recovers_paper_curve);
    return test_summary();
}
