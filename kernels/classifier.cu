// Fused classifier on the GPU (CPU twins: classifier_forward and classifier_backward
// in src/model/classifier.c): one block per row; an online softmax reads the row once for
// its max and sum, a second read (from L2) writes the gradient in place.
#include "common.cuh"

enum { CLS_THREADS = 512 };

// running (max, sum of exp(x - max)) pairs, merged
struct SoftmaxStat {
    float max, sum;
};

__device__ inline SoftmaxStat merge(SoftmaxStat a, SoftmaxStat b) {
    float m = fmaxf(a.max, b.max);
    if (m == -INFINITY) return a;   // both empty
    return {m, a.sum * expf(a.max - m) + b.sum * expf(b.max - m)};
}

__device__ inline SoftmaxStat block_softmax_stat(SoftmaxStat s) {
    __shared__ SoftmaxStat partial[WARP_SIZE];
    for (int off = WARP_SIZE / 2; off > 0; off >>= 1)
        s = merge(s, {__shfl_xor_sync(0xffffffffu, s.max, off), __shfl_xor_sync(0xffffffffu, s.sum, off)});
    int lane = threadIdx.x % WARP_SIZE, warp = threadIdx.x / WARP_SIZE;
    if (lane == 0) partial[warp] = s;
    __syncthreads();
    s = lane < (int)(blockDim.x / WARP_SIZE) ? partial[lane] : SoftmaxStat{-INFINITY, 0.0f};
    for (int off = WARP_SIZE / 2; off > 0; off >>= 1)
        s = merge(s, {__shfl_xor_sync(0xffffffffu, s.max, off), __shfl_xor_sync(0xffffffffu, s.sum, off)});
    return s;
}

// -log p is clamped at -log(1e-30) as the CPU twin clamps p (NaN is kept, as there)
#define MAX_LOSS 69.07755279f

__global__ void classifier_fused_kernel(float *losses, floatX *logits, const int *targets, float dloss, int V, int Vp,
                                        bool backward, bool vec) {
    int n = blockIdx.x;
    floatX *row = logits + (size_t)n * Vp;
    int target = targets ? targets[n] : -1;
    float x[8];
    SoftmaxStat s = {-INFINITY, 0.0f};
    for (int v = threadIdx.x * 8; v < V; v += blockDim.x * 8) {
        load8(x, row, v, V, vec);
        float m = -INFINITY;
        for (int k = 0; k < 8 && v + k < V; k++) m = fmaxf(m, x[k]);
        float sum = 0;
        for (int k = 0; k < 8 && v + k < V; k++) sum += expf(x[k] - m);
        s = merge(s, {m, sum});
    }
    s = block_softmax_stat(s);
    float lse = s.max + logf(s.sum);
    if (threadIdx.x == 0) {
        // a NaN (non-finite logits) stays NaN for the training loop to catch; fminf would drop it
        float loss = target >= 0 ? lse - __bfloat162float(row[target]) : 0.0f;
        losses[n] = loss > MAX_LOSS ? MAX_LOSS : loss;
    }
    if (!backward) return;
    __syncthreads();   // every thread has read the target logit before it is overwritten
    for (int v = threadIdx.x * 8; v < Vp; v += blockDim.x * 8) {
        load8(x, row, v, Vp, vec);
        for (int k = 0; k < 8; k++) {
            float p = v + k < V ? expf(x[k] - lse) : 0.0f;
            x[k] = target >= 0 ? dloss * (p - (v + k == target)) : 0.0f;
        }
        store8(row, x, v, Vp, vec);
    }
}

void classifier_fused_cuda(float *losses, floatX *logits, const int *targets, float dloss, int N, int V, int Vp,
                           int backward, cudaStream_t stream) {
    bool vec = Vp % 8 == 0 && aligned16(logits);
    classifier_fused_kernel<<<N, CLS_THREADS, 0, stream>>>(losses, logits, targets, dloss, V, Vp, backward != 0, vec);
    CUDA_CHECK_LAUNCH();
}

// One block: a fixed partition and tree, so the sum is the same bits every run; in
// double, as the CPU loop that takes the mean sums.
enum { LOSS_SUM_THREADS = 1024 };

__global__ void loss_sum_kernel(double *acc, const float *losses, int N) {
    __shared__ double part[LOSS_SUM_THREADS];
    double s = 0;
    for (int i = threadIdx.x; i < N; i += LOSS_SUM_THREADS) s += losses[i];
    part[threadIdx.x] = s;
    __syncthreads();
    for (int stride = LOSS_SUM_THREADS / 2; stride > 0; stride /= 2) {
        if (threadIdx.x < stride) part[threadIdx.x] += part[threadIdx.x + stride];
        __syncthreads();
    }
    if (threadIdx.x == 0) *acc += part[0];
}

void loss_sum_cuda(double *acc, const float *losses, int N, cudaStream_t stream) {
    loss_sum_kernel<<<1, LOSS_SUM_THREADS, 0, stream>>>(acc, losses, N);
    CUDA_CHECK_LAUNCH();
}
