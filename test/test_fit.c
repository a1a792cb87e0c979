// Tests of the scaling-curve fits: exact recovery of known curves, and the fits
// through the published EntiGraph points (test/data/entigraph_scaling.csv).
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
    MixExpFit truth = {0.39, 0.06, 7e6, 0.12, 1.5e8};
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

static void test_published_points(void) {
    FILE *f = fopen("test/data/entigraph_scaling.csv", "r");
    CHECK(f != NULL, "test/data/entigraph_scaling.csv");
    if (!f) return;
    double n[64], acc[64];
    int count = 0;
    char line[512], name[64];
    while (fgets(line, sizeof line, f) && count < 64)
        if (line[0] != '#' && sscanf(line, "%63[^,],%lf,%lf", name, &n[count], &acc[count]) == 3 &&
            strcmp(name, "EntiGraph") == 0)
            count++;
    fclose(f);
    CHECK(count >= 2, "%d EntiGraph points", count);
    MixExpFit m;
    if (count >= 3) {
        CHECK(fit_mixexp(n, acc, count, &m) == 0, "%s", scpt_error());
        // within 0.01 (one QuALITY point) of every published accuracy
        for (int k = 0; k < count; k++) CHECK_NEAR(mixexp_at(&m, n[k]), acc[k], 0.01, "mixture at a published point");
    } else {
        CHECK(fit_mixexp(n, acc, count, &m) == -1, "too few points refused");
    }
    LogLinFit l;
    int positive = 0;
    for (int k = 0; k < count; k++) positive += n[k] > 0;
    if (positive >= 3) {
        CHECK(fit_loglinear(n, acc, count, &l) == 0, "%s", scpt_error());
        for (int k = 0; k < count; k++)
            if (n[k] > 0) CHECK_NEAR(loglinear_at(&l, n[k]), acc[k], 0.02, "line at a published point");
    }
}

int main(void) {
    RUN_TEST(test_loglinear_exact);
    RUN_TEST(test_mixexp_recovers_a_mixture);
    RUN_TEST(test_published_points);
    return test_summary();
}
