// AdamW on the GPU (CPU twins: adamw_update in src/model/adamw.c, optimizer_step in
// src/model/optim.c): updates fp32 master weights and moments, writes bf16 params.
#include <math.h>
#include "common.cuh"
#include "rng.h"

// Rounds to bf16 up or down with probability proportional to the distance, so the
// expected value is x: adding 16 random bits below the kept ones, then truncating.
__device__ inline floatX round_stochastic(float x, uint32_t random) {
    if (!isfinite(x)) return __float2bfloat16(x);
    uint32_t bits = __float_as_uint(x) + (random & 0xffffu);
    return __ushort_as_bfloat16((unsigned short)(bits >> 16));
}

__global__ void adamw_kernel(floatX *params, float *master, const float *grads, float *m, float *v, size_t n,
                             float lr, float beta1, float beta2, float eps, float weight_decay, float correction1,
                             float correction2, const float *grad_scale, uint64_t sr_seed, size_t index0, int t) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n || (grad_scale && isnan(*grad_scale))) return;
    float g = grad_scale ? grads[i] * *grad_scale : grads[i];
    float mi = beta1 * m[i] + (1 - beta1) * g;
    float vi = beta2 * v[i] + (1 - beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    float w = master[i];
    w -= lr * ((mi / correction1) / (sqrtf(vi / correction2) + eps) + weight_decay * w);
    master[i] = w;
    params[i] = sr_seed ? round_stochastic(w, (uint32_t)mix64(sr_seed ^ mix64((uint64_t)t ^ mix64(index0 + i))))
                        : __float2bfloat16(w);
}

void adamw_update_cuda(floatX *params, float *master, const float *grads, float *m, float *v, size_t n, float lr,
                       float beta1, float beta2, float eps, float weight_decay, int t, const float *grad_scale,
                       uint64_t sr_seed, size_t index0, cudaStream_t stream) {
    if (n == 0) return;
    float correction1 = (float)(1 - pow(beta1, t)), correction2 = (float)(1 - pow(beta2, t));
    adamw_kernel<<<ceil_div(n, 256), 256, 0, stream>>>(params, master, grads, m, v, n, lr, beta1, beta2, eps,
                                                       weight_decay, correction1, correction2, grad_scale, sr_seed,
                                                       index0, t);
    CUDA_CHECK_LAUNCH();
}

void adamw_step_cuda(floatX *params, float *master, const float *grads, float *m, float *v, size_t begin,
                     size_t end, const size_t *tensor_offsets, int ntensors, unsigned decay_mask, float lr,
                     float beta1, float beta2, float eps, float weight_decay, int t, const float *grad_scale,
                     uint64_t sr_seed, cudaStream_t stream) {
    for (int i = 0; i < ntensors; i++) {
        size_t lo = tensor_offsets[i] > begin ? tensor_offsets[i] : begin;
        size_t hi = tensor_offsets[i + 1] < end ? tensor_offsets[i + 1] : end;
        if (lo >= hi) continue;
        float wd = (decay_mask >> i & 1) ? weight_decay : 0.0f;
        adamw_update_cuda(params + lo, master + (lo - begin), grads + lo, m + (lo - begin), v + (lo - begin), hi - lo,
                          lr, beta1, beta2, eps, wd, t, grad_scale, sr_seed, lo, stream);
    }
}
