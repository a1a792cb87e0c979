// A tensor-core attention forward for bench_attention's version 2 (dev only, not
// in the library until it has been checked on a GPU: the benchmark compares its
// output with kernels/attention.cu's). Same semantics as attention_forward_cuda.
//
// Block = 4 warps and 64 queries of one (batch, head); each warp owns 16 query rows.
// Per 64-key tile: S = Q K^T with bf16 WMMA (m16n16k16, fp32 accumulators) into
// shared memory, the online softmax there (two lanes per row), P in bf16, and
// O += P V with WMMA on accumulators kept in shared memory so that rows can be
// rescaled when the running max changes.
#include <mma.h>

namespace wmma_attention {

using namespace nvcuda;
enum { WARPS = 4, ROWS = 16, BQ = WARPS * ROWS, BK = 64 };

template <int HS> constexpr size_t smem_bytes() {
    return sizeof(floatX) * 3 * BQ * HS                        // q, k, v tiles
           + WARPS * ROWS * (BK * sizeof(float) + BK * sizeof(floatX) + HS * sizeof(float))   // s, p, o
           + WARPS * ROWS * 3 * sizeof(float);                 // m, l, correction
}

// rows [row0, row0 + 64) of one head, bf16 as is (zeros past T)
template <int HS>
__device__ void copy_tile(floatX *dst, const floatX *src, size_t src_stride, int row0, int T) {
    for (int idx = threadIdx.x; idx < BQ * HS / 8; idx += blockDim.x) {
        int r = idx / (HS / 8), c = idx % (HS / 8) * 8;
        int4 v = make_int4(0, 0, 0, 0);
        if (row0 + r < T) v = *reinterpret_cast<const int4 *>(src + (size_t)(row0 + r) * src_stride + c);
        *reinterpret_cast<int4 *>(dst + r * HS + c) = v;
    }
}

template <int HS>
__global__ void __launch_bounds__(WARPS * WARP_SIZE)
forward_kernel(floatX *out, float *lse, const floatX *qkv, int T, int NH, int NKV) {
    extern __shared__ __align__(32) unsigned char smem[];
    int warp = threadIdx.x / WARP_SIZE, lane = threadIdx.x % WARP_SIZE;
    unsigned char *at = smem;   // carved in the order of smem_bytes(); every size is a multiple of 32 bytes
    floatX *q = (floatX *)at, *k = q + BQ * HS, *v = k + BK * HS;
    at += sizeof(floatX) * 3 * BQ * HS;
    float *s = (float *)at + warp * ROWS * BK;            // this warp's [16][BK] scores
    at += sizeof(float) * WARPS * ROWS * BK;
    floatX *p = (floatX *)at + warp * ROWS * BK;          // [16][BK] probabilities
    at += sizeof(floatX) * WARPS * ROWS * BK;
    float *o = (float *)at + warp * ROWS * HS;            // [16][HS] output accumulators
    at += sizeof(float) * WARPS * ROWS * HS;
    float *stats = (float *)at + warp * ROWS * 3;
    float *m = stats, *l = stats + ROWS, *corr = stats + 2 * ROWS;

    int q0 = blockIdx.x * BQ, h = blockIdx.y, b = blockIdx.z, g = h / (NH / NKV);
    size_t row = (size_t)(NH + 2 * NKV) * HS;
    const floatX *base = qkv + (size_t)b * T * row;
    float scale = rsqrtf((float)HS);
    copy_tile<HS>(q, base + (size_t)h * HS, row, q0, T);
    for (int i = lane; i < ROWS * HS; i += WARP_SIZE) o[i] = 0;
    if (lane < ROWS) m[lane] = -INFINITY, l[lane] = 0;

    int r = lane / 2, half = lane % 2;   // softmax: two lanes per row, BK / 2 columns each
    int qi = q0 + warp * ROWS + r;
    int last = min(T, q0 + BQ) - 1;
    for (int k0 = 0; k0 <= last; k0 += BK) {
        __syncthreads();
        copy_tile<HS>(k, base + (size_t)(NH + g) * HS, row, k0, T);
        copy_tile<HS>(v, base + (size_t)(NH + NKV + g) * HS, row, k0, T);
        __syncthreads();
        // S = Q K^T: K row-major [key][d] is K^T column-major
        for (int nb = 0; nb < BK / 16; nb++) {
            wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
            wmma::fill_fragment(acc, 0.0f);
            for (int kb = 0; kb < HS / 16; kb++) {
                wmma::fragment<wmma::matrix_a, 16, 16, 16, floatX, wmma::row_major> fa;
                wmma::fragment<wmma::matrix_b, 16, 16, 16, floatX, wmma::col_major> fb;
                wmma::load_matrix_sync(fa, q + warp * ROWS * HS + kb * 16, HS);
                wmma::load_matrix_sync(fb, k + nb * 16 * HS + kb * 16, HS);
                wmma::mma_sync(acc, fa, fb, acc);
            }
            wmma::store_matrix_sync(s + nb * 16, acc, BK, wmma::mem_row_major);
        }
        __syncwarp();
        // online softmax on row r, columns [half * BK/2, (half + 1) * BK/2)
        float mx = -INFINITY;
        for (int c = half * BK / 2; c < (half + 1) * BK / 2; c++) {
            int j = k0 + c;
            float x = j <= qi && j < T ? s[r * BK + c] * scale : -INFINITY;
            s[r * BK + c] = x;
            mx = fmaxf(mx, x);
        }
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
        float m_new = fmaxf(m[r], mx), sum = 0;
        for (int c = half * BK / 2; c < (half + 1) * BK / 2; c++) {
            float e = m_new == -INFINITY ? 0.0f : expf(s[r * BK + c] - m_new);
            p[r * BK + c] = __float2bfloat16(e);
            sum += e;
        }
        sum += __shfl_xor_sync(0xffffffffu, sum, 1);
        float c_r = m_new == -INFINITY ? 1.0f : expf(m[r] - m_new);
        __syncwarp();
        if (half == 0) {
            l[r] = l[r] * c_r + sum;
            m[r] = m_new;
            corr[r] = c_r;
        }
        __syncwarp();
        for (int i = lane; i < ROWS * HS; i += WARP_SIZE) o[i] *= corr[i / HS];
        __syncwarp();
        // O += P V
        for (int db = 0; db < HS / 16; db++) {
            wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
            wmma::load_matrix_sync(acc, o + db * 16, HS, wmma::mem_row_major);
            for (int kb = 0; kb < BK / 16; kb++) {
                wmma::fragment<wmma::matrix_a, 16, 16, 16, floatX, wmma::row_major> fa;
                wmma::fragment<wmma::matrix_b, 16, 16, 16, floatX, wmma::row_major> fb;
                wmma::load_matrix_sync(fa, p + kb * 16, BK);
                wmma::load_matrix_sync(fb, v + kb * 16 * HS + db * 16, HS);
                wmma::mma_sync(acc, fa, fb, acc);
            }
            wmma::store_matrix_sync(o + db * 16, acc, HS, wmma::mem_row_major);
        }
        __syncwarp();
    }
    for (int rr = 0; rr < ROWS; rr++) {
        int i = q0 + warp * ROWS + rr;
        if (i >= T) break;
        floatX *dst = out + ((size_t)b * T + i) * NH * HS + (size_t)h * HS;
        for (int d = lane; d < HS; d += WARP_SIZE) dst[d] = __float2bfloat16(o[rr * HS + d] / l[rr]);
        if (lane == 0) lse[((size_t)b * NH + h) * T + i] = m[rr] + logf(l[rr]);
    }
}

template <int HS>
void forward(floatX *out, float *lse, const floatX *qkv, int B, int T, int NH, int NKV, cudaStream_t stream) {
    size_t smem = smem_bytes<HS>();
    CUDA_CHECK(cudaFuncSetAttribute(forward_kernel<HS>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
    forward_kernel<HS><<<dim3(ceil_div(T, BQ), NH, B), WARPS * WARP_SIZE, smem, stream>>>(out, lse, qkv, T, NH, NKV);
    CUDA_CHECK_LAUNCH();
}

}   // namespace wmma_attention
