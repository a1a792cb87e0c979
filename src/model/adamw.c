// AdamW (Loshchilov & Hutter): weight decay applied to the weights directly, as
// PyTorch's torch.optim.AdamW does, not through the gradient.
#include <tgmath.h>
#include "layers.h"

void adamw_update(real *params, const real *grads, real *m, real *v, size_t n, float lr, float beta1,
                  float beta2, float eps, float weight_decay, int t) {
    real correction1 = 1 - pow((real)beta1, (real)t);
    real correction2 = 1 - pow((real)beta2, (real)t);
#pragma omp parallel for
    for (size_t i = 0; i < n; i++) {
        real g = grads[i];
        m[i] = beta1 * m[i] + (1 - beta1) * g;
        v[i] = beta2 * v[i] + (1 - beta2) * g * g;
        real mhat = m[i] / correction1, vhat = v[i] / correction2;
        params[i] -= lr * (mhat / (sqrt(vhat) + eps) + weight_decay * params[i]);
    }
}
