// Residual add then the norm of the sum: the CPU twins of the fused kernels in
// kernels/residual_norm.cu, which compute exactly these two layers in one pass.
#include "layers.h"

void residual_layernorm_forward(real *residual, real *out, real *mean, real *rstd, const real *a, const real *b,
                                const real *weight, const real *bias, int N, int C, float eps) {
    residual_forward(residual, a, b, (size_t)N * C);
    layernorm_forward(out, mean, rstd, residual, weight, bias, N, C, eps);
}

void residual_rmsnorm_forward(real *residual, real *out, real *rstd, const real *a, const real *b, const real *weight,
                              int N, int C, float eps) {
    residual_forward(residual, a, b, (size_t)N * C);
    rmsnorm_forward(out, rstd, residual, weight, N, C, eps);
}
