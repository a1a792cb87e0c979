// Matmuls through cuBLASLt (see include/matmul_cuda.h), and the bias gradient as a
// deterministic column sum.
//
// cuBLASLt is column-major; a row-major X[R,K] is the column-major [K,R] with
// leading dimension K, so the row-major products become
//   forward  D[OC,N]  = op_T(W as [C,OC]) * (inp as [C,N])
//   dinp     D[C,N]   = (W as [C,OC]) * (dout as [OC,N])
//   dweight  D[C,OC] += (inp as [C,N]) * op_T(dout as [OC,N])
#include <string.h>
#include "common.cuh"
#include "matmul_cuda.h"

// 32 MiB: what cuBLAS recommends for Hopper; plenty for Ampere
#define WORKSPACE_BYTES ((size_t)32 << 20)
#define MAX_CACHED 256

static cublasLtHandle_t lt;
static void *workspace;

// what the heuristic's choice depends on
typedef struct {
    int m, n, k, transa, transb, epilogue, accumulate;
    cudaDataType_t dtype;
    uint32_t align[4];
} AlgoKey;

static struct {
    AlgoKey key;
    cublasLtMatmulAlgo_t algo;
} cache[MAX_CACHED];
static int cached;

void matmul_cuda_init(void) {
    if (lt) return;
    CUBLAS_CHECK(cublasLtCreate(&lt));
    CUDA_CHECK(cudaMalloc(&workspace, WORKSPACE_BYTES));
}

size_t matmul_cuda_workspace_bytes(void) { return WORKSPACE_BYTES; }

void matmul_cuda_free(void) {
    if (!lt) return;
    CUDA_CHECK(cudaFree(workspace));
    CUBLAS_CHECK(cublasLtDestroy(lt));
    lt = NULL;
    workspace = NULL;
    cached = 0;
}

// the largest power of two (up to 256) dividing the address: cuBLASLt's kernels
// assume the alignment the heuristic was told
static uint32_t alignment(const void *p) {
    uint32_t a = 256;
    while (a > 1 && ((uintptr_t)p & (a - 1))) a >>= 1;
    return a;
}

static void set_attr(cublasLtMatmulDesc_t d, cublasLtMatmulDescAttributes_t attr, const void *v, size_t size) {
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(d, attr, v, size));
}

// D[m,n] (column-major, ld m) = op(A) * op(B) (+ D when accumulate), with an
// epilogue; A is [m,k] (or [k,m] when transa), B is [k,n] (or [n,k] when transb).
static void lt_matmul(void *d, cudaDataType_t dtype, const floatX *a, int transa, const floatX *b, int transb,
                      int m, int n, int k, int accumulate, cublasLtEpilogue_t epilogue, const floatX *bias,
                      const floatX *aux, cudaStream_t stream) {
    if (!lt) matmul_cuda_init();
    cublasLtMatmulDesc_t desc;
    CUBLAS_CHECK(cublasLtMatmulDescCreate(&desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    cublasOperation_t ta = transa ? CUBLAS_OP_T : CUBLAS_OP_N, tb = transb ? CUBLAS_OP_T : CUBLAS_OP_N;
    set_attr(desc, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta);
    set_attr(desc, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb);
    set_attr(desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epilogue, sizeof epilogue);
    if (bias) {
        cudaDataType_t bt = CUDA_R_16BF;
        set_attr(desc, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bt, sizeof bt);
        set_attr(desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias);
    }
    if (aux) {
        int64_t ld = m;
        cudaDataType_t at = CUDA_R_16BF;
        set_attr(desc, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER, &aux, sizeof aux);
        set_attr(desc, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD, &ld, sizeof ld);
        set_attr(desc, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_DATA_TYPE, &at, sizeof at);
    }
    cublasLtMatrixLayout_t la, lb, ld;
    CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&la, CUDA_R_16BF, transa ? k : m, transa ? m : k, transa ? k : m));
    CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&lb, CUDA_R_16BF, transb ? n : k, transb ? k : n, transb ? n : k));
    CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&ld, dtype, m, n, m));

    AlgoKey key;
    memset(&key, 0, sizeof key);   // compared with memcmp: no padding garbage
    key.m = m, key.n = n, key.k = k, key.transa = transa, key.transb = transb, key.epilogue = (int)epilogue;
    key.accumulate = accumulate, key.dtype = dtype;
    key.align[0] = alignment(a), key.align[1] = alignment(b), key.align[2] = alignment(d);
    key.align[3] = bias ? alignment(bias) : aux ? alignment(aux) : 0;
    int hit = -1;
    for (int i = 0; i < cached && hit < 0; i++)
        if (memcmp(&cache[i].key, &key, sizeof key) == 0) hit = i;
    cublasLtMatmulAlgo_t algo;
    if (hit >= 0) {
        algo = cache[hit].algo;
    } else {
        cublasLtMatmulPreference_t pref;
        CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&pref));
        uint64_t ws = WORKSPACE_BYTES;
        CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws,
                                                          sizeof ws));
        cublasLtMatmulPreferenceAttributes_t align_attr[3] = {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES,
                                                              CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
                                                              CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES};
        for (int i = 0; i < 3; i++)
            CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, align_attr[i], &key.align[i], sizeof(uint32_t)));
        // C is D (in place accumulation)
        CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES,
                                                          &key.align[2], sizeof(uint32_t)));
        cublasLtMatmulHeuristicResult_t result;
        int found = 0;
        CUBLAS_CHECK(cublasLtMatmulAlgoGetHeuristic(lt, desc, la, lb, ld, ld, pref, 1, &result, &found));
        CUBLAS_CHECK(cublasLtMatmulPreferenceDestroy(pref));
        if (found == 0) {
            fprintf(stderr, "matmul: cuBLASLt has no algorithm for m=%d n=%d k=%d transa=%d transb=%d epilogue=%d\n",
                    m, n, k, transa, transb, (int)epilogue);
            exit(1);
        }
        algo = result.algo;
        if (cached < MAX_CACHED) cache[cached].key = key, cache[cached++].algo = algo;
    }
    const float alpha = 1.0f, beta = accumulate ? 1.0f : 0.0f;
    CUBLAS_CHECK(cublasLtMatmul(lt, desc, &alpha, a, la, b, lb, &beta, d, ld, d, ld, &algo, workspace,
                                WORKSPACE_BYTES, stream));
    CUBLAS_CHECK(cublasLtMatrixLayoutDestroy(la));
    CUBLAS_CHECK(cublasLtMatrixLayoutDestroy(lb));
    CUBLAS_CHECK(cublasLtMatrixLayoutDestroy(ld));
    CUBLAS_CHECK(cublasLtMatmulDescDestroy(desc));
}

void matmul_forward_cuda(floatX *out, floatX *pre_gelu, const floatX *inp, const floatX *weight, const floatX *bias,
                         int N, int C, int OC, cudaStream_t stream) {
    cublasLtEpilogue_t epi = pre_gelu ? (bias ? CUBLASLT_EPILOGUE_GELU_AUX_BIAS : CUBLASLT_EPILOGUE_GELU_AUX)
                                      : (bias ? CUBLASLT_EPILOGUE_BIAS : CUBLASLT_EPILOGUE_DEFAULT);
    lt_matmul(out, CUDA_R_16BF, weight, 1, inp, 0, OC, N, C, 0, epi, bias, pre_gelu, stream);
}

// the bias gradient in two deterministic passes: column sums over chunks of rows
// into scratch, then each column's chunks in order
#define BIAS_ROWS 256

__global__ static void bias_partial_kernel(float *partial, const floatX *dout, int N, int OC) {
    int col = blockIdx.x * blockDim.x + threadIdx.x, chunk = blockIdx.y;
    if (col >= OC) return;
    int end = min(N, (chunk + 1) * BIAS_ROWS);
    float s = 0.0f;
    for (int r = chunk * BIAS_ROWS; r < end; r++) s += __bfloat162float(dout[(size_t)r * OC + col]);
    partial[(size_t)chunk * OC + col] = s;
}

__global__ static void bias_sum_kernel(float *dbias, const float *partial, int chunks, int OC) {
    int col = blockIdx.x * blockDim.x + threadIdx.x;
    if (col >= OC) return;
    float s = 0.0f;
    for (int c = 0; c < chunks; c++) s += partial[(size_t)c * OC + col];
    dbias[col] += s;
}

size_t matmul_backward_scratch_bytes(int N, int OC) { return sizeof(float) * ceil_div(N, BIAS_ROWS) * (size_t)OC; }

void matmul_backward_cuda(floatX *dinp, float *dweight, float *dbias, const floatX *dout, const floatX *inp,
                          const floatX *weight, const floatX *pre_gelu, int N, int C, int OC, void *scratch,
                          cudaStream_t stream) {
    lt_matmul(dinp, CUDA_R_16BF, weight, 0, dout, 0, C, N, OC, 0,
              pre_gelu ? CUBLASLT_EPILOGUE_DGELU : CUBLASLT_EPILOGUE_DEFAULT, NULL, pre_gelu, stream);
    lt_matmul(dweight, CUDA_R_32F, inp, 0, dout, 1, C, OC, N, 1, CUBLASLT_EPILOGUE_DEFAULT, NULL, NULL, stream);
    if (dbias) {
        unsigned chunks = ceil_div(N, BIAS_ROWS);
        bias_partial_kernel<<<dim3(ceil_div(OC, 128), chunks), 128, 0, stream>>>((float *)scratch, dout, N, OC);
        CUDA_CHECK_LAUNCH();
        bias_sum_kernel<<<ceil_div(OC, 128), 128, 0, stream>>>(dbias, (const float *)scratch, chunks, OC);
        CUDA_CHECK_LAUNCH();
    }
}
