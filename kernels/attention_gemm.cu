// Causal grouped-query attention through cuBLAS strided-batched bf16 GEMMs (tensor
// cores, fp32 accumulation) around fused causal-softmax kernels, as llm.c does
// without cuDNN: a second tensor-core path that is easy to trust, and the fallback
// for shapes the flash kernels do not take. Same lse and semantics as
// kernels/attention.cu; rounding points as in the flash kernels (P and dS to bf16
// before their products, each output rounded once), so test/attention_check.h's
// bound holds for it too. It stores T x T scores, and computes the whole square
// (the masked half is multiplied too, then ignored).
//
// One batch of GEMMs covers, for one sequence b and one member r of every head
// group, the NKV heads h = g * group + r (g = 0..NKV-1): their Q, K, V and outputs
// are then equally spaced (Q by group * HS, K and V by HS), as strided batches need.
// Row-major X[R][K] with row stride ld is column-major X^T with leading dim ld, so
// S = Q K^T is computed as S^T = (K^T)^T Q^T, and so on below.
#include <cublas_v2.h>
#include "common.cuh"

static cublasHandle_t handle;

// C[batch] = alpha op(A[batch]) op(B[batch]) + beta C[batch], column-major, A and B
// bf16, C of type ctype, fp32 compute
static void gemm(cudaStream_t stream, bool ta, bool tb, int m, int n, int k, const floatX *A, int lda,
                 long long sa, const floatX *Bm, int ldb, long long sb, void *C, cudaDataType_t ctype, int ldc,
                 long long sc, int batch, float beta) {
    if (!handle) CUBLAS_CHECK(cublasCreate(&handle));
    CUBLAS_CHECK(cublasSetStream(handle, stream));
    float alpha = 1.0f;
    CUBLAS_CHECK(cublasGemmStridedBatchedEx(handle, ta ? CUBLAS_OP_T : CUBLAS_OP_N, tb ? CUBLAS_OP_T : CUBLAS_OP_N, m,
                                            n, k, &alpha, A, CUDA_R_16BF, lda, sa, Bm, CUDA_R_16BF, ldb, sb, &beta,
                                            C, ctype, ldc, sc, batch, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

// the scratch, each part 16-byte aligned: fp32 scores and their gradient, bf16 P and
// dS, all [NKV][T][T]; fp32 dK and dV accumulators [NKV][T][HS] (summed over the
// group, then rounded into dqkv once); D [B,NH,T]
struct GemmScratch {
    float *S, *dP, *dK, *dV, *D;
    floatX *P, *dS;
};

// lays the parts out from base (NULL: only sizes them); returns the bytes used
static size_t carve(GemmScratch *s, char *base, int B, int T, int NH, int NKV, int HS) {
    size_t sq = (size_t)NKV * T * T, kv = (size_t)NKV * T * HS, used = 0;
    auto take = [&](size_t bytes) {
        char *at = base ? base + used : NULL;
        used += (bytes + 15) / 16 * 16;
        return at;
    };
    s->S = (float *)take(sq * sizeof(float)), s->dP = (float *)take(sq * sizeof(float));
    s->dK = (float *)take(kv * sizeof(float)), s->dV = (float *)take(kv * sizeof(float));
    s->D = (float *)take((size_t)B * NH * T * sizeof(float));
    s->P = (floatX *)take(sq * sizeof(floatX)), s->dS = (floatX *)take(sq * sizeof(floatX));
    return used;
}

size_t attention_gemm_scratch_bytes(int B, int T, int NH, int NKV, int HS) {
    GemmScratch s;
    return carve(&s, NULL, B, T, NH, NKV, HS);
}

// ---- softmax kernels: one warp per score row (g, i) -------------------------------
// P[g,i,j] = exp(S scale - lse) for j <= i, 0 after; lse of head g * group + r
__global__ void causal_softmax_forward_kernel(floatX *P, float *lse, const float *S, int T, int NKV, int group, int r,
                                              float scale) {
    int rowi = (blockIdx.x * blockDim.x + threadIdx.x) / WARP_SIZE, lane = threadIdx.x % WARP_SIZE;
    if (rowi >= NKV * T) return;
    int g = rowi / T, i = rowi % T;
    const float *s = S + (size_t)rowi * T;
    float m = -INFINITY, sum = 0;
    for (int j = lane; j <= i; j += WARP_SIZE) m = fmaxf(m, s[j] * scale);
    m = warp_max(m);
    for (int j = lane; j <= i; j += WARP_SIZE) sum += expf(s[j] * scale - m);
    sum = warp_sum(sum);
    float l = m + logf(sum);
    floatX *p = P + (size_t)rowi * T;
    for (int j = lane; j < T; j += WARP_SIZE) p[j] = __float2bfloat16(j <= i ? expf(s[j] * scale - l) : 0.0f);
    // lse is [B,NH,T] with the batch offset applied by the caller
    if (lane == 0) lse[(size_t)(g * group + r) * T + i] = l;
}

// P as above from lse, dS = P (dP - D) scale; both 0 past the diagonal
__global__ void causal_softmax_backward_kernel(floatX *P, floatX *dS, const float *S, const float *dP, const float *lse,
                                               const float *D, int T, int NKV, int group, int r, float scale) {
    int rowi = (blockIdx.x * blockDim.x + threadIdx.x) / WARP_SIZE, lane = threadIdx.x % WARP_SIZE;
    if (rowi >= NKV * T) return;
    int g = rowi / T, i = rowi % T;
    size_t at = (size_t)(g * group + r) * T + i;
    float l = lse[at], d = D[at];
    size_t off = (size_t)rowi * T;
    for (int j = lane; j < T; j += WARP_SIZE) {
        float p = j <= i ? expf(S[off + j] * scale - l) : 0.0f;
        P[off + j] = __float2bfloat16(p);
        dS[off + j] = __float2bfloat16(p * (dP[off + j] - d) * scale);
    }
}

// dst[t, g * HS + c] += src[g][t][c] for the kv heads' columns of one sequence's rows
__global__ void add_kv_kernel(floatX *dst, const float *src, int T, int NKV, int HS, size_t row) {
    size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (size_t)NKV * T * HS) return;
    int c = idx % HS, t = idx / HS % T, g = idx / ((size_t)HS * T);
    floatX *p = dst + t * row + (size_t)g * HS + c;
    *p = __float2bfloat16(__bfloat162float(*p) + src[idx]);
}

static unsigned warps_blocks(size_t rows) { return ceil_div(rows * WARP_SIZE, 256); }

// S^T (as column-major [T][T] per kv head) = K Q^T for the heads g * group + r of sequence b
static void scores(float *S, const floatX *qkv_b, int T, int NH, int NKV, int HS, int r, cudaStream_t stream) {
    int row = (NH + 2 * NKV) * HS, group = NH / NKV;
    gemm(stream, true, false, T, T, HS, qkv_b + (size_t)NH * HS, row, HS, qkv_b + (size_t)r * HS, row,
         (long long)group * HS, S, CUDA_R_32F, T, (long long)T * T, NKV, 0.0f);
}

void attention_gemm_forward_cuda(floatX *out, float *lse, const floatX *qkv, int B, int T, int NH, int NKV, int HS,
                                 void *scratch, cudaStream_t stream) {
    GemmScratch s;
    carve(&s, (char *)scratch, B, T, NH, NKV, HS);
    int row = (NH + 2 * NKV) * HS, group = NH / NKV;
    float scale = rsqrtf((float)HS);
    for (int b = 0; b < B; b++) {
        const floatX *qkv_b = qkv + (size_t)b * T * row;
        for (int r = 0; r < group; r++) {
            scores(s.S, qkv_b, T, NH, NKV, HS, r, stream);
            causal_softmax_forward_kernel<<<warps_blocks((size_t)NKV * T), 256, 0, stream>>>(
                s.P, lse + (size_t)b * NH * T, s.S, T, NKV, group, r, scale);
            CUDA_CHECK_LAUNCH();
            // O^T = V^T P^T
            gemm(stream, false, false, HS, T, T, qkv_b + (size_t)(NH + NKV) * HS, row, HS, s.P, T, (long long)T * T,
                 out + (size_t)b * T * NH * HS + (size_t)r * HS, CUDA_R_16BF, NH * HS, (long long)group * HS, NKV,
                 0.0f);
        }
    }
}

void attention_gemm_backward_cuda(floatX *dqkv, const floatX *dout, const floatX *qkv, const floatX *out,
                                  const float *lse, int B, int T, int NH, int NKV, int HS, void *scratch,
                                  cudaStream_t stream) {
    GemmScratch s;
    carve(&s, (char *)scratch, B, T, NH, NKV, HS);
    int row = (NH + 2 * NKV) * HS, group = NH / NKV;
    float scale = rsqrtf((float)HS);
    attention_rowdot_cuda(s.D, dout, out, B, T, NH, HS, stream);
    for (int b = 0; b < B; b++) {
        const floatX *qkv_b = qkv + (size_t)b * T * row, *dout_b = dout + (size_t)b * T * NH * HS;
        floatX *dqkv_b = dqkv + (size_t)b * T * row;
        CUDA_CHECK(cudaMemsetAsync(s.dK, 0, 2 * (size_t)NKV * T * HS * sizeof(float), stream));   // dK and dV
        for (int r = 0; r < group; r++) {
            scores(s.S, qkv_b, T, NH, NKV, HS, r, stream);
            // dP^T = V dO^T
            gemm(stream, true, false, T, T, HS, qkv_b + (size_t)(NH + NKV) * HS, row, HS, dout_b + (size_t)r * HS,
                 NH * HS, (long long)group * HS, s.dP, CUDA_R_32F, T, (long long)T * T, NKV, 0.0f);
            causal_softmax_backward_kernel<<<warps_blocks((size_t)NKV * T), 256, 0, stream>>>(
                s.P, s.dS, s.S, s.dP, lse + (size_t)b * NH * T, s.D + (size_t)b * NH * T, T, NKV, group, r, scale);
            CUDA_CHECK_LAUNCH();
            // dV^T += dO^T P, dK^T += Q^T dS (fp32, over the group), dQ^T += K^T dS^T (bf16, once per head)
            gemm(stream, false, true, HS, T, T, dout_b + (size_t)r * HS, NH * HS, (long long)group * HS, s.P, T,
                 (long long)T * T, s.dV, CUDA_R_32F, HS, (long long)T * HS, NKV, 1.0f);
            gemm(stream, false, true, HS, T, T, qkv_b + (size_t)r * HS, row, (long long)group * HS, s.dS, T,
                 (long long)T * T, s.dK, CUDA_R_32F, HS, (long long)T * HS, NKV, 1.0f);
            gemm(stream, false, false, HS, T, T, qkv_b + (size_t)NH * HS, row, HS, s.dS, T, (long long)T * T,
                 dqkv_b + (size_t)r * HS, CUDA_R_16BF, row, (long long)group * HS, NKV, 1.0f);
        }
        unsigned blocks = ceil_div((size_t)NKV * T * HS, 256);
        add_kv_kernel<<<blocks, 256, 0, stream>>>(dqkv_b + (size_t)NH * HS, s.dK, T, NKV, HS, row);
        CUDA_CHECK_LAUNCH();
        add_kv_kernel<<<blocks, 256, 0, stream>>>(dqkv_b + (size_t)(NH + NKV) * HS, s.dV, T, NKV, HS, row);
        CUDA_CHECK_LAUNCH();
    }
}
