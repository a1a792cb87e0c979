// GELU, tanh approximation, on the GPU (CPU twin: src/model/gelu.c). 8 elements per thread.
#include "common.cuh"

#define GELU_K 0.7978845608028654f   // sqrt(2 / pi)
#define GELU_A 0.044715f

__global__ void gelu_forward_kernel(floatX *out, const floatX *inp, size_t n, bool vec) {
    size_t i = ((size_t)blockIdx.x * blockDim.x + threadIdx.x) * 8;
    if (i >= n) return;
    float x[8];
    load8(x, inp, i, n, vec);
    for (int k = 0; k < 8; k++) x[k] = 0.5f * x[k] * (1.0f + tanhf(GELU_K * (x[k] + GELU_A * x[k] * x[k] * x[k])));
    store8(out, x, i, n, vec);
}

__global__ void gelu_backward_kernel(floatX *dinp, const floatX *inp, const floatX *dout, size_t n, bool vec) {
    size_t i = ((size_t)blockIdx.x * blockDim.x + threadIdx.x) * 8;
    if (i >= n) return;
    float x[8], d[8], acc[8];
    load8(x, inp, i, n, vec);
    load8(d, dout, i, n, vec);
    load8(acc, dinp, i, n, vec);
    for (int k = 0; k < 8; k++) {
        float th = tanhf(GELU_K * (x[k] + GELU_A * x[k] * x[k] * x[k]));
        float du = GELU_K * (1.0f + 3.0f * GELU_A * x[k] * x[k]);
        acc[k] += d[k] * 0.5f * ((1.0f + th) + x[k] * (1.0f - th * th) * du);
    }
    store8(dinp, acc, i, n, vec);
}

void gelu_forward_cuda(floatX *out, const floatX *inp, size_t n, cudaStream_t stream) {
    gelu_forward_kernel<<<ceil_div(n, 8 * 256), 256, 0, stream>>>(out, inp, n, aligned16(out) && aligned16(inp));
    CUDA_CHECK_LAUNCH();
}

void gelu_backward_cuda(floatX *dinp, const floatX *inp, const floatX *dout, size_t n, cudaStream_t stream) {
    bool vec = aligned16(dinp) && aligned16(inp) && aligned16(dout);
    gelu_backward_kernel<<<ceil_div(n, 8 * 256), 256, 0, stream>>>(dinp, inp, dout, n, vec);
    CUDA_CHECK_LAUNCH();
}
