// LayerNorm on the GPU (CPU twin: src/model/layernorm.c). Forward: one warp per row
// (norm_row.cuh): the row is read once for the mean, again (from cache) for the
// variance, again to write. Backward: one pass over the rows (norm_row.cuh).
#include "norm_row.cuh"

void layernorm_forward_cuda(floatX *out, float *mean, float *rstd, const floatX *inp, const floatX *weight,
                            const floatX *bias, int N, int C, float eps, cudaStream_t stream) {
    bool vec = C % 8 == 0 && aligned16(out) && aligned16(inp) && aligned16(weight) && aligned16(bias);
    norm_forward_launch(LayerNormRow{out, mean, rstd, weight, bias, C, eps}, inp, N, C, vec, stream);
}

// Backward row n (norm_row.cuh): dx += s * (g - mean(g) - xhat * mean(g * xhat)) with
// g = dout * weight, xhat = (x - mean) * s; terms dout * xhat (dweight) and dout (dbias)
struct LayerNormBackwardRow {
    static const int K = 2;
    floatX *dinp;
    const floatX *dout, *inp, *weight;
    const float *mean, *rstd;
    int C;
    __device__ void operator()(int n, float *acc, bool vec) const {
        int lane = threadIdx.x % WARP_SIZE, len = norm_acc_len(C);
        const floatX *x = inp + (size_t)n * C, *d = dout + (size_t)n * C;
        floatX *dx = dinp + (size_t)n * C;
        float m = mean[n], s = rstd[n];
        float v[8], g[8], w[8], a[8];
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
            load8(a, dx, c, C, vec);
            for (int k = 0; k < 8; k++) {   // past C: g = 0, so the terms are 0
                float xhat = (v[k] - m) * s;
                a[k] += s * (g[k] * w[k] - g_mean - xhat * gx_mean);
                int slot = norm_acc_slot(c + k);
                acc[slot] += g[k] * xhat;
                acc[len + slot] += g[k];
            }
            store8(dx, a, c, C, vec);
        }
    }
};

size_t layernorm_backward_scratch_bytes(int N, int C) { return norm_backward_scratch(N, C, 2); }

void layernorm_backward_cuda(floatX *dinp, float *dweight, float *dbias, const floatX *dout, const floatX *inp,
                             const floatX *weight, const float *mean, const float *rstd, int N, int C,
                             void *scratch, cudaStream_t stream) {
    bool vec = C % 8 == 0 && aligned16(dinp) && aligned16(dout) && aligned16(inp) && aligned16(weight);
    GradPtrs<2> grads = {{dweight, dbias}};
    norm_backward_launch(LayerNormBackwardRow{dinp, dout, inp, weight, mean, rstd, C}, grads, N, C, vec, scratch,
                         stream);
}
