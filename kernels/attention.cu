// Fused causal self-attention with grouped-query heads on the GPU (CPU twin:
// src/model/attention.c), flash-attention style: keys and values stream through shared
// memory in tiles, an online softmax keeps a running max and sum per query row,
// and no T x T matrix exists. The forward saves each row's logsumexp; the backward
// recomputes the probabilities from it in two deterministic kernels, one for dq
// (loop over key tiles) and one for dk and dv (loop over the group's query heads
// and query tiles), so nothing is summed with atomics.
//
// The arithmetic is fp32 on CUDA cores, laid out so that shared memory is read
// without bank conflicts: for scores each lane owns one key (or query) of the
// tile and reads its row with stride HS+1; for the weighted sums each lane owns
// HS/32 output dimensions and the tile's weights are broadcast by shuffles.
#include "common.cuh"

enum {
    ATT_WARPS = 8,
    ATT_ROWS = 4,                        // rows (queries or keys) per warp
    ATT_BLOCK = ATT_WARPS * ATT_ROWS,    // rows per block
    ATT_TILE = WARP_SIZE,                // keys (or queries) per streamed tile: one per lane
};

int attention_supported(int NH, int NKV, int HS, const char **why) {
    const char *reason = NULL;
    if (HS != 64 && HS != 128) reason = "head size must be 64 or 128";
    else if (NKV <= 0 || NH % NKV != 0) reason = "query heads must be a multiple of kv heads";
    if (why) *why = reason;
    return reason == NULL;
}

// rows [row0, row0 + nrows) of one head as fp32 into dst (row stride dst_stride);
// src points at the head inside token 0, tokens are src_stride apart; rows at or
// past T read as 0
template <int HS>
__device__ void load_rows(float *dst, int dst_stride, const floatX *src, size_t src_stride, int row0, int nrows,
                          int T, bool vec) {
    for (int idx = threadIdx.x; idx < nrows * HS / 8; idx += blockDim.x) {
        int r = idx / (HS / 8), c = idx % (HS / 8) * 8;
        float x[8] = {0};
        if (row0 + r < T) load8(x, src + (size_t)(row0 + r) * src_stride, c, HS, vec);
        for (int k = 0; k < 8; k++) dst[r * dst_stride + c + k] = x[k];
    }
}

template <int HS>
__device__ inline float dot_row(const float *a, const float *b) {
    float s = 0;
    for (int d = 0; d < HS; d++) s += a[d] * b[d];
    return s;
}

// ---- forward: block = ATT_BLOCK queries of one (batch, head) -------------------
template <int HS>
__global__ void __launch_bounds__(ATT_WARPS * WARP_SIZE)
attention_forward_kernel(floatX *out, float *lse, const floatX *qkv, int T, int NH, int NKV, bool vec) {
    constexpr int DPL = HS / WARP_SIZE;   // output dims per lane: d = lane + 32 * e
    extern __shared__ float smem[];
    float *k_tile = smem;                                // [ATT_TILE][HS + 1]
    float *v_tile = k_tile + ATT_TILE * (HS + 1);        // [ATT_TILE][HS]
    float *q_rows = v_tile + ATT_TILE * HS;              // [ATT_BLOCK][HS]
    int q0 = blockIdx.x * ATT_BLOCK, h = blockIdx.y, b = blockIdx.z;
    int g = h / (NH / NKV), warp = threadIdx.x / WARP_SIZE, lane = threadIdx.x % WARP_SIZE;
    size_t row = (size_t)(NH + 2 * NKV) * HS;
    const floatX *base = qkv + (size_t)b * T * row;
    float scale = rsqrtf((float)HS);

    load_rows<HS>(q_rows, HS, base + (size_t)h * HS, row, q0, ATT_BLOCK, T, vec);
    float o[ATT_ROWS][DPL] = {}, m[ATT_ROWS], l[ATT_ROWS] = {};
    #pragma unroll
    for (int r = 0; r < ATT_ROWS; r++) m[r] = -INFINITY;

    int last = min(T, q0 + ATT_BLOCK) - 1;   // the last query of the block sees keys 0..last
    for (int k0 = 0; k0 <= last; k0 += ATT_TILE) {
        __syncthreads();   // the previous tile is no longer read
        load_rows<HS>(k_tile, HS + 1, base + (size_t)(NH + g) * HS, row, k0, ATT_TILE, T, vec);
        load_rows<HS>(v_tile, HS, base + (size_t)(NH + NKV + g) * HS, row, k0, ATT_TILE, T, vec);
        __syncthreads();
        #pragma unroll
        for (int r = 0; r < ATT_ROWS; r++) {
            int i = q0 + warp * ATT_ROWS + r;
            if (i >= T || k0 > i) continue;   // uniform over the warp
            int j = k0 + lane;
            float s = j <= i ? dot_row<HS>(q_rows + (warp * ATT_ROWS + r) * HS, k_tile + lane * (HS + 1)) * scale
                             : -INFINITY;
            float m_new = fmaxf(m[r], warp_max(s));   // finite: key k0 <= i is in the tile
            float p = expf(s - m_new), correction = expf(m[r] - m_new);
            l[r] = l[r] * correction + warp_sum(p);
            #pragma unroll
            for (int e = 0; e < DPL; e++) o[r][e] *= correction;
            #pragma unroll
            for (int jj = 0; jj < ATT_TILE; jj++) {
                float pj = __shfl_sync(0xffffffffu, p, jj);
                #pragma unroll
                for (int e = 0; e < DPL; e++) o[r][e] += pj * v_tile[jj * HS + lane + WARP_SIZE * e];
            }
            m[r] = m_new;
        }
    }
    #pragma unroll
    for (int r = 0; r < ATT_ROWS; r++) {
        int i = q0 + warp * ATT_ROWS + r;
        if (i >= T) continue;
        floatX *dst = out + ((size_t)b * T + i) * NH * HS + (size_t)h * HS;
        #pragma unroll
        for (int e = 0; e < DPL; e++) dst[lane + WARP_SIZE * e] = __float2bfloat16(o[r][e] / l[r]);
        if (lane == 0) lse[((size_t)b * NH + h) * T + i] = m[r] + logf(l[r]);
    }
}

// ---- backward, step 1: D[b,h,i] = dout_i . out_i, one warp per query row ---------
__global__ void attention_rowdot_kernel(float *D, const floatX *dout, const floatX *out, int B, int T, int NH, int HS) {
    size_t idx = ((size_t)blockIdx.x * blockDim.x + threadIdx.x) / WARP_SIZE;   // (b, h, i)
    int lane = threadIdx.x % WARP_SIZE;
    if (idx >= (size_t)B * NH * T) return;
    int i = idx % T, h = idx / T % NH, b = idx / ((size_t)T * NH);
    size_t off = ((size_t)b * T + i) * NH * HS + (size_t)h * HS;
    float s = 0;
    for (int d = lane; d < HS; d += WARP_SIZE) s += __bfloat162float(dout[off + d]) * __bfloat162float(out[off + d]);
    s = warp_sum(s);
    if (lane == 0) D[idx] = s;
}

// ---- backward, step 2: dq, block = ATT_BLOCK queries of one (batch, head) --------
// p = exp(s - lse), dp = dout_i . v_j, ds = p (dp - D_i), dq_i = scale sum_j ds k_j
template <int HS>
__global__ void __launch_bounds__(ATT_WARPS * WARP_SIZE)
attention_backward_dq_kernel(floatX *dqkv, const floatX *dout, const floatX *qkv, const float *lse, const float *D,
                             int T, int NH, int NKV, bool vec) {
    constexpr int DPL = HS / WARP_SIZE;
    extern __shared__ float smem[];
    float *k_tile = smem;                                // [ATT_TILE][HS + 1]
    float *v_tile = k_tile + ATT_TILE * (HS + 1);        // [ATT_TILE][HS + 1]
    float *q_rows = v_tile + ATT_TILE * (HS + 1);        // [ATT_BLOCK][HS]
    float *do_rows = q_rows + ATT_BLOCK * HS;            // [ATT_BLOCK][HS]
    int q0 = blockIdx.x * ATT_BLOCK, h = blockIdx.y, b = blockIdx.z;
    int g = h / (NH / NKV), warp = threadIdx.x / WARP_SIZE, lane = threadIdx.x % WARP_SIZE;
    size_t row = (size_t)(NH + 2 * NKV) * HS;
    const floatX *base = qkv + (size_t)b * T * row;
    const float *lse_bh = lse + ((size_t)b * NH + h) * T, *D_bh = D + ((size_t)b * NH + h) * T;
    float scale = rsqrtf((float)HS);

    load_rows<HS>(q_rows, HS, base + (size_t)h * HS, row, q0, ATT_BLOCK, T, vec);
    load_rows<HS>(do_rows, HS, dout + (size_t)b * T * NH * HS + (size_t)h * HS, (size_t)NH * HS, q0, ATT_BLOCK, T,
                  vec);
    float dq[ATT_ROWS][DPL] = {};

    int last = min(T, q0 + ATT_BLOCK) - 1;
    for (int k0 = 0; k0 <= last; k0 += ATT_TILE) {
        __syncthreads();
        load_rows<HS>(k_tile, HS + 1, base + (size_t)(NH + g) * HS, row, k0, ATT_TILE, T, vec);
        load_rows<HS>(v_tile, HS + 1, base + (size_t)(NH + NKV + g) * HS, row, k0, ATT_TILE, T, vec);
        __syncthreads();
        #pragma unroll
        for (int r = 0; r < ATT_ROWS; r++) {
            int i = q0 + warp * ATT_ROWS + r;
            if (i >= T || k0 > i) continue;
            int j = k0 + lane;
            float ds = 0;
            if (j <= i) {
                const float *q = q_rows + (warp * ATT_ROWS + r) * HS, *d = do_rows + (warp * ATT_ROWS + r) * HS;
                float p = expf(dot_row<HS>(q, k_tile + lane * (HS + 1)) * scale - lse_bh[i]);
                ds = p * (dot_row<HS>(d, v_tile + lane * (HS + 1)) - D_bh[i]);
            }
            #pragma unroll
            for (int jj = 0; jj < ATT_TILE; jj++) {
                float dsj = __shfl_sync(0xffffffffu, ds, jj);
                #pragma unroll
                for (int e = 0; e < DPL; e++) dq[r][e] += dsj * k_tile[jj * (HS + 1) + lane + WARP_SIZE * e];
            }
        }
    }
    #pragma unroll
    for (int r = 0; r < ATT_ROWS; r++) {
        int i = q0 + warp * ATT_ROWS + r;
        if (i >= T) continue;
        floatX *dst = dqkv + ((size_t)b * T + i) * row + (size_t)h * HS;
        #pragma unroll
        for (int e = 0; e < DPL; e++) {
            int d = lane + WARP_SIZE * e;
            dst[d] = __float2bfloat16(__bfloat162float(dst[d]) + dq[r][e] * scale);
        }
    }
}

// ---- backward, step 3: dk and dv, block = ATT_BLOCK keys of one (batch, kv head) --
// dv_j = sum_i p dout_i, dk_j = scale sum_i ds q_i over the group's query heads in
// order, then over queries i >= j in order
template <int HS>
__global__ void __launch_bounds__(ATT_WARPS * WARP_SIZE)
attention_backward_dkv_kernel(floatX *dqkv, const floatX *dout, const floatX *qkv, const float *lse, const float *D,
                              int T, int NH, int NKV, bool vec) {
    constexpr int DPL = HS / WARP_SIZE;
    extern __shared__ float smem[];
    float *q_tile = smem;                                // [ATT_TILE][HS + 1]
    float *do_tile = q_tile + ATT_TILE * (HS + 1);       // [ATT_TILE][HS + 1]
    float *k_rows = do_tile + ATT_TILE * (HS + 1);       // [ATT_BLOCK][HS]
    float *v_rows = k_rows + ATT_BLOCK * HS;             // [ATT_BLOCK][HS]
    float *lse_tile = v_rows + ATT_BLOCK * HS;           // [ATT_TILE]
    float *D_tile = lse_tile + ATT_TILE;                 // [ATT_TILE]
    int j0 = blockIdx.x * ATT_BLOCK, g = blockIdx.y, b = blockIdx.z, group = NH / NKV;
    int warp = threadIdx.x / WARP_SIZE, lane = threadIdx.x % WARP_SIZE;
    size_t row = (size_t)(NH + 2 * NKV) * HS;
    const floatX *base = qkv + (size_t)b * T * row;
    float scale = rsqrtf((float)HS);

    load_rows<HS>(k_rows, HS, base + (size_t)(NH + g) * HS, row, j0, ATT_BLOCK, T, vec);
    load_rows<HS>(v_rows, HS, base + (size_t)(NH + NKV + g) * HS, row, j0, ATT_BLOCK, T, vec);
    float dk[ATT_ROWS][DPL] = {}, dv[ATT_ROWS][DPL] = {};

    for (int h = g * group; h < (g + 1) * group; h++) {
        const float *lse_bh = lse + ((size_t)b * NH + h) * T, *D_bh = D + ((size_t)b * NH + h) * T;
        // queries before j0 see none of the block's keys: start at the tile holding j0
        for (int i0 = j0 / ATT_TILE * ATT_TILE; i0 < T; i0 += ATT_TILE) {
            __syncthreads();
            load_rows<HS>(q_tile, HS + 1, base + (size_t)h * HS, row, i0, ATT_TILE, T, vec);
            load_rows<HS>(do_tile, HS + 1, dout + (size_t)b * T * NH * HS + (size_t)h * HS, (size_t)NH * HS, i0,
                          ATT_TILE, T, vec);
            if (threadIdx.x < ATT_TILE) {
                int i = i0 + threadIdx.x;
                lse_tile[threadIdx.x] = i < T ? lse_bh[i] : 0.0f;
                D_tile[threadIdx.x] = i < T ? D_bh[i] : 0.0f;
            }
            __syncthreads();
            #pragma unroll
            for (int r = 0; r < ATT_ROWS; r++) {
                int j = j0 + warp * ATT_ROWS + r;
                if (j >= T || i0 + ATT_TILE - 1 < j) continue;   // uniform over the warp
                int i = i0 + lane;
                float p = 0, ds = 0;
                if (i < T && i >= j) {
                    const float *k = k_rows + (warp * ATT_ROWS + r) * HS, *v = v_rows + (warp * ATT_ROWS + r) * HS;
                    p = expf(dot_row<HS>(q_tile + lane * (HS + 1), k) * scale - lse_tile[lane]);
                    ds = p * (dot_row<HS>(do_tile + lane * (HS + 1), v) - D_tile[lane]);
                }
                #pragma unroll
                for (int ii = 0; ii < ATT_TILE; ii++) {
                    float pi = __shfl_sync(0xffffffffu, p, ii), dsi = __shfl_sync(0xffffffffu, ds, ii);
                    #pragma unroll
                    for (int e = 0; e < DPL; e++) {
                        dv[r][e] += pi * do_tile[ii * (HS + 1) + lane + WARP_SIZE * e];
                        dk[r][e] += dsi * q_tile[ii * (HS + 1) + lane + WARP_SIZE * e];
                    }
                }
            }
        }
    }
    #pragma unroll
    for (int r = 0; r < ATT_ROWS; r++) {
        int j = j0 + warp * ATT_ROWS + r;
        if (j >= T) continue;
        floatX *dkd = dqkv + ((size_t)b * T + j) * row + (size_t)(NH + g) * HS;
        floatX *dvd = dkd + (size_t)NKV * HS;
        #pragma unroll
        for (int e = 0; e < DPL; e++) {
            int d = lane + WARP_SIZE * e;
            dkd[d] = __float2bfloat16(__bfloat162float(dkd[d]) + dk[r][e] * scale);
            dvd[d] = __float2bfloat16(__bfloat162float(dvd[d]) + dv[r][e]);
        }
    }
}

// ---- launchers ---------------------------------------------------------------------
template <int HS> static size_t forward_smem(void) {
    return sizeof(float) * (ATT_TILE * (HS + 1) + ATT_TILE * HS + ATT_BLOCK * HS);
}
template <int HS> static size_t backward_smem(void) {   // the same for both backward kernels
    return sizeof(float) * (2 * ATT_TILE * (HS + 1) + 2 * ATT_BLOCK * HS + 2 * ATT_TILE);
}

static void check_shape(int NH, int NKV, int HS) {
    const char *why;
    if (!attention_supported(NH, NKV, HS, &why)) {
        fprintf(stderr, "attention: unsupported shape NH=%d NKV=%d HS=%d: %s\n", NH, NKV, HS, why);
        exit(1);
    }
}

template <int HS>
static void forward_launch(floatX *out, float *lse, const floatX *qkv, int B, int T, int NH, int NKV, bool vec,
                           cudaStream_t stream) {
    size_t smem = forward_smem<HS>();
    CUDA_CHECK(cudaFuncSetAttribute(attention_forward_kernel<HS>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                    (int)smem));
    attention_forward_kernel<HS><<<dim3(ceil_div(T, ATT_BLOCK), NH, B), ATT_WARPS * WARP_SIZE, smem, stream>>>(
        out, lse, qkv, T, NH, NKV, vec);
    CUDA_CHECK_LAUNCH();
}

void attention_forward_cuda(floatX *out, float *lse, const floatX *qkv, int B, int T, int NH, int NKV, int HS,
                            cudaStream_t stream) {
    check_shape(NH, NKV, HS);
    bool vec = aligned16(qkv);
    if (HS == 64) forward_launch<64>(out, lse, qkv, B, T, NH, NKV, vec, stream);
    else forward_launch<128>(out, lse, qkv, B, T, NH, NKV, vec, stream);
}

size_t attention_backward_scratch_bytes(int B, int T, int NH) { return (size_t)B * NH * T * sizeof(float); }

void attention_rowdot_cuda(float *D, const floatX *dout, const floatX *out, int B, int T, int NH, int HS,
                           cudaStream_t stream) {
    size_t rows = (size_t)B * NH * T;
    attention_rowdot_kernel<<<ceil_div(rows * WARP_SIZE, 256), 256, 0, stream>>>(D, dout, out, B, T, NH, HS);
    CUDA_CHECK_LAUNCH();
}

template <int HS>
static void backward_launch(floatX *dqkv, const floatX *dout, const floatX *qkv, const float *lse, const float *D,
                            int B, int T, int NH, int NKV, bool vec, cudaStream_t stream) {
    size_t smem = backward_smem<HS>();
    CUDA_CHECK(cudaFuncSetAttribute(attention_backward_dq_kernel<HS>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                    (int)smem));
    CUDA_CHECK(cudaFuncSetAttribute(attention_backward_dkv_kernel<HS>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                    (int)smem));
    attention_backward_dq_kernel<HS><<<dim3(ceil_div(T, ATT_BLOCK), NH, B), ATT_WARPS * WARP_SIZE, smem, stream>>>(
        dqkv, dout, qkv, lse, D, T, NH, NKV, vec);
    CUDA_CHECK_LAUNCH();
    attention_backward_dkv_kernel<HS><<<dim3(ceil_div(T, ATT_BLOCK), NKV, B), ATT_WARPS * WARP_SIZE, smem, stream>>>(
        dqkv, dout, qkv, lse, D, T, NH, NKV, vec);
    CUDA_CHECK_LAUNCH();
}

void attention_backward_cuda(floatX *dqkv, const floatX *dout, const floatX *qkv, const floatX *out, const float *lse,
                             int B, int T, int NH, int NKV, int HS, void *scratch, cudaStream_t stream) {
    check_shape(NH, NKV, HS);
    float *D = (float *)scratch;
    attention_rowdot_cuda(D, dout, out, B, T, NH, HS, stream);
    bool vec = aligned16(qkv) && aligned16(dout);
    if (HS == 64) backward_launch<64>(dqkv, dout, qkv, lse, D, B, T, NH, NKV, vec, stream);
    else backward_launch<128>(dqkv, dout, qkv, lse, D, B, T, NH, NKV, vec, stream);
}
