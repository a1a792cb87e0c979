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
    // padding of a shared-memory row, in bf16: a row of HS + 8 puts the 8 rows of
    // one ldmatrix matrix in distinct 16-byte bank groups (all 32 banks), and keeps
    // rows 16-byte aligned
    FLASH_SMEM_PAD = 8,
    // row stride of the backward's dS^T tile in shared memory ([key][query], bf16)
    FLASH_DS_LD = FLASH_BWD_COLS + FLASH_SMEM_PAD,
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
// along n for C. test/test_flash_model.c checks them against the PTX ISA's tables.
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

// ---- operand loads from shared memory: ldmatrix.x4 ------------------------------
// ldmatrix.sync.aligned.m8n8.x4{.trans}.shared.b16 reads four 8x8 bf16 matrices:
// lane l gives the address of row l % 8 of matrix l / 8 (8 contiguous bf16, 16-byte
// aligned), and lane t receives in register i elements (t / 4, 2 (t % 4)) and
// (t / 4, 2 (t % 4) + 1) of matrix i, or with .trans (2 (t % 4), t / 4) and
// (2 (t % 4) + 1, t / 4), the first in the low half. The kernel keeps every operand
// in row-major shared arrays (row stride ld) and reads one 16x16 tile per load, as:
enum {
    FLASH_A_MK,   // an A fragment stored [m][k] (Q, K or V rows as the rows of S, S^T, dP^T)
    FLASH_A_KM,   // an A fragment stored [k][m] (dS^T rows [key][query], the A of dS K)
    FLASH_B_NK,   // the B fragments of two 8-wide n tiles, stored [n][k] (K in Q K^T)
    FLASH_B_KN,   // the same, stored [k][n] (V in P V; dO, Q and K in the backward's)
};
// Register i is A register i (rows 8 (i % 2), k 8 (i / 2) of the tile), or B
// register i % 2 of n tile i / 2 (k 8 (i % 2)); so matrix i is the stored tile's 8x8
// block (i % 2 down, i / 2 across) for A_MK and B_KN and (i / 2, i % 2) for A_KM
// and B_NK, and the operands stored along the other dimension take .trans. These
// give lane l's row and column in the tile; test/test_flash_model.c runs every load
// of the kernel through a model of ldmatrix and compares with frag_a/frag_b.
static inline FLASH_HD int ldsm_trans(int op) { return op == FLASH_A_KM || op == FLASH_B_KN; }
static inline FLASH_HD int ldsm_down_first(int op) { return op == FLASH_A_MK || op == FLASH_B_KN; }
static inline FLASH_HD int ldsm_row(int lane, int op) {
    return lane % 8 + 8 * (ldsm_down_first(op) ? lane / 8 % 2 : lane / 16);
}
static inline FLASH_HD int ldsm_col(int lane, int op) { return 8 * (ldsm_down_first(op) ? lane / 16 : lane / 8 % 2); }

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
