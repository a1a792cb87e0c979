// Causal grouped-query attention on tensor cores, FlashAttention-2 style (CPU twin
// of the numerics: src/model/flash_attention.c, which runs this algorithm, and
// src/model/attention.c, the reference). bf16 mma.sync.m16n8k16 with fp32
// accumulators (sm_80+), operands loaded from shared memory by ldmatrix; tiles and
// the per-lane fragment layout in include/flash_attention.h; doc/kernels.md
// "Tensor cores".
//
// Forward, block = FLASH_ROWS (64) queries of one (batch, head), 4 warps of 16 rows:
// the warp's Q rows stay in registers as A fragments; K/V tiles of 64 keys stream
// through shared memory, double-buffered with cp.async. Per tile: S = Q K^T,
// online softmax in the log2 domain (running max and lane-partial sums per row),
// O = O * exp2(m_old - m_new) + bf16(P) V with P reused from the S accumulators as
// A fragments. Saves lse = ln(sum exp(scaled scores)) per row, as attention.cu does.
// Backward (D = rowsum(dO * O) first, from attention.cu): one kernel in the FA2
// split, block = FLASH_ROWS keys of one (batch, kv head), query tiles of 32 over the
// group's heads: S, dP, dV, dK and dQ, 5 HS FMAs per query-key pair. dK and dV stay
// in registers; dQ is added into an fp32 accumulator in the scratch, in a fixed
// order (semaphores) or by atomics, and a small kernel rounds it into dqkv.
//
// Causal blocks differ in work; the grid's first blocks are the heaviest (the last
// query blocks in the forward, the first key blocks in the backward), so the
// cheap ones fill the tail.
#include "common.cuh"
#include "flash_attention.h"

#define FLASH_LOG2E 1.4426950408889634f
#define FLASH_LN2 0.6931471805599453f

// ---- registers, mma and shared memory -------------------------------------------
__device__ inline uint32_t pack_bf16(float lo, float hi) {   // lo in the low half
    __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
    return *reinterpret_cast<uint32_t *>(&v);
}

// d += a b (A 16x16 row-major, B 16x8 column-major, fp32 accumulators)
__device__ inline void mma_bf16(float d[4], const uint32_t a[4], const uint32_t b[2]) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
                 "{%0,%1,%2,%3};\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

// The fragments of operand OP (FLASH_A_MK, ..., include/flash_attention.h) in the
// 16x16 tile at `tile` of a row-major shared array with row stride ld: one
// ldmatrix.x4, r[0..3] an A fragment or r[0..1], r[2..3] the B fragments of the
// tile's two 8-wide n tiles. Volatile: the same address is read again after the
// buffer has been refilled (dS, the streamed stages).
template <int OP> __device__ inline void load_frag(uint32_t r[4], const floatX *tile, int ld, int lane) {
    unsigned p = (unsigned)__cvta_generic_to_shared(tile + ldsm_row(lane, OP) * ld + ldsm_col(lane, OP));
    if (ldsm_trans(OP))
        asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                     : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                     : "r"(p));
    else
        asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                     : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                     : "r"(p));
}

// A fragment of k-step kk from C accumulators c[n][4] (8-column tiles), rounded to bf16
__device__ inline void a_from_c(uint32_t a[4], const float (*c)[4], int kk) {
    #pragma unroll
    for (int r = 0; r < 4; r++) {
        const float *src = c[2 * kk + frag_a_from_c_tile(2 * r)];
        int e = frag_a_from_c_elem(2 * r);
        a[r] = pack_bf16(src[e], src[e + 1]);
    }
}

// rows [row0, row0 + nrows) of one head (HS bf16 each, tokens src_stride apart) into
// shared rows of HS + FLASH_SMEM_PAD, 16 bytes per cp.async; rows at or past T are
// zero-filled (src-size 0). Needs 16-byte aligned global rows (flash_takes).
template <int HS>
__device__ inline void cp_async_rows(floatX *dst, const floatX *src, size_t src_stride, int row0, int nrows, int T) {
    constexpr int CHUNKS = HS / 8;
    for (int idx = threadIdx.x; idx < nrows * CHUNKS; idx += blockDim.x) {
        int r = idx / CHUNKS, c = idx % CHUNKS * 8;
        bool inside = row0 + r < T;
        const floatX *s = src + (size_t)(inside ? row0 + r : 0) * src_stride + c;
        unsigned d = (unsigned)__cvta_generic_to_shared(dst + r * (HS + FLASH_SMEM_PAD) + c);
        asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(d), "l"(s), "r"(inside ? 16 : 0));
    }
}
__device__ inline void cp_async_commit(void) { asm volatile("cp.async.commit_group;\n" ::); }
// waits until at most one committed group (the newest prefetch) is still in flight
__device__ inline void cp_async_wait_all_but_newest(void) { asm volatile("cp.async.wait_group 1;\n" ::); }

__device__ inline float quad_max(float v) {   // over the 4 lanes that share a fragment row
    v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, 1));
    return fmaxf(v, __shfl_xor_sync(0xffffffffu, v, 2));
}
__device__ inline float quad_sum(float v) {
    v += __shfl_xor_sync(0xffffffffu, v, 1);
    return v + __shfl_xor_sync(0xffffffffu, v, 2);
}

// The double-buffered K/V stream of the forward (stage = 2 tiles of
// `rows` rows: K then V): prefetches tile kt + 1 into the other stage, waits for tile
// kt (committed one iteration earlier, or before the loop) and returns its K rows.
template <int HS>
__device__ inline const floatX *kv_tile(floatX *kv_s, const floatX *k_src, const floatX *v_src, size_t row, int kt,
                                        int tiles, int rows, int T) {
    constexpr int LD = HS + FLASH_SMEM_PAD;
    if (kt + 1 < tiles) {
        floatX *next = kv_s + (kt + 1) % 2 * 2 * rows * LD;
        cp_async_rows<HS>(next, k_src, row, (kt + 1) * rows, rows, T);
        cp_async_rows<HS>(next + rows * LD, v_src, row, (kt + 1) * rows, rows, T);
    }
    cp_async_commit();   // empty on the last tile: keeps "all but the newest" meaning tile kt
    cp_async_wait_all_but_newest();
    __syncthreads();
    return kv_s + kt % 2 * 2 * rows * LD;
}

// The backward's two score products for the warp's 16 rows: s += A1 B1^T and
// dp += A2 B2^T over HS, a1/a2 the warp's rows and b1/b2 the tile's NT * 8 rows,
// all row-major in shared memory (the backward's K Q^T and V dO^T)
template <int HS, int NT>
__device__ inline void score_pair(float (*s)[4], float (*dp)[4], const floatX *a1, const floatX *a2, const floatX *b1,
                                  const floatX *b2, int lane) {
    constexpr int LD = HS + FLASH_SMEM_PAD;
    // two k-steps at a time: fully unrolled at HS 128, ptxas hoists the ldmatrix of
    // every k-step and spills (dK and dV hold 128 registers); HS 64 keeps 3 blocks/SM
    #pragma unroll 2
    for (int kk = 0; kk < HS / FLASH_MMA_K; kk++) {
        uint32_t fa1[4], fa2[4];
        load_frag<FLASH_A_MK>(fa1, a1 + kk * FLASH_MMA_K, LD, lane);
        load_frag<FLASH_A_MK>(fa2, a2 + kk * FLASH_MMA_K, LD, lane);
        #pragma unroll
        for (int n = 0; n < NT; n += 2) {
            uint32_t fb[4];
            load_frag<FLASH_B_NK>(fb, b1 + n * FLASH_MMA_N * LD + kk * FLASH_MMA_K, LD, lane);
            mma_bf16(s[n], fa1, fb);
            mma_bf16(s[n + 1], fa1, fb + 2);
            load_frag<FLASH_B_NK>(fb, b2 + n * FLASH_MMA_N * LD + kk * FLASH_MMA_K, LD, lane);
            mma_bf16(dp[n], fa2, fb);
            mma_bf16(dp[n + 1], fa2, fb + 2);
        }
    }
}

// acc[16 x HS] += bf16(c) b: c the fp32 accumulators of a 16 x COLS tile (P or dS),
// b the tile's COLS rows of HS values, row-major in shared memory (V, K, dO or Q)
template <int HS, int COLS>
__device__ inline void accumulate_product(float (*acc)[4], const float (*c)[4], const floatX *b, int lane) {
    constexpr int LD = HS + FLASH_SMEM_PAD;
    #pragma unroll
    for (int kk = 0; kk < COLS / FLASH_MMA_K; kk++) {
        uint32_t ca[4];
        a_from_c(ca, c, kk);
        #pragma unroll
        for (int dt = 0; dt < HS / FLASH_MMA_N; dt += 2) {
            uint32_t fb[4];
            load_frag<FLASH_B_KN>(fb, b + kk * FLASH_MMA_K * LD + dt * FLASH_MMA_N, LD, lane);
            mma_bf16(acc[dt], ca, fb);
            mma_bf16(acc[dt + 1], ca, fb + 2);
        }
    }
}

// dst[0..HS) += scale * (accumulator row r of this lane), one fused multiply-add
// (as the CPU model does): the epilogue of dK and dV
template <int HS>
__device__ inline void add_row(floatX *dst, const float (*acc)[4], int r, float scale, int lane) {
    #pragma unroll
    for (int dt = 0; dt < HS / FLASH_MMA_N; dt++) {
        __nv_bfloat162 *p = reinterpret_cast<__nv_bfloat162 *>(dst + dt * FLASH_MMA_N + frag_c_col(lane, 2 * r));
        float2 old = __bfloat1622float2(*p);
        *p = __floats2bfloat162_rn(__fmaf_rn(acc[dt][2 * r], scale, old.x), __fmaf_rn(acc[dt][2 * r + 1], scale, old.y));
    }
}

// Where a block of the forward works: FLASH_ROWS queries of one (b, h),
// grid x = (b, h), y = query blocks with the heaviest (last) first
template <int HS> struct QueryBlock {
    int h, b, q0, row0, warp, lane;   // row0: the warp's first query
    size_t row;                       // qkv elements per token
    const floatX *base, *k_src, *v_src;
    __device__ QueryBlock(const floatX *qkv, int T, int NH, int NKV) {
        h = blockIdx.x % NH, b = blockIdx.x / NH, q0 = (gridDim.y - 1 - blockIdx.y) * FLASH_ROWS;
        warp = threadIdx.x / WARP_SIZE, lane = threadIdx.x % WARP_SIZE, row0 = q0 + warp * FLASH_MMA_M;
        int g = h / (NH / NKV);
        row = (size_t)(NH + 2 * NKV) * HS, base = qkv + (size_t)b * T * row;
        k_src = base + (size_t)(NH + g) * HS, v_src = base + (size_t)(NH + NKV + g) * HS;
    }
    // issues the copies of the Q rows and the first K/V tile of `keys` rows (not committed)
    __device__ void load_first(floatX *q_s, floatX *kv_s, int keys, int T) const {
        cp_async_rows<HS>(q_s, base + (size_t)h * HS, row, q0, FLASH_ROWS, T);
        cp_async_rows<HS>(kv_s, k_src, row, 0, keys, T);
        cp_async_rows<HS>(kv_s + keys * (HS + FLASH_SMEM_PAD), v_src, row, 0, keys, T);
    }
    // key tiles of `keys` rows up to the block's last query
    __device__ int tiles(int T, int keys) const { return (min(T, q0 + FLASH_ROWS) - 1) / keys + 1; }
};

// ---- forward --------------------------------------------------------------------
template <int HS>
__global__ void __launch_bounds__(FLASH_WARPS *WARP_SIZE)
flash_forward_kernel(floatX *out, float *lse, const floatX *qkv, int T, int NH, int NKV) {
    constexpr int LD = HS + FLASH_SMEM_PAD, KT = FLASH_FWD_KEYS, NT = KT / FLASH_MMA_N, DT = HS / FLASH_MMA_N;
    constexpr int KS = HS / FLASH_MMA_K;
    extern __shared__ uint4 smem_raw[];
    floatX *q_s = reinterpret_cast<floatX *>(smem_raw);   // [FLASH_ROWS][LD]
    floatX *kv_s = q_s + FLASH_ROWS * LD;                  // 2 stages of K [KT][LD], V [KT][LD]
    const QueryBlock<HS> blk(qkv, T, NH, NKV);
    int h = blk.h, b = blk.b, warp = blk.warp, lane = blk.lane, row0 = blk.row0, tiles = blk.tiles(T, KT);
    float scale_log2 = FLASH_LOG2E * rsqrtf((float)HS);
    blk.load_first(q_s, kv_s, KT, T);
    cp_async_commit();

    uint32_t qf[KS][4];
    float o[DT][4] = {}, m[2] = {-INFINITY, -INFINITY}, l[2] = {0, 0};   // rows lane/4 and lane/4 + 8
    for (int kt = 0; kt < tiles; kt++) {
        const floatX *k_s = kv_tile<HS>(kv_s, blk.k_src, blk.v_src, blk.row, kt, tiles, KT, T), *v_s = k_s + KT * LD;
        if (kt == 0) {
            #pragma unroll
            for (int kk = 0; kk < KS; kk++)
                load_frag<FLASH_A_MK>(qf[kk], q_s + warp * FLASH_MMA_M * LD + kk * FLASH_MMA_K, LD, lane);
        }
        // S = Q K^T, each 8-key tile accumulated over HS in k-steps of 16
        float s[NT][4] = {};
        #pragma unroll
        for (int kk = 0; kk < KS; kk++) {
            #pragma unroll
            for (int n = 0; n < NT; n += 2) {
                uint32_t kb[4];
                load_frag<FLASH_B_NK>(kb, k_s + n * FLASH_MMA_N * LD + kk * FLASH_MMA_K, LD, lane);
                mma_bf16(s[n], qf[kk], kb);
                mma_bf16(s[n + 1], qf[kk], kb + 2);
            }
        }
        // causal mask, scale into the log2 domain, online softmax
        float tile_max[2] = {-INFINITY, -INFINITY};
        #pragma unroll
        for (int n = 0; n < NT; n++) {
            #pragma unroll
            for (int e = 0; e < 4; e++) {
                int i = row0 + frag_c_row(lane, e), j = kt * KT + n * FLASH_MMA_N + frag_c_col(lane, e);
                s[n][e] = j <= i ? s[n][e] * scale_log2 : -INFINITY;
                tile_max[e / 2] = fmaxf(tile_max[e / 2], s[n][e]);
            }
        }
        float corr[2], rowsum[2] = {0, 0};
        #pragma unroll
        for (int r = 0; r < 2; r++) {
            float m_new = fmaxf(m[r], quad_max(tile_max[r]));   // finite: key kt*KT <= every row
            corr[r] = exp2f(m[r] - m_new);
            m[r] = m_new;
        }
        #pragma unroll
        for (int n = 0; n < NT; n++) {
            #pragma unroll
            for (int e = 0; e < 4; e++) {
                s[n][e] = exp2f(s[n][e] - m[e / 2]);
                rowsum[e / 2] += s[n][e];
            }
        }
        #pragma unroll
        for (int r = 0; r < 2; r++) l[r] = l[r] * corr[r] + rowsum[r];
        #pragma unroll
        for (int dt = 0; dt < DT; dt++) {
            #pragma unroll
            for (int e = 0; e < 4; e++) o[dt][e] *= corr[e / 2];
        }
        accumulate_product<HS, KT>(o, s, v_s, lane);   // O += bf16(P) V, P straight from S
        __syncthreads();   // this stage is refilled by the next iteration's prefetch
    }
    #pragma unroll
    for (int r = 0; r < 2; r++) l[r] = quad_sum(l[r]);
    #pragma unroll
    for (int r = 0; r < 2; r++) {
        int i = row0 + frag_c_row(lane, 2 * r);
        if (i >= T) continue;
        floatX *dst = out + ((size_t)b * T + i) * NH * HS + (size_t)h * HS;
        #pragma unroll
        for (int dt = 0; dt < DT; dt++) {
            uint32_t v = pack_bf16(o[dt][2 * r] / l[r], o[dt][2 * r + 1] / l[r]);
            *reinterpret_cast<uint32_t *>(dst + dt * FLASH_MMA_N + frag_c_col(lane, 2 * r)) = v;
        }
        if (lane % 4 == 0) lse[((size_t)b * NH + h) * T + i] = (m[r] + log2f(l[r])) * FLASH_LN2;
    }
}

// ---- backward: block = FLASH_ROWS keys of one (batch, kv head) -------------------
// Keys are the fragment rows: S^T = K Q^T, dP^T = V dO^T, P^T = exp2(S^T scale log2e
// - lse log2e), dS^T = P^T (dP^T - D); dV += bf16(P^T) dO and dK += bf16(dS^T) Q in
// registers, over the group's query heads in order and each head's query tiles from
// the block's diagonal on. bf16 dS^T goes through shared memory as [key][query]
// (32-bit stores from the accumulators; ldmatrix .trans makes it the A operand) for
// the fifth product, dQ += bf16(dS) K, whose partial over the block's keys is added
// into the fp32 accumulator dq_acc[B,NH,Tq,HS] (Tq = T rounded up to the query tile):
// - deterministic (dq_sem != NULL): the key blocks that see a query tile add in
//   ascending order, each waiting until the tile's semaphore equals its index and
//   then raising it (doc/kernels.md "Determinism of dQ": it relies on blocks being
//   dispatched in increasing index, which CUDA does in practice but does not promise);
// - otherwise fp32 atomics in whatever order the blocks arrive.
// flash_dq_round_kernel then adds scale dq_acc into dqkv.
__device__ inline int load_acquire(const int *p) {
    int v;
    asm volatile("ld.acquire.gpu.global.b32 %0, [%1];\n" : "=r"(v) : "l"(p) : "memory");
    return v;
}
__device__ inline void store_release(int *p, int v) {
    asm volatile("st.release.gpu.global.b32 [%0], %1;\n" ::"l"(p), "r"(v) : "memory");
}

// dQ of the tile's FLASH_BWD_COLS queries over the block's FLASH_ROWS keys: warp w
// takes queries 16 (w % 2) + 0..15 and head dims HS/2 (w / 2) + 0..HS/2-1; dS^T is
// [key][query] in shared memory (rows of FLASH_DS_LD), K [key][dim]
template <int HS>
__device__ inline void dq_partial(float (*dq)[4], const floatX *ds_s, const floatX *k_s, int warp, int lane) {
    static_assert(FLASH_BWD_COLS == 2 * FLASH_MMA_M && FLASH_WARPS == 4, "4 warps = 2 query halves x 2 dim halves");
    constexpr int LD = HS + FLASH_SMEM_PAD;
    const floatX *a = ds_s + warp % 2 * FLASH_MMA_M, *b = k_s + warp / 2 * (HS / 2);
    #pragma unroll
    for (int kk = 0; kk < FLASH_ROWS / FLASH_MMA_K; kk++) {
        uint32_t fa[4];
        load_frag<FLASH_A_KM>(fa, a + kk * FLASH_MMA_K * FLASH_DS_LD, FLASH_DS_LD, lane);
        #pragma unroll
        for (int dt = 0; dt < HS / 2 / FLASH_MMA_N; dt += 2) {
            uint32_t fb[4];
            load_frag<FLASH_B_KN>(fb, b + kk * FLASH_MMA_K * LD + dt * FLASH_MMA_N, LD, lane);
            mma_bf16(dq[dt], fa, fb);
            mma_bf16(dq[dt + 1], fa, fb + 2);
        }
    }
}

// adds the block's dQ partial into the tile's rows of dq_acc (`acc` = the warp's
// first element): in semaphore order, or atomically when sem is NULL
template <int HS>
__device__ inline void dq_add(float *acc, int *sem, int kb, const float (*dq)[4], int lane) {
    if (sem == NULL) {
        #pragma unroll
        for (int dt = 0; dt < HS / 2 / FLASH_MMA_N; dt++) {
            #pragma unroll
            for (int e = 0; e < 4; e++)
                atomicAdd(acc + frag_c_row(lane, e) * HS + dt * FLASH_MMA_N + frag_c_col(lane, e), dq[dt][e]);
        }
        return;
    }
    if (threadIdx.x == 0) {
        // legitimate waits last microseconds to milliseconds (one earlier key block's
        // tile); 2^24 polls are seconds: the dispatch-order assumption failed, and a
        // trap (CUDA's "unspecified launch failure" at the next call) beats a hang
        for (int polls = 0; load_acquire(sem) != kb; polls++) {
            if (polls == 1 << 24) __trap();
            __nanosleep(64);
        }
    }
    __syncthreads();
    #pragma unroll
    for (int dt = 0; dt < HS / 2 / FLASH_MMA_N; dt++) {
        #pragma unroll
        for (int r = 0; r < 2; r++) {
            // L2 loads and stores: the previous key block may have run on another SM
            float2 *p = reinterpret_cast<float2 *>(acc + frag_c_row(lane, 2 * r) * HS + dt * FLASH_MMA_N +
                                                   frag_c_col(lane, 2 * r));
            float2 v = kb == 0 ? make_float2(0.0f, 0.0f) : __ldcg(p);   // the first adds into zeros
            __stcg(p, make_float2(v.x + dq[dt][2 * r], v.y + dq[dt][2 * r + 1]));
        }
    }
    __threadfence();
    __syncthreads();
    if (threadIdx.x == 0) store_release(sem, kb + 1);
}

template <int HS>
__global__ void __launch_bounds__(FLASH_WARPS *WARP_SIZE)
flash_backward_kernel(floatX *dqkv, float *dq_acc, int *dq_sem, const floatX *dout, const floatX *qkv,
                      const float *lse, const float *D, int T, int NH, int NKV) {
    constexpr int LD = HS + FLASH_SMEM_PAD, QT = FLASH_BWD_COLS, NT = QT / FLASH_MMA_N, DT = HS / FLASH_MMA_N;
    extern __shared__ uint4 smem_raw[];
    floatX *k_s = reinterpret_cast<floatX *>(smem_raw);   // [FLASH_ROWS][LD]
    floatX *v_s = k_s + FLASH_ROWS * LD;                   // [FLASH_ROWS][LD]
    floatX *qd_s = v_s + FLASH_ROWS * LD;                  // 2 stages of Q [QT][LD], dO [QT][LD]
    floatX *ds_s = qd_s + 4 * QT * LD;                     // dS^T [FLASH_ROWS][FLASH_DS_LD]
    int g = blockIdx.x % NKV, b = blockIdx.x / NKV, group = NH / NKV, kb = blockIdx.y;
    int warp = threadIdx.x / WARP_SIZE, lane = threadIdx.x % WARP_SIZE;
    size_t row = (size_t)(NH + 2 * NKV) * HS;
    const floatX *base = qkv + (size_t)b * T * row, *dout_b = dout + (size_t)b * T * NH * HS;
    int j0 = kb * FLASH_ROWS, row0 = j0 + warp * FLASH_MMA_M;   // the warp's first key
    int qtiles = ceil_div(T, QT), per_head = qtiles - j0 / QT, tiles = group * per_head;
    float scale_log2 = FLASH_LOG2E * rsqrtf((float)HS);

    cp_async_rows<HS>(k_s, base + (size_t)(NH + g) * HS, row, j0, FLASH_ROWS, T);
    cp_async_rows<HS>(v_s, base + (size_t)(NH + NKV + g) * HS, row, j0, FLASH_ROWS, T);
    // tile t: query head g * group + t / per_head, queries from j0 + t % per_head * QT
    auto prefetch = [&](int t) {
        int h = g * group + t / per_head, i0 = j0 + t % per_head * QT;
        floatX *dst = qd_s + t % 2 * 2 * QT * LD;
        cp_async_rows<HS>(dst, base + (size_t)h * HS, row, i0, QT, T);
        cp_async_rows<HS>(dst + QT * LD, dout_b + (size_t)h * HS, (size_t)NH * HS, i0, QT, T);
    };
    prefetch(0);
    cp_async_commit();

    float dk[DT][4] = {}, dv[DT][4] = {};
    for (int t = 0; t < tiles; t++) {
        const floatX *q_t = qd_s + t % 2 * 2 * QT * LD, *do_t = q_t + QT * LD;
        if (t + 1 < tiles) prefetch(t + 1);   // into the stage read before the last barrier
        cp_async_commit();
        cp_async_wait_all_but_newest();
        __syncthreads();
        int h = g * group + t / per_head, i0 = j0 + t % per_head * QT;
        const float *lse_bh = lse + ((size_t)b * NH + h) * T, *D_bh = D + ((size_t)b * NH + h) * T;
        float st[NT][4] = {}, dpt[NT][4] = {};
        score_pair<HS, NT>(st, dpt, k_s + warp * FLASH_MMA_M * LD, v_s + warp * FLASH_MMA_M * LD, q_t, do_t, lane);
        #pragma unroll
        for (int n = 0; n < NT; n++) {
            #pragma unroll
            for (int e = 0; e < 4; e++) {
                int jj = warp * FLASH_MMA_M + frag_c_row(lane, e), ii = n * FLASH_MMA_N + frag_c_col(lane, e);
                int j = j0 + jj, i = i0 + ii;
                bool live = i >= j && i < T;
                float p = live ? exp2f(st[n][e] * scale_log2 - lse_bh[i] * FLASH_LOG2E) : 0.0f;
                dpt[n][e] = live ? p * (dpt[n][e] - D_bh[i]) : 0.0f;   // dS^T
                st[n][e] = p;                                           // P^T
            }
            #pragma unroll
            for (int r = 0; r < 2; r++) {   // bf16 dS^T, two adjacent queries per 32-bit store
                int jj = warp * FLASH_MMA_M + frag_c_row(lane, 2 * r), ii = n * FLASH_MMA_N + frag_c_col(lane, 2 * r);
                *reinterpret_cast<uint32_t *>(ds_s + jj * FLASH_DS_LD + ii) = pack_bf16(dpt[n][2 * r], dpt[n][2 * r + 1]);
            }
        }
        accumulate_product<HS, QT>(dv, st, do_t, lane);    // dV += bf16(P^T) dO
        accumulate_product<HS, QT>(dk, dpt, q_t, lane);    // dK += bf16(dS^T) Q
        __syncthreads();   // dS complete; Q, dO of this stage read
        float dq[DT / 2][4] = {};
        dq_partial<HS>(dq, ds_s, k_s, warp, lane);
        int qrow = i0 + warp % 2 * FLASH_MMA_M;
        float *acc = dq_acc + (((size_t)b * NH + h) * qtiles * QT + qrow) * HS + warp / 2 * (HS / 2);
        dq_add<HS>(acc, dq_sem ? dq_sem + ((size_t)b * NH + h) * qtiles + i0 / QT : NULL, kb, dq, lane);
    }
    float scale = rsqrtf((float)HS);
    #pragma unroll
    for (int r = 0; r < 2; r++) {
        int j = row0 + frag_c_row(lane, 2 * r);
        if (j >= T) continue;
        floatX *dkd = dqkv + ((size_t)b * T + j) * row + (size_t)(NH + g) * HS;
        add_row<HS>(dkd, dk, r, scale, lane);
        add_row<HS>(dkd + (size_t)NKV * HS, dv, r, 1.0f, lane);
    }
}

// dqkv's query part += scale dq_acc, rounded to bf16: one thread per pair of dims
__global__ void flash_dq_round_kernel(floatX *dqkv, const float *dq_acc, int B, int T, int NH, int NKV, int HS) {
    size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x, pairs = (size_t)B * T * NH * HS / 2;
    if (idx >= pairs) return;
    int d = idx % (HS / 2) * 2, h = idx / (HS / 2) % NH;
    size_t bt = idx / (HS / 2) / NH, b = bt / T, i = bt % T, Tq = (size_t)ceil_div(T, FLASH_BWD_COLS) * FLASH_BWD_COLS;
    float2 a = *reinterpret_cast<const float2 *>(dq_acc + ((b * NH + h) * Tq + i) * HS + d);
    __nv_bfloat162 *p = reinterpret_cast<__nv_bfloat162 *>(dqkv + bt * (NH + 2 * NKV) * HS + (size_t)h * HS + d);
    float2 old = __bfloat1622float2(*p);
    float scale = rsqrtf((float)HS);
    *p = __floats2bfloat162_rn(__fmaf_rn(a.x, scale, old.x), __fmaf_rn(a.y, scale, old.y));
}

// ---- launchers ------------------------------------------------------------------
// shared memory: forward Q + 2 stages of K, V tiles of 64 (HS 128: 87 KB); backward
// K, V 64 rows + 2 stages of Q, dO 32 rows + dS^T 64 x 40 (HS 128: 75 KB)
template <int HS> static size_t smem_rows(int rows) { return (size_t)rows * (HS + FLASH_SMEM_PAD) * sizeof(floatX); }

// the shapes and pointers the tensor-core kernels take: cp.async moves 16 bytes, so
// every row must start 16-byte aligned (true for cudaMalloc'd tensors)
static int flash_takes(int NH, int NKV, int HS, const void *a, const void *b, const void *c) {
    return attention_supported(NH, NKV, HS, NULL) && aligned16(a) && aligned16(b) && (c == NULL || aligned16(c));
}

template <int HS>
static void forward_launch(floatX *out, float *lse, const floatX *qkv, int B, int T, int NH, int NKV,
                           cudaStream_t stream) {
    size_t smem = smem_rows<HS>(FLASH_ROWS + 4 * FLASH_FWD_KEYS);
    CUDA_CHECK(cudaFuncSetAttribute(flash_forward_kernel<HS>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
    flash_forward_kernel<HS><<<dim3(B * NH, ceil_div(T, FLASH_ROWS)), FLASH_WARPS * WARP_SIZE, smem, stream>>>(
        out, lse, qkv, T, NH, NKV);
    CUDA_CHECK_LAUNCH();
}

void flash_attention_forward_cuda(floatX *out, float *lse, const floatX *qkv, int B, int T, int NH, int NKV, int HS,
                                  cudaStream_t stream) {
    if (!flash_takes(NH, NKV, HS, qkv, out, NULL)) {
        attention_forward_cuda(out, lse, qkv, B, T, NH, NKV, HS, stream);
        return;
    }
    if (HS == 64) forward_launch<64>(out, lse, qkv, B, T, NH, NKV, stream);
    else forward_launch<128>(out, lse, qkv, B, T, NH, NKV, stream);
}

// The backward's scratch, in order: D[B,NH,T] (first, as attention_backward_cuda,
// the fallback, expects), dq_acc[B,NH,Tq,HS] fp32, one semaphore per (b, h, query tile)
typedef struct {
    float *D, *dq_acc;
    int *dq_sem;
    size_t acc_bytes, sem_bytes, total;
} BackwardScratch;

static size_t align256(size_t n) { return (n + 255) / 256 * 256; }

static BackwardScratch backward_scratch(void *base, int B, int T, int NH, int HS) {
    size_t tiles = (size_t)B * NH * ceil_div(T, FLASH_BWD_COLS), d_bytes = align256((size_t)B * NH * T * sizeof(float));
    BackwardScratch s;
    s.acc_bytes = align256(tiles * FLASH_BWD_COLS * HS * sizeof(float)), s.sem_bytes = tiles * sizeof(int);
    s.total = d_bytes + s.acc_bytes + s.sem_bytes;
    s.D = (float *)base;
    s.dq_acc = (float *)((char *)base + d_bytes);
    s.dq_sem = (int *)((char *)base + d_bytes + s.acc_bytes);
    return s;
}

size_t flash_attention_backward_scratch_bytes(int B, int T, int NH, int HS) {
    return backward_scratch(NULL, B, T, NH, HS).total;
}

template <int HS>
static void backward_launch(floatX *dqkv, const floatX *dout, const floatX *qkv, const float *lse,
                            const BackwardScratch *s, int deterministic, int B, int T, int NH, int NKV,
                            cudaStream_t stream) {
    size_t smem = smem_rows<HS>(2 * FLASH_ROWS + 4 * FLASH_BWD_COLS) +
                  (size_t)FLASH_ROWS * FLASH_DS_LD * sizeof(floatX);
    CUDA_CHECK(cudaFuncSetAttribute(flash_backward_kernel<HS>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
    // semaphores start at 0; atomics add into zeros (in order, key block 0 writes first)
    if (deterministic) CUDA_CHECK(cudaMemsetAsync(s->dq_sem, 0, s->sem_bytes, stream));
    else CUDA_CHECK(cudaMemsetAsync(s->dq_acc, 0, s->acc_bytes, stream));
    // blockIdx.y = key block: key block 0, which sees every query tile, is launched first
    flash_backward_kernel<HS><<<dim3(B * NKV, ceil_div(T, FLASH_ROWS)), FLASH_WARPS * WARP_SIZE, smem, stream>>>(
        dqkv, s->dq_acc, deterministic ? s->dq_sem : NULL, dout, qkv, lse, s->D, T, NH, NKV);
    CUDA_CHECK_LAUNCH();
    size_t pairs = (size_t)B * T * NH * HS / 2;
    flash_dq_round_kernel<<<ceil_div(pairs, 256), 256, 0, stream>>>(dqkv, s->dq_acc, B, T, NH, NKV, HS);
    CUDA_CHECK_LAUNCH();
}

void flash_attention_backward_cuda(floatX *dqkv, const floatX *dout, const floatX *qkv, const floatX *out,
                                   const float *lse, int B, int T, int NH, int NKV, int HS, int deterministic,
                                   void *scratch, cudaStream_t stream) {
    if (!flash_takes(NH, NKV, HS, qkv, dout, dqkv)) {
        attention_backward_cuda(dqkv, dout, qkv, out, lse, B, T, NH, NKV, HS, scratch, stream);
        return;
    }
    BackwardScratch s = backward_scratch(scratch, B, T, NH, HS);
    attention_rowdot_cuda(s.D, dout, out, B, T, NH, HS, stream);
    if (HS == 64) backward_launch<64>(dqkv, dout, qkv, lse, &s, deterministic, B, T, NH, NKV, stream);
    else backward_launch<128>(dqkv, dout, qkv, lse, &s, deterministic, B, T, NH, NKV, stream);
}
