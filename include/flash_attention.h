// FlashAttention-2 style causal attention on tensor cores (kernels/flash_attention.cu)
// and its CPU model (src/model/flash_attention.c), which runs the same algorithm with
// the same tiles, accumulation order and bf16 roundings so that the numerics are
// settled on the CPU. Both include this file: the tile sizes and the per-lane
// fragment layout of mma.sync.m16n8k16 (bf16 inputs, fp32 accumulators) live here.
//
// Layouts are those of include/kernels.h's attention: qkv[B,T,(NH+2*NKV)*HS] rows
// [q heads | k heads | v heads], out[B,T,NH*HS], lse[B,NH,T] (natural log of the sum
// of exp of the scaled scores); query head h reads kv head h / (NH / NKV).
#ifndef SCPT_FLASH_ATTENTION_H
#define SCPT_FLASH_ATTENTION_H

#include <stdint.h>
#include <string.h>

enum {
    FLASH_WARPS = 4,
    FLASH_MMA_M = 16, FLASH_MMA_N = 8, FLASH_MMA_K = 16,
    // rows a block owns, 16 per warp: queries (forward) or keys (backward)
    FLASH_ROWS = FLASH_WARPS * FLASH_MMA_M,
    // keys per streamed tile in the forward; equal to FLASH_ROWS so that every
    // block's diagonal tile starts at its first query and no row is ever fully masked
    FLASH_FWD_KEYS = FLASH_ROWS,
    // queries per streamed tile in the backward (whose blocks own FLASH_ROWS keys):
    // smaller, because the backward keeps two accumulators (dK, dV) and two score
    // tiles per warp; also the dQ tile that key blocks add into in turn
    FLASH_BWD_COLS = 32,
    // padding of a shared-memory row, in bf16: a row of HS + 8 spreads the 8 rows
    // one mma fragment reads over all 32 banks, and keeps rows 16-byte aligned
    FLASH_SMEM_PAD = 8,
};

#ifdef __CUDACC__
#define FLASH_HD __host__ __device__
#else
#define FLASH_HD
#endif

// ---- mma.m16n8k16 fragments, per lane ---------------------------------------------
// D[16x8] = A[16x16] B[16x8] + C[16x8]. Lane `lane` holds A elements e = 0..7 (4
// registers of 2 bf16), B elements e = 0..3 (2 registers of 2 bf16) and C/D
// elements e = 0..3 (fp32). These give the row and column of element e; elements
// 2r and 2r+1 (one 32-bit register) are always adjacent along k for A and B and
// along n for C, which the kernel uses to load them as one 32-bit word.
// test/test_flash_model.c checks them against the PTX ISA's tables.
static inline FLASH_HD int frag_a_row(int lane, int e) { return lane / 4 + 8 * (e / 2 % 2); }
static inline FLASH_HD int frag_a_col(int lane, int e) { return lane % 4 * 2 + e % 2 + 8 * (e / 4); }
static inline FLASH_HD int frag_b_row(int lane, int e) { return lane % 4 * 2 + e % 2 + 8 * (e / 2); }   // k
static inline FLASH_HD int frag_b_col(int lane, int e) { (void)e; return lane / 4; }                     // n
static inline FLASH_HD int frag_c_row(int lane, int e) { return lane / 4 + 8 * (e / 2); }
static inline FLASH_HD int frag_c_col(int lane, int e) { return lane % 4 * 2 + e % 2; }

// A probability tile computed as C fragments (8-column tiles n) is reused as the A
// operand of the next product without leaving registers: A element e of k-step kk
// is C element frag_a_from_c_elem(e) of tile 2 kk + frag_a_from_c_tile(e).
static inline FLASH_HD int frag_a_from_c_tile(int e) { return e / 4; }
static inline FLASH_HD int frag_a_from_c_elem(int e) { return e % 4; }

// ---- CPU model ------------------------------------------------------------------
#ifdef __cplusplus
extern "C" {
#endif
// round to the nearest bf16 (ties to even), as __float2bfloat16 does
static inline float flash_bf16_round(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return x;   // NaN stays NaN
    u = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
    memcpy(&x, &u, 4);
    return x;
}

// The kernel's algorithm on the CPU. Inputs must hold bf16 values (what the GPU
// reads); outputs are rounded to bf16 as the kernel writes them. The forward
// overwrites out and lse; the backward ADDS into dqkv (rounding the sum to bf16, as
// the kernel does), sums dQ in the deterministic kernel's order (key blocks
// ascending) and needs the forward's out and lse.
void flash_model_forward(float *out, float *lse, const float *qkv, int B, int T, int NH, int NKV, int HS);
void flash_model_backward(float *dqkv, const float *dout, const float *qkv, const float *out, const float *lse, int B,
                          int T, int NH, int NKV, int HS);
#ifdef __cplusplus
}
#endif

#endif
