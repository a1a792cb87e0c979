// The CPU twins of the fused residual + norm kernels (src/model/residual_norm.c)
// against the definition computed here in double precision: residual = a + b, then
// LayerNorm ((r - mean) / sqrt(var + eps) * w + b) or RMSNorm (r / sqrt(mean(r^2) + eps) * w)
// of each row. Shapes: one row, an odd width, and several rows of GPT-2's width.
#include <math.h>
#include <stdlib.h>
#include "layers.h"
#include "rng.h"
#include "test.h"

static uint64_t rng_state = 7;

static real *random_reals(size_t n, double scale, double offset) {
    real *x = malloc(n * sizeof(real));
    for (size_t i = 0; i < n; i++) x[i] = (real)(offset + (2 * rng_uniform(&rng_state) - 1) * scale);
    return x;
}

static void residual_norm_case(int N, int C, int rms) {
    size_t n = (size_t)N * C;
    const float eps = 1e-5f;
    // an offset makes the LayerNorm's mean non-zero, so subtracting it matters
    real *a = random_reals(n, 2, 0.5), *b = random_reals(n, 1, 0), *w = random_reals(C, 1, 0);
    real *bias = random_reals(C, 0.5, 0), *res = malloc(n * sizeof(real)), *out = malloc(n * sizeof(real));
    real *mean = calloc(N, sizeof(real)), *rstd = malloc(N * sizeof(real));
    if (rms) residual_rmsnorm_forward(res, out, rstd, a, b, w, N, C, eps);
    else residual_layernorm_forward(res, out, mean, rstd, a, b, w, bias, N, C, eps);

    int res_exact = 1;
    double worst_out = 0, worst_stat = 0;
    for (int i = 0; i < N; i++) {
        const real *r = res + (size_t)i * C, *o = out + (size_t)i * C;
        double sum = 0, sq = 0;
        for (int c = 0; c < C; c++) {
            res_exact &= r[c] == a[(size_t)i * C + c] + b[(size_t)i * C + c];
            sum += r[c];
        }
        double m = rms ? 0 : sum / C;
        for (int c = 0; c < C; c++) sq += (r[c] - m) * (r[c] - m);
        double s = 1 / sqrt(sq / C + eps);
        worst_stat = fmax(worst_stat, fabs(rstd[i] - s) / s);
        if (!rms) worst_stat = fmax(worst_stat, fabs(mean[i] - m) / fmax(fabs(m), 1e-3));
        for (int c = 0; c < C; c++) {
            double expect = (r[c] - m) * s * w[c] + (rms ? 0 : bias[c]);
            worst_out = fmax(worst_out, fabs(o[c] - expect));
        }
    }
    const char *name = rms ? "rmsnorm" : "layernorm";
    CHECK(res_exact, "residual_%s (%d x %d): residual is not a + b", name, N, C);
    // fp32 sums of C <= 768 terms of size ~2 and one rsqrt: relative error ~C u = 5e-5
    // at worst (errors of a random-order sum grow as sqrt(C) in practice): 1e-4
    CHECK(worst_stat <= 1e-4, "residual_%s (%d x %d): mean/rstd off by %.3g relative", name, N, C, worst_stat);
    // outputs of size ~|w| (r - m) s <= ~4 with that relative error: 1e-4 x 4 with room
    CHECK(worst_out <= 1e-3, "residual_%s (%d x %d): out off by %.3g", name, N, C, worst_out);
    free(a), free(b), free(w), free(bias), free(res), free(out), free(mean), free(rstd);
}

static void test_residual_layernorm(void) {
    residual_norm_case(1, 37, 0);
    residual_norm_case(33, 768, 0);
}

static void test_residual_rmsnorm(void) {
    residual_norm_case(1, 37, 1);
    residual_norm_case(33, 768, 1);
}

int main(void) {
    RUN_TEST(test_residual_layernorm);
    RUN_TEST(test_residual_rmsnorm);
    return test_summary();
}
