// One row of LayerNorm or RMSNorm by one warp, shared by the norm kernels
// (layernorm.cu, rmsnorm.cu) and the fused residual + norm kernels (residual_norm.cu);
// below, the one-pass backward that both norms run.
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

// ---- backward in one pass -------------------------------------------------------------
// One read of inp and dout gives both the input gradient and the parameter gradients:
// a warp per row adds the row's dinp (two sweeps over the row, the second from cache)
// and adds the row's parameter-gradient terms into its own accumulators in shared
// memory. A block then sums its warps' accumulators, in warp order, into
// partial[block], and norm_grad_finish_kernel sums the blocks in a fixed order into
// the gradients. The grid depends only on N and C (not on the card), so the bits do not
// either. Row functors (layernorm.cu, rmsnorm.cu): K gradient vectors, and
// operator()(n, acc, vec) adding dinp of row n and its terms to acc.
enum { NORM_BWD_MAX_BLOCKS = 512, NORM_BWD_MAX_WARPS = 8, NORM_BWD_SMEM = 48 * 1024, NORM_FINISH_Y = 16 };

// accumulators per gradient vector: C rounded up to whole sweeps of the warp
__host__ __device__ inline int norm_acc_len(int C) { return (int)ceil_div(C, WARP_SIZE * 8) * WARP_SIZE * 8; }

// The accumulator of channel c = 256 i + 8 lane + j is (8 i + j) * 32 + lane: a lane's
// channel j of a sweep and the 31 other lanes' hit 32 different banks.
__device__ inline int norm_acc_slot(int c) { return ((c >> 8) * 8 + (c & 7)) * WARP_SIZE + ((c >> 3) & 31); }
__device__ inline int norm_acc_channel(int slot) {
    return slot / (WARP_SIZE * 8) * (WARP_SIZE * 8) + slot % WARP_SIZE * 8 + slot / WARP_SIZE % 8;
}

// warps per block: as many (up to 8) as have their accumulators within 48 KiB, a
// constant rather than the card's limit so that the grid is the same everywhere;
// rows too wide for even one warp in 48 KiB get one warp and more shared memory
static inline int norm_backward_warps(int C, int K) {
    int warps = NORM_BWD_SMEM / (K * norm_acc_len(C) * (int)sizeof(float));
    return warps < 1 ? 1 : warps > NORM_BWD_MAX_WARPS ? NORM_BWD_MAX_WARPS : warps;
}

static inline int norm_backward_blocks(int N, int C, int K) {
    int blocks = (int)ceil_div(N, norm_backward_warps(C, K));
    return blocks < NORM_BWD_MAX_BLOCKS ? blocks : NORM_BWD_MAX_BLOCKS;
}

static inline size_t norm_backward_scratch(int N, int C, int K) {
    return (size_t)norm_backward_blocks(N, C, K) * K * norm_acc_len(C) * sizeof(float);
}

// warp w of block b takes rows b W + w, then every gridDim x W rows
template <typename Row> __global__ void norm_backward_kernel(Row row, float *partial, int N, int C, bool vec) {
    extern __shared__ float acc_all[];
    int warps = blockDim.x / WARP_SIZE, warp = threadIdx.x / WARP_SIZE, len = Row::K * norm_acc_len(C);
    for (int i = threadIdx.x; i < warps * len; i += blockDim.x) acc_all[i] = 0;
    __syncthreads();
    for (int n = blockIdx.x * warps + warp; n < N; n += gridDim.x * warps) row(n, acc_all + (size_t)warp * len, vec);
    __syncthreads();
    for (int i = threadIdx.x; i < len; i += blockDim.x) {
        float s = 0;
        for (int w = 0; w < warps; w++) s += acc_all[(size_t)w * len + i];
        partial[(size_t)blockIdx.x * len + i] = s;
    }
}

// grads: K device pointers passed by value in a small struct
template <int K> struct GradPtrs { float *p[K]; };

// accumulator i of the K * norm_acc_len(C): thread row y sums blocks y, y + 16, ... in
// order, then row 0 adds the 16 rows in order and adds the total to the gradient
template <int K> __global__ void norm_grad_finish_kernel(GradPtrs<K> grads, const float *partial, int blocks, int C) {
    __shared__ float sums[NORM_FINISH_Y][WARP_SIZE];
    int len = norm_acc_len(C), i = blockIdx.x * WARP_SIZE + threadIdx.x;
    float s = 0;
    if (i < K * len)
        for (int b = threadIdx.y; b < blocks; b += NORM_FINISH_Y) s += partial[(size_t)b * K * len + i];
    sums[threadIdx.y][threadIdx.x] = s;
    __syncthreads();
    if (threadIdx.y != 0 || i >= K * len) return;
    for (int y = 1; y < NORM_FINISH_Y; y++) s += sums[y][threadIdx.x];
    float *grad = grads.p[0];   // grads.p[i / len], without indexing the parameter at run time
#pragma unroll
    for (int k = 1; k < K; k++)
        if (i >= k * len) grad = grads.p[k];
    int c = norm_acc_channel(i % len);
    if (c < C) grad[c] += s;
}

template <typename Row>
void norm_backward_launch(Row row, GradPtrs<Row::K> grads, int N, int C, bool vec, void *scratch,
                          cudaStream_t stream) {
    const int K = Row::K;
    int warps = norm_backward_warps(C, K), blocks = norm_backward_blocks(N, C, K);
    size_t smem = (size_t)warps * K * norm_acc_len(C) * sizeof(float);
    if (smem > NORM_BWD_SMEM) {   // one warp of a very wide row: opt in to more
        int device, most;
        CUDA_CHECK(cudaGetDevice(&device));
        CUDA_CHECK(cudaDeviceGetAttribute(&most, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
        if (smem > (size_t)most) {
            fprintf(stderr, "norm backward: rows of %d channels need %zu bytes of shared memory, the device has %d\n",
                    C, smem, most);
            exit(1);
        }
        CUDA_CHECK(cudaFuncSetAttribute(norm_backward_kernel<Row>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                        (int)smem));
    }
    float *partial = (float *)scratch;
    norm_backward_kernel<Row><<<blocks, warps * WARP_SIZE, smem, stream>>>(row, partial, N, C, vec);
    CUDA_CHECK_LAUNCH();
    norm_grad_finish_kernel<K><<<ceil_div((size_t)K * norm_acc_len(C), WARP_SIZE), dim3(WARP_SIZE, NORM_FINISH_Y), 0,
                                 stream>>>(grads, partial, blocks, C);
    CUDA_CHECK_LAUNCH();
}

#endif
