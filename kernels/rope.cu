// Rotary position embedding on the GPU (CPU twin: src/model/rope.c): adjacent pairs
// (x[2i], x[2i+1]) of every q and k head, in place; v is left alone.
#include "common.cuh"

// one thread per pair; dir = 1 rotates by +angle (forward), -1 by -angle (backward)
__global__ void rope_kernel(floatX *qkv, const float *cos_table, const float *sin_table, int N, int T, int NH,
                            int NKV, int HS, float dir) {
    int half = HS / 2, heads = NH + NKV;
    size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (size_t)N * heads * half) return;
    int i = idx % half, h = idx / half % heads, n = idx / ((size_t)half * heads);
    int t = n % T;
    floatX *head = qkv + (size_t)n * (NH + 2 * NKV) * HS + (size_t)h * HS;
    __nv_bfloat162 *pair = reinterpret_cast<__nv_bfloat162 *>(head) + i;
    float2 x = __bfloat1622float2(*pair);
    float c = cos_table[t * half + i], s = dir * sin_table[t * half + i];
    *pair = __floats2bfloat162_rn(x.x * c - x.y * s, x.x * s + x.y * c);
}

static void rope_launch(floatX *qkv, const float *cos_table, const float *sin_table, int B, int T, int NH, int NKV,
                        int HS, float dir, cudaStream_t stream) {
    size_t threads = (size_t)B * T * (NH + NKV) * (HS / 2);
    rope_kernel<<<ceil_div(threads, 256), 256, 0, stream>>>(qkv, cos_table, sin_table, B * T, T, NH, NKV, HS, dir);
    CUDA_CHECK_LAUNCH();
}

void rope_forward_cuda(floatX *qkv, const float *cos_table, const float *sin_table, int B, int T, int NH, int NKV,
                       int HS, cudaStream_t stream) {
    rope_launch(qkv, cos_table, sin_table, B, T, NH, NKV, HS, 1.0f, stream);
}

// a rotation is orthogonal: its gradient is the inverse rotation of the gradient
void rope_backward_cuda(floatX *dqkv, const float *cos_table, const float *sin_table, int B, int T, int NH, int NKV,
                        int HS, cudaStream_t stream) {
    rope_launch(dqkv, cos_table, sin_table, B, T, NH, NKV, HS, -1.0f, stream);
}
