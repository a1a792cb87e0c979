// SwiGLU on the GPU (CPU twin: src/model/swiglu.c): rows [gate (H) | up (H)] -> silu(gate) * up.
// One thread per 8 channels of one row.
#include "common.cuh"

__global__ void swiglu_forward_kernel(floatX *out, const floatX *inp, int N, int H, bool vec) {
    int per_row = ceil_div(H, 8);
    size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (size_t)N * per_row) return;
    int n = idx / per_row, h = idx % per_row * 8;
    const floatX *gate = inp + (size_t)n * 2 * H, *up = gate + H;
    float g[8], u[8];
    load8(g, gate, h, H, vec);
    load8(u, up, h, H, vec);
    for (int k = 0; k < 8; k++) g[k] = g[k] / (1.0f + expf(-g[k])) * u[k];
    store8(out + (size_t)n * H, g, h, H, vec);
}

__global__ void swiglu_backward_kernel(floatX *dinp, const floatX *inp, const floatX *dout, int N, int H, bool vec) {
    int per_row = ceil_div(H, 8);
    size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (size_t)N * per_row) return;
    int n = idx / per_row, h = idx % per_row * 8;
    const floatX *gate = inp + (size_t)n * 2 * H, *up = gate + H;
    floatX *dgate = dinp + (size_t)n * 2 * H, *dup = dgate + H;
    float g[8], u[8], d[8], dg[8], du[8];
    load8(g, gate, h, H, vec);
    load8(u, up, h, H, vec);
    load8(d, dout + (size_t)n * H, h, H, vec);
    load8(dg, dgate, h, H, vec);
    load8(du, dup, h, H, vec);
    for (int k = 0; k < 8; k++) {
        float sig = 1.0f / (1.0f + expf(-g[k]));
        dg[k] += d[k] * u[k] * sig * (1.0f + g[k] * (1.0f - sig));
        du[k] += d[k] * g[k] * sig;
    }
    store8(dgate, dg, h, H, vec);
    store8(dup, du, h, H, vec);
}

void swiglu_forward_cuda(floatX *out, const floatX *inp, int N, int H, cudaStream_t stream) {
    bool vec = H % 8 == 0 && aligned16(out) && aligned16(inp);
    swiglu_forward_kernel<<<ceil_div((size_t)N * ceil_div(H, 8), 256), 256, 0, stream>>>(out, inp, N, H, vec);
    CUDA_CHECK_LAUNCH();
}

void swiglu_backward_cuda(floatX *dinp, const floatX *inp, const floatX *dout, int N, int H, cudaStream_t stream) {
    bool vec = H % 8 == 0 && aligned16(dinp) && aligned16(inp) && aligned16(dout);
    swiglu_backward_kernel<<<ceil_div((size_t)N * ceil_div(H, 8), 256), 256, 0, stream>>>(dinp, inp, dout, N, H, vec);
    CUDA_CHECK_LAUNCH();
}
