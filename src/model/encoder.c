// Token and learned-position embeddings.
#include "layers.h"

void encoder_forward(real *out, const int *tokens, const real *wte, const real *wpe, int B, int T, int C) {
#pragma omp parallel for collapse(2)
    for (int b = 0; b < B; b++) {
        for (int t = 0; t < T; t++) {
            real *o = out + ((size_t)b * T + t) * C;
            const real *e = wte + (size_t)tokens[b * T + t] * C;
            const real *p = wpe ? wpe + (size_t)t * C : NULL;
            for (int c = 0; c < C; c++) o[c] = p ? e[c] + p[c] : e[c];
        }
    }
}

// Several positions can hold the same token, so rows of dwte receive many adds.
// Threads split the channels instead of the positions: no races, and each
// channel sums its positions in order, whatever the thread count.
void encoder_backward(real *dwte, real *dwpe, const real *dout, const int *tokens, int B, int T, int C) {
    enum { CHUNK = 16 };
#pragma omp parallel for
    for (int c0 = 0; c0 < C; c0 += CHUNK) {
        int c1 = c0 + CHUNK < C ? c0 + CHUNK : C;
        for (int b = 0; b < B; b++) {
            for (int t = 0; t < T; t++) {
                const real *d = dout + ((size_t)b * T + t) * C;
                real *dw = dwte + (size_t)tokens[b * T + t] * C;
                for (int c = c0; c < c1; c++) dw[c] += d[c];
                if (dwpe) {
                    real *dp = dwpe + (size_t)t * C;
                    for (int c = c0; c < c1; c++) dp[c] += d[c];
                }
            }
        }
    }
}
