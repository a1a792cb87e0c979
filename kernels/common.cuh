// Device helpers shared by the kernel families (private to kernels/ and the GPU
// tests and benchmarks): reductions, 128-bit bf16 loads/stores, launch sizing.
#ifndef SCPT_KERNELS_COMMON_CUH
#define SCPT_KERNELS_COMMON_CUH

#include <stdint.h>
#include "kernels.h"

#define WARP_SIZE 32

__host__ __device__ inline unsigned ceil_div(size_t a, size_t b) { return (unsigned)((a + b - 1) / b); }

// 128-bit accesses need 16-byte aligned addresses: true for every row when the
// base pointers are aligned and the row length is a multiple of 8 elements
static inline bool aligned16(const void *p) { return ((uintptr_t)p & 15) == 0; }

__device__ inline float warp_sum(float v) {
    for (int off = WARP_SIZE / 2; off > 0; off >>= 1) v += __shfl_xor_sync(0xffffffffu, v, off);
    return v;
}

__device__ inline float warp_max(float v) {
    for (int off = WARP_SIZE / 2; off > 0; off >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, off));
    return v;
}

// Sum over the block, returned to every thread; the butterfly order is fixed, so
// the result is deterministic. `partial` is WARP_SIZE floats of shared memory.
__device__ inline float block_sum(float v, float *partial) {
    int lane = threadIdx.x % WARP_SIZE, warp = threadIdx.x / WARP_SIZE;
    v = warp_sum(v);
    __syncthreads();   // partial may still be read by a previous call
    if (lane == 0) partial[warp] = v;
    __syncthreads();
    v = lane < (int)(blockDim.x / WARP_SIZE) ? partial[lane] : 0.0f;
    return warp_sum(v);
}

// Eight consecutive elements p[i..i+7] of an array of n as floats: one 128-bit
// load when vec (see aligned16) and all eight exist, else element by element,
// reading missing ones as 0.
__device__ inline void load8(float *out, const floatX *p, size_t i, size_t n, bool vec) {
    if (vec && i + 8 <= n) {
        int4 raw = *reinterpret_cast<const int4 *>(p + i);
        const floatX *h = reinterpret_cast<const floatX *>(&raw);
        for (int k = 0; k < 8; k++) out[k] = __bfloat162float(h[k]);
    } else {
        for (int k = 0; k < 8; k++) out[k] = i + k < n ? __bfloat162float(p[i + k]) : 0.0f;
    }
}

// the store counterpart of load8 (round to nearest); elements past n are not written
__device__ inline void store8(floatX *p, const float *in, size_t i, size_t n, bool vec) {
    if (vec && i + 8 <= n) {
        int4 raw;
        floatX *h = reinterpret_cast<floatX *>(&raw);
        for (int k = 0; k < 8; k++) h[k] = __float2bfloat16(in[k]);
        *reinterpret_cast<int4 *>(p + i) = raw;
    } else {
        for (int k = 0; k < 8 && i + k < n; k++) p[i + k] = __float2bfloat16(in[k]);
    }
}

#endif
