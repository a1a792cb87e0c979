// RMSNorm on the GPU (CPU twin: src/model/rmsnorm.c). One warp per row (forward: norm_row.cuh).
#include "norm_row.cuh"

enum { ROWS_PER_BLOCK = 8 };   // 8 warps

void rmsnorm_forward_cuda(floatX *out, float *rstd, const floatX *inp, const floatX *weight, int N, int C, float eps,
                          cudaStream_t stream) {
    bool vec = C % 8 == 0 && aligned16(out) && aligned16(inp) && aligned16(weight);
    norm_forward_launch(RMSNormRow{out, rstd, weight, C, eps}, inp, N, C, vec, stream);
}

// dx += s * (g - xhat * mean(g * xhat)), g = dout * weight, xhat = x * s
__global__ void rmsnorm_backward_dinp_kernel(floatX *dinp, const floatX *dout, const floatX *inp,
                                             const floatX *weight, const float *rstd, int N, int C, bool vec) {
    int n = blockIdx.x * ROWS_PER_BLOCK + threadIdx.x / WARP_SIZE, lane = threadIdx.x % WARP_SIZE;
    if (n >= N) return;
    const floatX *x = inp + (size_t)n * C, *d = dout + (size_t)n * C;
    floatX *dx = dinp + (size_t)n * C;
    float s = rstd[n];
    float v[8], g[8], w[8], acc[8];
    float gx_sum = 0;
    for (int c = lane * 8; c < C; c += WARP_SIZE * 8) {
        load8(v, x, c, C, vec);
        load8(g, d, c, C, vec);
        load8(w, weight, c, C, vec);
        for (int k = 0; k < 8; k++) gx_sum += g[k] * w[k] * v[k] * s;
    }
    float gx_mean = warp_sum(gx_sum) / C;
    for (int c = lane * 8; c < C; c += WARP_SIZE * 8) {
        load8(v, x, c, C, vec);
        load8(g, d, c, C, vec);
        load8(w, weight, c, C, vec);
        load8(acc, dx, c, C, vec);
        for (int k = 0; k < 8; k++) acc[k] += s * (g[k] * w[k] - v[k] * s * gx_mean);
        store8(dx, acc, c, C, vec);
    }
}

struct RMSNormWeightGrad {
    const floatX *dout, *inp;
    const float *rstd;
    int C;
    __device__ void operator()(int n, int c, float *term) const {
        size_t i = (size_t)n * C + c;
        term[0] = __bfloat162float(dout[i]) * __bfloat162float(inp[i]) * rstd[n];
    }
};

size_t rmsnorm_backward_scratch_bytes(int N, int C) { return colsum_scratch_bytes(N, C, 1); }

void rmsnorm_backward_cuda(floatX *dinp, float *dweight, const floatX *dout, const floatX *inp, const floatX *weight,
                           const float *rstd, int N, int C, void *scratch, cudaStream_t stream) {
    bool vec = C % 8 == 0 && aligned16(dinp) && aligned16(dout) && aligned16(inp) && aligned16(weight);
    rmsnorm_backward_dinp_kernel<<<ceil_div(N, ROWS_PER_BLOCK), ROWS_PER_BLOCK * WARP_SIZE, 0, stream>>>(
        dinp, dout, inp, weight, rstd, N, C, vec);
    CUDA_CHECK_LAUNCH();
    GradPtrs<1> grads = {{dweight}};
    colsum_launch(grads, RMSNormWeightGrad{dout, inp, rstd, C}, N, C, scratch, stream);
}
