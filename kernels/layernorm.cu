// LayerNorm on the GPU (CPU twin: src/model/layernorm.c). Forward: one warp per row
// (norm_row.cuh): the row is read once for the mean, again (from cache) for the
// variance, again to write.
#include "norm_row.cuh"

enum { ROWS_PER_BLOCK = 8 };   // 8 warps

void layernorm_forward_cuda(floatX *out, float *mean, float *rstd, const floatX *inp, const floatX *weight,
                            const floatX *bias, int N, int C, float eps, cudaStream_t stream) {
    bool vec = C % 8 == 0 && aligned16(out) && aligned16(inp) && aligned16(weight) && aligned16(bias);
    norm_forward_launch(LayerNormRow{out, mean, rstd, weight, bias, C, eps}, inp, N, C, vec, stream);
}

// dx += s * (g - mean(g) - xhat * mean(g * xhat)), g = dout * weight; warp per row
__global__ void layernorm_backward_dinp_kernel(floatX *dinp, const floatX *dout, const floatX *inp,
                                               const floatX *weight, const float *mean, const float *rstd, int N,
                                               int C, bool vec) {
    int n = blockIdx.x * ROWS_PER_BLOCK + threadIdx.x / WARP_SIZE, lane = threadIdx.x % WARP_SIZE;
    if (n >= N) return;
    const floatX *x = inp + (size_t)n * C, *d = dout + (size_t)n * C;
    floatX *dx = dinp + (size_t)n * C;
    float m = mean[n], s = rstd[n];
    float v[8], g[8], w[8], acc[8];
    float g_sum = 0, gx_sum = 0;
    for (int c = lane * 8; c < C; c += WARP_SIZE * 8) {
        load8(v, x, c, C, vec);
        load8(g, d, c, C, vec);
        load8(w, weight, c, C, vec);
        for (int k = 0; k < 8 && c + k < C; k++) {
            g_sum += g[k] * w[k];
            gx_sum += g[k] * w[k] * (v[k] - m) * s;
        }
    }
    float g_mean = warp_sum(g_sum) / C, gx_mean = warp_sum(gx_sum) / C;
    for (int c = lane * 8; c < C; c += WARP_SIZE * 8) {
        load8(v, x, c, C, vec);
        load8(g, d, c, C, vec);
        load8(w, weight, c, C, vec);
        load8(acc, dx, c, C, vec);
        for (int k = 0; k < 8; k++) acc[k] += s * (g[k] * w[k] - g_mean - (v[k] - m) * s * gx_mean);
        store8(dx, acc, c, C, vec);
    }
}

// the terms of dweight and dbias for row n, channel c
struct LayerNormParamGrads {
    const floatX *dout, *inp;
    const float *mean, *rstd;
    int C;
    __device__ void operator()(int n, int c, float *term) const {
        float d = __bfloat162float(dout[(size_t)n * C + c]);
        term[0] = d * (__bfloat162float(inp[(size_t)n * C + c]) - mean[n]) * rstd[n];
        term[1] = d;
    }
};

size_t layernorm_backward_scratch_bytes(int N, int C) { return colsum_scratch_bytes(N, C, 2); }

void layernorm_backward_cuda(floatX *dinp, float *dweight, float *dbias, const floatX *dout, const floatX *inp,
                             const floatX *weight, const float *mean, const float *rstd, int N, int C,
                             void *scratch, cudaStream_t stream) {
    bool vec = C % 8 == 0 && aligned16(dinp) && aligned16(dout) && aligned16(inp) && aligned16(weight);
    layernorm_backward_dinp_kernel<<<ceil_div(N, ROWS_PER_BLOCK), ROWS_PER_BLOCK * WARP_SIZE, 0, stream>>>(
        dinp, dout, inp, weight, mean, rstd, N, C, vec);
    CUDA_CHECK_LAUNCH();
    GradPtrs<2> grads = {{dweight, dbias}};
    colsum_launch(grads, LayerNormParamGrads{dout, inp, mean, rstd, C}, N, C, scratch, stream);
}
