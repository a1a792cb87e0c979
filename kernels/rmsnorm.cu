// RMSNorm on the GPU (CPU twin: src/model/rmsnorm.c). One warp per row; forward and the
// one-pass backward machinery in norm_row.cuh.
#include "norm_row.cuh"

void rmsnorm_forward_cuda(floatX *out, float *rstd, const floatX *inp, const floatX *weight, int N, int C, float eps,
                          cudaStream_t stream) {
    bool vec = C % 8 == 0 && aligned16(out) && aligned16(inp) && aligned16(weight);
    norm_forward_launch(RMSNormRow{out, rstd, weight, C, eps}, inp, N, C, vec, stream);
}

// Backward row n (norm_row.cuh): dx += s * (g - xhat * mean(g * xhat)) with
// g = dout * weight, xhat = x * s; term dout * xhat (dweight)
struct RMSNormBackwardRow {
    static const int K = 1;
    floatX *dinp;
    const floatX *dout, *inp, *weight;
    const float *rstd;
    int C;
    __device__ void operator()(int n, float *acc, bool vec) const {
        int lane = threadIdx.x % WARP_SIZE;
        const floatX *x = inp + (size_t)n * C, *d = dout + (size_t)n * C;
        floatX *dx = dinp + (size_t)n * C;
        float s = rstd[n];
        float v[8], g[8], w[8], a[8];
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
            load8(a, dx, c, C, vec);
            for (int k = 0; k < 8; k++) {   // past C: g = 0, so the term is 0
                float xhat = v[k] * s;
                a[k] += s * (g[k] * w[k] - xhat * gx_mean);
                acc[norm_acc_slot(c + k)] += g[k] * xhat;
            }
            store8(dx, a, c, C, vec);
        }
    }
};

size_t rmsnorm_backward_scratch_bytes(int N, int C) { return norm_backward_scratch(N, C, 1); }

void rmsnorm_backward_cuda(floatX *dinp, float *dweight, const floatX *dout, const floatX *inp, const floatX *weight,
                           const float *rstd, int N, int C, void *scratch, cudaStream_t stream) {
    bool vec = C % 8 == 0 && aligned16(dinp) && aligned16(dout) && aligned16(inp) && aligned16(weight);
    GradPtrs<1> grads = {{dweight}};
    norm_backward_launch(RMSNormBackwardRow{dinp, dout, inp, weight, rstd, C}, grads, N, C, vec, scratch, stream);
}
