// Causal multi-head self-attention with grouped-query heads.
#include <tgmath.h>
#include <stdlib.h>
#include "layers.h"
#include "util.h"

// offsets inside one token's qkv row [q: NH*HS | k: NKV*HS | v: NKV*HS]
#define Q_AT(row, h) ((row) + (size_t)(h) * HS)
#define K_AT(row, g) ((row) + (size_t)(NH + (g)) * HS)
#define V_AT(row, g) ((row) + (size_t)(NH + NKV + (g)) * HS)

void attention_forward(real *out, real *att, const real *qkv, int B, int T, int NH, int NKV, int HS) {
    size_t row = (size_t)(NH + 2 * NKV) * HS;
    int group = NH / NKV;
    real scale = 1 / sqrt((real)HS);
#pragma omp parallel for collapse(3)
    for (int b = 0; b < B; b++) {
        for (int h = 0; h < NH; h++) {
            for (int t = 0; t < T; t++) {
                const real *base = qkv + (size_t)b * T * row;
                const real *q = Q_AT(base + t * row, h);
                real *a = att + (((size_t)b * NH + h) * T + t) * T;
                int g = h / group;
                real maxv = -INFINITY;
                for (int t2 = 0; t2 <= t; t2++) {
                    const real *k = K_AT(base + t2 * row, g);
                    real s = 0;
                    for (int i = 0; i < HS; i++) s += q[i] * k[i];
                    a[t2] = s * scale;
                    if (a[t2] > maxv) maxv = a[t2];
                }
                real sum = 0;
                for (int t2 = 0; t2 <= t; t2++) {
                    a[t2] = exp(a[t2] - maxv);
                    sum += a[t2];
                }
                for (int t2 = 0; t2 <= t; t2++) a[t2] /= sum;
                for (int t2 = t + 1; t2 < T; t2++) a[t2] = 0;
                real *o = out + ((size_t)b * T + t) * NH * HS + (size_t)h * HS;
                for (int i = 0; i < HS; i++) o[i] = 0;
                for (int t2 = 0; t2 <= t; t2++) {
                    const real *v = V_AT(base + t2 * row, g);
                    for (int i = 0; i < HS; i++) o[i] += a[t2] * v[i];
                }
            }
        }
    }
}

// Threads take (batch, kv head) pairs: the query heads of one group all add into
// the same k and v gradients, so they stay on one thread, in head order.
void attention_backward(real *dqkv, const real *dout, const real *qkv, const real *att,
                        int B, int T, int NH, int NKV, int HS) {
    size_t row = (size_t)(NH + 2 * NKV) * HS;
    int group = NH / NKV;
    real scale = 1 / sqrt((real)HS);
#pragma omp parallel
    {
        real *dscore = xmalloc(sizeof(real) * T);
#pragma omp for collapse(2)
        for (int b = 0; b < B; b++) {
            for (int g = 0; g < NKV; g++) {
                const real *base = qkv + (size_t)b * T * row;
                real *dbase = dqkv + (size_t)b * T * row;
                for (int h = g * group; h < (g + 1) * group; h++) {
                    for (int t = 0; t < T; t++) {
                        const real *a = att + (((size_t)b * NH + h) * T + t) * T;
                        const real *d = dout + ((size_t)b * T + t) * NH * HS + (size_t)h * HS;
                        // dP = dO . V^T, then through the softmax: dS = P * (dP - sum(P * dP))
                        real dot = 0;
                        for (int t2 = 0; t2 <= t; t2++) {
                            const real *v = V_AT(base + t2 * row, g);
                            real s = 0;
                            for (int i = 0; i < HS; i++) s += d[i] * v[i];
                            dscore[t2] = s;
                            dot += a[t2] * s;
                        }
                        const real *q = Q_AT(base + t * row, h);
                        real *dq = Q_AT(dbase + t * row, h);
                        for (int t2 = 0; t2 <= t; t2++) {
                            real ds = a[t2] * (dscore[t2] - dot) * scale;
                            const real *k = K_AT(base + t2 * row, g);
                            real *dk = K_AT(dbase + t2 * row, g), *dv = V_AT(dbase + t2 * row, g);
                            for (int i = 0; i < HS; i++) {
                                dq[i] += ds * k[i];
                                dk[i] += ds * q[i];
                                dv[i] += a[t2] * d[i];
                            }
                        }
                    }
                }
            }
        }
        free(dscore);
    }
}
