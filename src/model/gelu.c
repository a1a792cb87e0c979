// GELU with the tanh approximation GPT-2 uses.
#include <tgmath.h>
#include "layers.h"

static const real GELU_K = 0.7978845608028654;   // sqrt(2 / pi)
static const real GELU_A = 0.044715;

void gelu_forward(real *out, const real *inp, size_t n) {
#pragma omp parallel for
    for (size_t i = 0; i < n; i++) {
        real x = inp[i];
        out[i] = (real)0.5 * x * (1 + tanh(GELU_K * (x + GELU_A * x * x * x)));
    }
}

void gelu_backward(real *dinp, const real *inp, const real *dout, size_t n) {
#pragma omp parallel for
    for (size_t i = 0; i < n; i++) {
        real x = inp[i];
        real th = tanh(GELU_K * (x + GELU_A * x * x * x));
        real du = GELU_K * (1 + 3 * GELU_A * x * x);
        dinp[i] += dout[i] * (real)0.5 * ((1 + th) + x * (1 - th * th) * du);
    }
}
