// Residual add on the GPU (CPU twin: src/model/residual.c). 8 elements per thread.
#include "common.cuh"

__global__ void residual_forward_kernel(floatX *out, const floatX *a, const floatX *b, size_t n, bool vec) {
    size_t i = ((size_t)blockIdx.x * blockDim.x + threadIdx.x) * 8;
    if (i >= n) return;
    float x[8], y[8];
    load8(x, a, i, n, vec);
    load8(y, b, i, n, vec);
    for (int k = 0; k < 8; k++) x[k] += y[k];
    store8(out, x, i, n, vec);
}

// da += dout, db += dout
__global__ void residual_backward_kernel(floatX *da, floatX *db, const floatX *dout, size_t n, bool vec) {
    size_t i = ((size_t)blockIdx.x * blockDim.x + threadIdx.x) * 8;
    if (i >= n) return;
    float d[8], x[8], y[8];
    load8(d, dout, i, n, vec);
    load8(x, da, i, n, vec);
    load8(y, db, i, n, vec);
    for (int k = 0; k < 8; k++) {
        x[k] += d[k];
        y[k] += d[k];
    }
    store8(da, x, i, n, vec);
    store8(db, y, i, n, vec);
}

void residual_forward_cuda(floatX *out, const floatX *a, const floatX *b, size_t n, cudaStream_t stream) {
    bool vec = aligned16(out) && aligned16(a) && aligned16(b);
    residual_forward_kernel<<<ceil_div(n, 8 * 256), 256, 0, stream>>>(out, a, b, n, vec);
    CUDA_CHECK_LAUNCH();
}

void residual_backward_cuda(floatX *da, floatX *db, const floatX *dout, size_t n, cudaStream_t stream) {
    bool vec = aligned16(da) && aligned16(db) && aligned16(dout);
    residual_backward_kernel<<<ceil_div(n, 8 * 256), 256, 0, stream>>>(da, db, dout, n, vec);
    CUDA_CHECK_LAUNCH();
}
