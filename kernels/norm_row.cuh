// One row of LayerNorm or RMSNorm by one warp, shared by the norm kernels
// (layernorm.cu, rmsnorm.cu) and the fused residual + norm kernels (residual_norm.cu).
// Sharing it is what makes them agree to the bit: the backward's recompute (--recompute)
// runs the plain norm on the residual that the fused kernel wrote in the forward, and
// must get the forward's exact output, mean and rstd back. The arithmetic depends only
// on the row's values, not on where they come from (global or shared memory) nor on
// vec (load8 gives the same floats either way).
#ifndef SCPT_KERNELS_NORM_ROW_CUH
#define SCPT_KERNELS_NORM_ROW_CUH

#include "common.cuh"

// Row n of the output from the row's values at x; the lane sums run over
// c = lane * 8 + 256 j in order, then the warp's butterfly.
struct LayerNormRow {
    floatX *out;
    float *mean, *rstd;
    const floatX *weight, *bias;
    int C;
    float eps;
    __device__ void operator()(int n, const floatX *x, bool vec) const {
        int lane = threadIdx.x % WARP_SIZE;
        float v[8], w[8], b[8];
        float sum = 0;
        for (int c = lane * 8; c < C; c += WARP_SIZE * 8) {
            load8(v, x, c, C, vec);
            for (int k = 0; k < 8; k++) sum += v[k];
        }
        float m = warp_sum(sum) / C;
        float var = 0;
        for (int c = lane * 8; c < C; c += WARP_SIZE * 8) {
            load8(v, x, c, C, vec);
            for (int k = 0; k < 8 && c + k < C; k++) var += (v[k] - m) * (v[k] - m);
        }
        float s = rsqrtf(warp_sum(var) / C + eps);
        for (int c = lane * 8; c < C; c += WARP_SIZE * 8) {
            load8(v, x, c, C, vec);
            load8(w, weight, c, C, vec);
            load8(b, bias, c, C, vec);
            for (int k = 0; k < 8; k++) v[k] = (v[k] - m) * s * w[k] + b[k];
            store8(out + (size_t)n * C, v, c, C, vec);
        }
        if (lane == 0) {
            mean[n] = m;
            rstd[n] = s;
        }
    }
};

struct RMSNormRow {
    floatX *out;
    float *rstd;
    const floatX *weight;
    int C;
    float eps;
    __device__ void operator()(int n, const floatX *x, bool vec) const {
        int lane = threadIdx.x % WARP_SIZE;
        float v[8], w[8];
        float ss = 0;
        for (int c = lane * 8; c < C; c += WARP_SIZE * 8) {
            load8(v, x, c, C, vec);
            for (int k = 0; k < 8; k++) ss += v[k] * v[k];
        }
        float s = rsqrtf(warp_sum(ss) / C + eps);
        for (int c = lane * 8; c < C; c += WARP_SIZE * 8) {
            load8(v, x, c, C, vec);
            load8(w, weight, c, C, vec);
            for (int k = 0; k < 8; k++) v[k] = v[k] * s * w[k];
            store8(out + (size_t)n * C, v, c, C, vec);
        }
        if (lane == 0) rstd[n] = s;
    }
};

enum { NORM_ROWS_PER_BLOCK = 8 };   // 8 warps, one row each

// the plain norm: row n read from inp
template <typename Norm> __global__ void norm_forward_kernel(Norm norm, const floatX *inp, int N, int C, bool vec) {
    int n = blockIdx.x * NORM_ROWS_PER_BLOCK + threadIdx.x / WARP_SIZE;
    if (n >= N) return;
    norm(n, inp + (size_t)n * C, vec);
}

template <typename Norm> void norm_forward_launch(Norm norm, const floatX *inp, int N, int C, bool vec,
                                                  cudaStream_t stream) {
    norm_forward_kernel<Norm><<<ceil_div(N, NORM_ROWS_PER_BLOCK), NORM_ROWS_PER_BLOCK * WARP_SIZE, 0, stream>>>(
        norm, inp, N, C, vec);
    CUDA_CHECK_LAUNCH();
}

#endif
