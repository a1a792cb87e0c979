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

enum { ADAMW_MAX_RANGES = 32 };   // decay_mask has one bit per tensor

// The weight decay of the elements [0, n) of one launch: range k ends (exclusive) at
// end[k] and decays by decay[k]. One launch covers every tensor of a step this way.
struct DecayRanges {
    size_t end[ADAMW_MAX_RANGES];
    float decay[ADAMW_MAX_RANGES];
    int count;
};

// a scan over the ranges, unrolled so that each is a constant-bank read, not a copy to local memory
__device__ inline float decay_at(const DecayRanges &r, size_t i) {
    float wd = r.decay[0];
#pragma unroll
    for (int k = 1; k < ADAMW_MAX_RANGES; k++) {
        if (k >= r.count) break;
        if (i >= r.end[k - 1]) wd = r.decay[k];
    }
    return wd;
}

// params, grads and the SR index count from index0; master, m, v from 0
__global__ void adamw_kernel(floatX *params, float *master, const float *grads, float *m, float *v, size_t n,
                             float lr, float beta1, float beta2, float eps, DecayRanges decay, float correction1,
                             float correction2, const float *grad_scale, uint64_t sr_seed, size_t index0, int t) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n || (grad_scale && isnan(*grad_scale))) return;
    float weight_decay = decay_at(decay, i);
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

static void adamw_launch(floatX *params, float *master, const float *grads, float *m, float *v, size_t n, float lr,
                         float beta1, float beta2, float eps, const DecayRanges &decay, int t, const float *grad_scale,
                         uint64_t sr_seed, size_t index0, cudaStream_t stream) {
    if (n == 0) return;
    float correction1 = (float)(1 - pow(beta1, t)), correction2 = (float)(1 - pow(beta2, t));
    adamw_kernel<<<ceil_div(n, 256), 256, 0, stream>>>(params, master, grads, m, v, n, lr, beta1, beta2, eps, decay,
                                                       correction1, correction2, grad_scale, sr_seed, index0, t);
    CUDA_CHECK_LAUNCH();
}

void adamw_update_cuda(floatX *params, float *master, const float *grads, float *m, float *v, size_t n, float lr,
                       float beta1, float beta2, float eps, float weight_decay, int t, const float *grad_scale,
                       uint64_t sr_seed, size_t index0, cudaStream_t stream) {
    DecayRanges decay = {{n}, {weight_decay}, 1};
    adamw_launch(params, master, grads, m, v, n, lr, beta1, beta2, eps, decay, t, grad_scale, sr_seed, index0, stream);
}

// one launch over the range: the tensors it meets become decay ranges (neighbours
// with the same decay merged), so each element gets what a launch per tensor gave it
void adamw_step_cuda(floatX *params, float *master, const float *grads, float *m, float *v, size_t begin,
                     size_t end, const size_t *tensor_offsets, int ntensors, unsigned decay_mask, float lr,
                     float beta1, float beta2, float eps, float weight_decay, int t, const float *grad_scale,
                     uint64_t sr_seed, cudaStream_t stream) {
    if (ntensors > ADAMW_MAX_RANGES) {
        fprintf(stderr, "adamw_step_cuda: %d tensors, at most %d (one decay_mask bit each)\n", ntensors,
                ADAMW_MAX_RANGES);
        exit(1);
    }
    DecayRanges decay = {{0}, {0}, 0};
    for (int i = 0; i < ntensors; i++) {
        size_t lo = tensor_offsets[i] > begin ? tensor_offsets[i] : begin;
        size_t hi = tensor_offsets[i + 1] < end ? tensor_offsets[i + 1] : end;
        if (lo >= hi) continue;
        float wd = (decay_mask >> i & 1) ? weight_decay : 0.0f;
        if (decay.count == 0 || decay.decay[decay.count - 1] != wd) decay.decay[decay.count++] = wd;
        decay.end[decay.count - 1] = hi - begin;
    }
    adamw_launch(params + begin, master, grads + begin, m, v, end - begin, lr, beta1, beta2, eps, decay, t,
                 grad_scale, sr_seed, begin, stream);
}
