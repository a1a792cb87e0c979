// RMSNorm (Llama).
#include <tgmath.h>
#include "layers.h"

void rmsnorm_forward(real *out, real *rstd, const real *inp, const real *weight, int N, int C, float eps) {
#pragma omp parallel for
    for (int n = 0; n < N; n++) {
        const real *x = inp + (size_t)n * C;
        real ss = 0;
        for (int c = 0; c < C; c++) ss += x[c] * x[c];
        real s = 1 / sqrt(ss / C + eps);
        real *o = out + (size_t)n * C;
        for (int c = 0; c < C; c++) o[c] = x[c] * s * weight[c];
        rstd[n] = s;
    }
}

void rmsnorm_backward(real *dinp, real *dweight, const real *dout, const real *inp, const real *weight,
                      const real *rstd, int N, int C) {
#pragma omp parallel for
    for (int n = 0; n < N; n++) {
        const real *x = inp + (size_t)n * C, *d = dout + (size_t)n * C;
        real *dx = dinp + (size_t)n * C;
        real s = rstd[n];
        // dx = s * (g - xhat * mean(g * xhat)) with g = dout * weight, xhat = x * s
        real gx_mean = 0;
        for (int c = 0; c < C; c++) gx_mean += d[c] * weight[c] * x[c] * s;
        gx_mean /= C;
        for (int c = 0; c < C; c++) dx[c] += s * (d[c] * weight[c] - x[c] * s * gx_mean);
    }
    enum { CHUNK = 16 };
#pragma omp parallel for
    for (int c0 = 0; c0 < C; c0 += CHUNK) {
        int c1 = c0 + CHUNK < C ? c0 + CHUNK : C;
        for (int n = 0; n < N; n++) {
            const real *x = inp + (size_t)n * C, *d = dout + (size_t)n * C;
            for (int c = c0; c < c1; c++) dweight[c] += d[c] * x[c] * rstd[n];
        }
    }
}
