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

// ---- parameter gradients of the norms: column sums over rows, deterministic ----
// Rows are cut into chunks of COLSUM_ROWS; block (chunk, 32 channels) sums its
// chunk's rows in a fixed order into partial[chunk][k][c]; colsum_finish then adds
// the chunks in order into the K gradient vectors. Op(n, c, out) gives the K terms
// of row n, channel c.
enum { COLSUM_ROWS = 128, COLSUM_Y = 8 };

static inline size_t colsum_scratch_bytes(int N, int C, int K) {
    return (size_t)ceil_div(N, COLSUM_ROWS) * K * C * sizeof(float);
}

template <int K, typename Op>
__global__ void colsum_partial_kernel(float *partial, Op op, int N, int C) {
    __shared__ float acc[K][COLSUM_Y][WARP_SIZE];
    int c = blockIdx.y * WARP_SIZE + threadIdx.x;
    int n0 = blockIdx.x * COLSUM_ROWS, n1 = min(n0 + COLSUM_ROWS, N);
    float sum[K] = {0};
    if (c < C) {
        for (int n = n0 + threadIdx.y; n < n1; n += COLSUM_Y) {
            float term[K];
            op(n, c, term);
            for (int k = 0; k < K; k++) sum[k] += term[k];
        }
    }
    for (int k = 0; k < K; k++) acc[k][threadIdx.y][threadIdx.x] = sum[k];
    __syncthreads();
    if (threadIdx.y == 0 && c < C) {
        for (int k = 0; k < K; k++) {
            float s = 0;
            for (int y = 0; y < COLSUM_Y; y++) s += acc[k][y][threadIdx.x];
            partial[((size_t)blockIdx.x * K + k) * C + c] = s;
        }
    }
}

// grads: K device pointers passed by value in a small struct
template <int K> struct GradPtrs { float *p[K]; };

template <int K>
__global__ void colsum_finish_kernel(GradPtrs<K> grads, const float *partial, int chunks, int C) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    for (int k = 0; k < K; k++) {
        float s = 0;
        for (int j = 0; j < chunks; j++) s += partial[((size_t)j * K + k) * C + c];
        grads.p[k][c] += s;
    }
}

template <int K, typename Op>
void colsum_launch(GradPtrs<K> grads, Op op, int N, int C, void *scratch, cudaStream_t stream) {
    int chunks = ceil_div(N, COLSUM_ROWS);
    float *partial = (float *)scratch;
    colsum_partial_kernel<K, Op><<<dim3(chunks, ceil_div(C, WARP_SIZE)), dim3(WARP_SIZE, COLSUM_Y), 0, stream>>>(
        partial, op, N, C);
    CUDA_CHECK_LAUNCH();
    colsum_finish_kernel<K><<<ceil_div(C, 256), 256, 0, stream>>>(grads, partial, chunks, C);
    CUDA_CHECK_LAUNCH();
}

#endif
