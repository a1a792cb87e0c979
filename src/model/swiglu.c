// SwiGLU (Llama MLP): silu(gate) * up.
#include <tgmath.h>
#include "layers.h"

void swiglu_forward(real *out, const real *inp, int N, int H) {
#pragma omp parallel for
    for (int n = 0; n < N; n++) {
        const real *gate = inp + (size_t)n * 2 * H, *up = gate + H;
        real *o = out + (size_t)n * H;
        for (int h = 0; h < H; h++) o[h] = gate[h] / (1 + exp(-gate[h])) * up[h];
    }
}

void swiglu_backward(real *dinp, const real *inp, const real *dout, int N, int H) {
#pragma omp parallel for
    for (int n = 0; n < N; n++) {
        const real *gate = inp + (size_t)n * 2 * H, *up = gate + H;
        const real *d = dout + (size_t)n * H;
        real *dgate = dinp + (size_t)n * 2 * H, *dup = dgate + H;
        for (int h = 0; h < H; h++) {
            real sig = 1 / (1 + exp(-gate[h]));
            real silu = gate[h] * sig;
            dgate[h] += d[h] * up[h] * sig * (1 + gate[h] * (1 - sig));
            dup[h] += d[h] * silu;
        }
    }
}
