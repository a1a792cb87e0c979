// Residual add fused with the norm that follows it (CPU twins: src/model/residual_norm.c).
// One warp per row: a and b are read once, their sum is rounded to bf16 once (as
// residual_forward_cuda rounds it) and written both to `residual` and to the warp's
// row of shared memory, from which the norm (norm_row.cuh, the code of the plain norm
// kernels) reads it. DRAM traffic per element: 2 reads + 2 writes of bf16, against
// 3 + 3 for residual_forward_cuda then the plain norm (the norm re-reads the residual
// the first kernel wrote).
#include "norm_row.cuh"

// dynamic shared memory below the default 48 KiB limit: no opt-in attribute needed
enum { RESIDUAL_NORM_SMEM = 48 * 1024, RESIDUAL_NORM_MAX_ROWS = 8 };

// each warp's row starts 16-byte aligned, so 128-bit loads and stores work on it
__host__ __device__ static int smem_row_elems(int C) { return (int)ceil_div(C, 8) * 8; }

// 8 rows per block if they fit in shared memory, fewer for wide rows (Llama 3 8B's
// 4096 channels: 6), 0 when not even one row fits (C > 24576)
static int rows_per_block(int C) {
    int rows = RESIDUAL_NORM_SMEM / (smem_row_elems(C) * (int)sizeof(floatX));
    return rows < RESIDUAL_NORM_MAX_ROWS ? rows : RESIDUAL_NORM_MAX_ROWS;
}

template <typename Norm>
__global__ void residual_norm_forward_kernel(floatX *residual, Norm norm, const floatX *a, const floatX *b, int N,
                                             int C, bool vec) {
    extern __shared__ int4 smem_rows[];   // int4: 16-byte aligned
    int warp = threadIdx.x / WARP_SIZE, lane = threadIdx.x % WARP_SIZE;
    int n = blockIdx.x * (blockDim.x / WARP_SIZE) + warp;
    if (n >= N) return;
    floatX *row = (floatX *)smem_rows + (size_t)warp * smem_row_elems(C);
    size_t off = (size_t)n * C;
    float x[8], y[8];
    for (int c = lane * 8; c < C; c += WARP_SIZE * 8) {
        load8(x, a + off, c, C, vec);
        load8(y, b + off, c, C, vec);
        for (int k = 0; k < 8; k++) x[k] += y[k];
        store8(residual + off, x, c, C, vec);
        store8(row, x, c, C, vec);
    }
    __syncwarp();
    norm(n, row, vec);
}

template <typename Norm>
static void residual_norm_launch(floatX *residual, Norm norm, const floatX *a, const floatX *b, int N, int C,
                                 bool vec, cudaStream_t stream) {
    int rows = rows_per_block(C);
    if (rows == 0) {   // rows wider than shared memory: the two kernels, the same bits
        residual_forward_cuda(residual, a, b, (size_t)N * C, stream);
        norm_forward_launch(norm, residual, N, C, vec, stream);
        return;
    }
    size_t smem = (size_t)rows * smem_row_elems(C) * sizeof(floatX);
    residual_norm_forward_kernel<Norm><<<ceil_div(N, rows), rows * WARP_SIZE, smem, stream>>>(residual, norm, a, b,
                                                                                             N, C, vec);
    CUDA_CHECK_LAUNCH();
}

void residual_layernorm_forward_cuda(floatX *residual, floatX *out, float *mean, float *rstd, const floatX *a,
                                     const floatX *b, const floatX *weight, const floatX *bias, int N, int C,
                                     float eps, cudaStream_t stream) {
    bool vec = C % 8 == 0 && aligned16(residual) && aligned16(out) && aligned16(a) && aligned16(b) &&
               aligned16(weight) && aligned16(bias);
    residual_norm_launch(residual, LayerNormRow{out, mean, rstd, weight, bias, C, eps}, a, b, N, C, vec, stream);
}

void residual_rmsnorm_forward_cuda(floatX *residual, floatX *out, float *rstd, const floatX *a, const floatX *b,
                                   const floatX *weight, int N, int C, float eps, cudaStream_t stream) {
    bool vec = C % 8 == 0 && aligned16(residual) && aligned16(out) && aligned16(a) && aligned16(b) &&
               aligned16(weight);
    residual_norm_launch(residual, RMSNormRow{out, rstd, weight, C, eps}, a, b, N, C, vec, stream);
}
