// The CPU model of the tensor-core attention (src/model/flash_attention.c, the
// algorithm of kernels/flash_attention.cu) against the CPU reference
// (src/model/attention.c): forward output, lse, and dQ, dK, dV separately, on
// shapes with T not a multiple of the tiles and Llama 3's head groups; plus the
// mma.m16n8k16 fragment layout that the kernel's index math assumes, checked
// against the PTX ISA's tables, and every ldmatrix operand load of the kernels run
// through a per-lane model of ldmatrix (elements, alignment, bank conflicts). SCPT_FLASH_FULL=1 adds the full-size shapes
// (T up to 4096 with GQA; about 3.5 CPU-minutes).
//
// The tolerance is derived in test/attention_check.h.
#include <math.h>
#include <stdint.h>
#include "flash_attention.h"
#include "test.h"
#include "attention_check.h"

static uint64_t rng_state = 7;

static void check_shape(const AttShape *s) {
    size_t N = (size_t)s->B * s->T, row = (size_t)(s->NH + 2 * s->NKV) * s->HS;
    AttReference ref = att_reference(s, &rng_state);
    float *out = xmalloc(N * s->NH * s->HS * sizeof(float)), *lse = xmalloc(N * s->NH * sizeof(float));
    float *dqkv = xcalloc(N * row, sizeof(float));
    flash_model_forward(out, lse, ref.qkv, s->B, s->T, s->NH, s->NKV, s->HS);
    flash_model_backward(dqkv, ref.dout, ref.qkv, out, lse, s->B, s->T, s->NH, s->NKV, s->HS);
    att_check("model", s, &ref, out, lse, dqkv);
    att_reference_free(&ref);
    free(out), free(lse), free(dqkv);
}

// ---- the PTX ISA's fragment tables for mma.m16n8k16 .bf16 (section "Matrix
// Fragments for mma.m16n8k16 with floating point type"), written as the ISA states
// them, independently of include/flash_attention.h's formulas --------------------
static void ptx_a(int lane, int i, int *row, int *col) {
    int groupID = lane >> 2, tig = lane % 4;
    *row = (i < 2 || (4 <= i && i < 6)) ? groupID : groupID + 8;
    *col = i < 4 ? tig * 2 + (i & 1) : tig * 2 + (i & 1) + 8;
}
static void ptx_b(int lane, int i, int *row, int *col) {
    int groupID = lane >> 2, tig = lane % 4;
    *row = i < 2 ? tig * 2 + (i & 1) : tig * 2 + (i & 1) + 8;
    *col = groupID;
}
static void ptx_c(int lane, int i, int *row, int *col) {
    int groupID = lane >> 2, tig = lane % 4;
    *row = i < 2 ? groupID : groupID + 8;
    *col = tig * 2 + (i & 1);
}

static void test_fragment_layout(void) {
    int bad = 0;
    for (int lane = 0; lane < 32; lane++) {
        for (int e = 0; e < 8; e++) {
            int r, c;
            ptx_a(lane, e, &r, &c);
            bad += r != frag_a_row(lane, e) || c != frag_a_col(lane, e);
            if (e % 2)
                bad += frag_a_col(lane, e) != frag_a_col(lane, e - 1) + 1 ||
                       frag_a_row(lane, e) != frag_a_row(lane, e - 1);
            if (e >= 4) continue;
            ptx_b(lane, e, &r, &c);
            bad += r != frag_b_row(lane, e) || c != frag_b_col(lane, e);
            if (e % 2) bad += frag_b_row(lane, e) != frag_b_row(lane, e - 1) + 1;
            ptx_c(lane, e, &r, &c);
            bad += r != frag_c_row(lane, e) || c != frag_c_col(lane, e);
            if (e % 2) bad += frag_c_col(lane, e) != frag_c_col(lane, e - 1) + 1;
        }
        // C tiles 2kk and 2kk+1 (columns 16kk..16kk+15) reused as A of k-step kk
        for (int e = 0; e < 8; e++) {
            int tile = frag_a_from_c_tile(e), ce = frag_a_from_c_elem(e);
            bad += frag_c_row(lane, ce) != frag_a_row(lane, e) ||
                   8 * tile + frag_c_col(lane, ce) != frag_a_col(lane, e);
            // the kernel packs elements e and e + 1 (e even) from one accumulator pair
            if (e % 2) bad += frag_a_from_c_tile(e) != tile || frag_a_from_c_elem(e - 1) + 1 != ce;
        }
    }
    CHECK(bad == 0, "%d fragment index mismatches with the PTX ISA tables", bad);

    // one warp's D = A B + C through the fragments: lanes load A and B by the
    // kernel's formulas, the "hardware" combines them by the ISA's tables
    float A[16][16], Bm[16][8], C[16][8];
    for (int r = 0; r < 16; r++)
        for (int c = 0; c < 16; c++) A[r][c] = (float)((r * 7 + c * 3) % 11 - 5);
    for (int r = 0; r < 16; r++)
        for (int c = 0; c < 8; c++) Bm[r][c] = (float)((r * 5 + c) % 7 - 3), C[r][c] = (float)(r - c);
    float a_reg[32][8], b_reg[32][4], d_reg[32][4];
    for (int lane = 0; lane < 32; lane++) {
        for (int e = 0; e < 8; e++) a_reg[lane][e] = A[frag_a_row(lane, e)][frag_a_col(lane, e)];
        for (int e = 0; e < 4; e++) b_reg[lane][e] = Bm[frag_b_row(lane, e)][frag_b_col(lane, e)];
    }
    float As[16][16], Bs[16][8];
    for (int lane = 0; lane < 32; lane++) {
        int r, c;
        for (int e = 0; e < 8; e++) ptx_a(lane, e, &r, &c), As[r][c] = a_reg[lane][e];
        for (int e = 0; e < 4; e++) ptx_b(lane, e, &r, &c), Bs[r][c] = b_reg[lane][e];
    }
    for (int lane = 0; lane < 32; lane++)
        for (int e = 0; e < 4; e++) {
            int r, c;
            ptx_c(lane, e, &r, &c);
            float s = C[r][c];
            for (int k = 0; k < 16; k++) s += As[r][k] * Bs[k][c];
            d_reg[lane][e] = s;
        }
    int wrong = 0;
    for (int lane = 0; lane < 32; lane++)
        for (int e = 0; e < 4; e++) {
            int r = frag_c_row(lane, e), c = frag_c_col(lane, e);
            float s = C[r][c];
            for (int k = 0; k < 16; k++) s += A[r][k] * Bm[k][c];
            wrong += s != d_reg[lane][e];
        }
    CHECK(wrong == 0, "%d elements of the warp-level product are wrong", wrong);
}

// ---- ldmatrix.sync.aligned.m8n8.x4{.trans}.shared.b16, per lane, as the PTX ISA
// describes it ("Warp-level matrix load instruction: ldmatrix"), written apart from
// include/flash_attention.h: lanes 8i..8i+7 give the addresses of rows 0..7 of matrix
// i (8 bf16 each); lane t receives in register i, low half first, elements
// (t/4, 2(t%4)) and (t/4, 2(t%4)+1) of matrix i, or with .trans (2(t%4), t/4) and
// (2(t%4)+1, t/4). Shared memory is modelled as holding its own (bf16) address at
// each address, so a received value says where it was read from.
static void ldmatrix_x4(long got[32][4][2], const long addr[32], int trans) {
    for (int t = 0; t < 32; t++)
        for (int i = 0; i < 4; i++)
            for (int h = 0; h < 2; h++) {
                int row = trans ? 2 * (t % 4) + h : t / 4, col = trans ? t / 4 : 2 * (t % 4) + h;
                got[t][i][h] = addr[8 * i + row] + col;
            }
}

// where the mma operand layout (frag_a, frag_b) says that half h of register i of
// lane t must come from, for operand op (FLASH_A_MK, ...) whose 16x16 tile starts
// at `base` of a row-major array with row stride ld: A register i, or B register
// i % 2 of the tile's n tile i / 2
static long operand_element(int op, long base, int ld, int lane, int i, int h) {
    int row, col;   // in the stored array
    if (op == FLASH_A_MK || op == FLASH_A_KM) {
        int m = frag_a_row(lane, 2 * i + h), k = frag_a_col(lane, 2 * i + h);
        row = op == FLASH_A_MK ? m : k, col = op == FLASH_A_MK ? k : m;
    } else {
        int e = 2 * (i % 2) + h, k = frag_b_row(lane, e), n = 8 * (i / 2) + frag_b_col(lane, e);
        row = op == FLASH_B_NK ? n : k, col = op == FLASH_B_NK ? k : n;
    }
    return base + (long)row * ld + col;
}

// one operand of a kernel (e.g. the forward's V), over all the loads the kernel makes of it
typedef struct {
    const char *name;
    int loads, wrong, misaligned, conflicts, outside;
} LoadCheck;

// the kernel's load of operand op at `base` (bf16 offset in the block's shared
// memory, of `smem` bf16 in all; its start is 16-byte aligned) through the lanes'
// addresses from include/flash_attention.h, checked element by element, for
// 16-byte alignment, for the 8 rows of each matrix in distinct 16-byte bank groups
// (one conflict-free pass over the 32 banks) and for staying inside `smem`
static void check_load(LoadCheck *c, int op, long base, int ld, long smem) {
    long addr[32], got[32][4][2];
    for (int lane = 0; lane < 32; lane++) {
        addr[lane] = base + (long)ldsm_row(lane, op) * ld + ldsm_col(lane, op);
        c->misaligned += addr[lane] % 8 != 0;
        c->outside += addr[lane] < 0 || addr[lane] + 8 > smem;
    }
    for (int i = 0; i < 4; i++)
        for (int r = 0; r < 8; r++)
            for (int q = 0; q < r; q++) c->conflicts += addr[8 * i + r] / 8 % 8 == addr[8 * i + q] / 8 % 8;
    ldmatrix_x4(got, addr, ldsm_trans(op));
    for (int lane = 0; lane < 32; lane++)
        for (int i = 0; i < 4; i++)
            for (int h = 0; h < 2; h++) c->wrong += got[lane][i][h] != operand_element(op, base, ld, lane, i, h);
    c->loads++;
}

static void report_loads(const LoadCheck *c, int n, int HS) {
    for (int i = 0; i < n; i++)
        CHECK(c[i].loads > 0 && c[i].wrong == 0 && c[i].misaligned == 0 && c[i].conflicts == 0 && c[i].outside == 0,
              "HS %d, %s: %d loads, %d wrong elements, %d misaligned rows, %d bank conflicts, %d rows outside", HS,
              c[i].name, c[i].loads, c[i].wrong, c[i].misaligned, c[i].conflicts, c[i].outside);
}

// The forward's loads as kernels/flash_attention.cu makes them: shared memory = Q
// [64][LD], then 2 stages of K [64][LD], V [64][LD]; every warp, k-step and n-tile pair
static void forward_loads(int HS) {
    LoadCheck c[] = {{"forward Q (A of Q K^T)", 0, 0, 0, 0, 0},
                     {"forward K (B of Q K^T)", 0, 0, 0, 0, 0},
                     {"forward V (B of P V)", 0, 0, 0, 0, 0}};
    int LD = HS + FLASH_SMEM_PAD, KT = FLASH_FWD_KEYS, M = FLASH_MMA_M, N = FLASH_MMA_N, K = FLASH_MMA_K;
    long q_s = 0, kv_s = (long)FLASH_ROWS * LD, smem = (long)(FLASH_ROWS + 4 * KT) * LD;
    for (int warp = 0; warp < FLASH_WARPS; warp++)
        for (int kk = 0; kk < HS / K; kk++) check_load(&c[0], FLASH_A_MK, q_s + warp * M * LD + kk * K, LD, smem);
    for (int stage = 0; stage < 2; stage++) {
        long k_s = kv_s + (long)stage * 2 * KT * LD, v_s = k_s + (long)KT * LD;
        for (int kk = 0; kk < HS / K; kk++)
            for (int n = 0; n < KT / N; n += 2) check_load(&c[1], FLASH_B_NK, k_s + n * N * LD + kk * K, LD, smem);
        for (int kk = 0; kk < KT / K; kk++)
            for (int dt = 0; dt < HS / N; dt += 2) check_load(&c[2], FLASH_B_KN, v_s + kk * K * LD + dt * N, LD, smem);
    }
    report_loads(c, 3, HS);
}

// The backward's: K [64][LD], V [64][LD], 2 stages of Q [32][LD], dO [32][LD], then
// dS^T [64][FLASH_DS_LD]; score_pair, the two accumulate_product and dq_partial
static void backward_loads(int HS) {
    LoadCheck c[] = {{"backward K (A of K Q^T)", 0, 0, 0, 0, 0},    {"backward V (A of V dO^T)", 0, 0, 0, 0, 0},
                     {"backward Q (B of K Q^T)", 0, 0, 0, 0, 0},    {"backward dO (B of V dO^T)", 0, 0, 0, 0, 0},
                     {"backward dO (B of P^T dO)", 0, 0, 0, 0, 0},  {"backward Q (B of dS^T Q)", 0, 0, 0, 0, 0},
                     {"backward dS^T (A of dS K)", 0, 0, 0, 0, 0}, {"backward K (B of dS K)", 0, 0, 0, 0, 0}};
    int LD = HS + FLASH_SMEM_PAD, QT = FLASH_BWD_COLS, M = FLASH_MMA_M, N = FLASH_MMA_N, K = FLASH_MMA_K;
    long k_s = 0, v_s = (long)FLASH_ROWS * LD, qd_s = 2L * FLASH_ROWS * LD, ds_s = qd_s + 4L * QT * LD;
    long smem = ds_s + (long)FLASH_ROWS * FLASH_DS_LD;
    for (int warp = 0; warp < FLASH_WARPS; warp++)
        for (int stage = 0; stage < 2; stage++) {
            long q_t = qd_s + (long)stage * 2 * QT * LD, do_t = q_t + (long)QT * LD;
            for (int kk = 0; kk < HS / K; kk++) {
                check_load(&c[0], FLASH_A_MK, k_s + warp * M * LD + kk * K, LD, smem);
                check_load(&c[1], FLASH_A_MK, v_s + warp * M * LD + kk * K, LD, smem);
                for (int n = 0; n < QT / N; n += 2) {
                    check_load(&c[2], FLASH_B_NK, q_t + n * N * LD + kk * K, LD, smem);
                    check_load(&c[3], FLASH_B_NK, do_t + n * N * LD + kk * K, LD, smem);
                }
            }
            for (int kk = 0; kk < QT / K; kk++)
                for (int dt = 0; dt < HS / N; dt += 2) {
                    check_load(&c[4], FLASH_B_KN, do_t + kk * K * LD + dt * N, LD, smem);
                    check_load(&c[5], FLASH_B_KN, q_t + kk * K * LD + dt * N, LD, smem);
                }
        }
    for (int warp = 0; warp < FLASH_WARPS; warp++)
        for (int kk = 0; kk < FLASH_ROWS / K; kk++) {
            check_load(&c[6], FLASH_A_KM, ds_s + warp % 2 * M + kk * K * FLASH_DS_LD, FLASH_DS_LD, smem);
            for (int dt = 0; dt < HS / 2 / N; dt += 2)
                check_load(&c[7], FLASH_B_KN, k_s + warp / 2 * (HS / 2) + kk * K * LD + dt * N, LD, smem);
        }
    report_loads(c, 8, HS);
}

static void test_ldmatrix_loads(void) {
    forward_loads(64), forward_loads(128);
    backward_loads(64), backward_loads(128);
}

// The backward's bf16 dS^T stores ([key][query], rows of FLASH_DS_LD): each lane
// writes accumulator pairs (frag_c) as 32-bit words; the 32 lanes of one store hit
// 32 different banks, and the 4 warps write every element of the 64 x 32 tile once.
static int bank_conflicts(const int word[32]) {
    int conflicts = 0;
    for (int a = 0; a < 32; a++)
        for (int b = 0; b < a; b++) conflicts += word[a] % 32 == word[b] % 32 && word[a] != word[b];
    return conflicts;
}

static void test_ds_stores(void) {
    static int written[FLASH_ROWS][FLASH_BWD_COLS];
    int conflicts = 0, misaligned = 0, bad = 0;
    for (int warp = 0; warp < FLASH_WARPS; warp++)
        for (int n = 0; n < FLASH_BWD_COLS / FLASH_MMA_N; n++)
            for (int r = 0; r < 2; r++) {
                int word[32];
                for (int lane = 0; lane < 32; lane++) {
                    int jj = warp * FLASH_MMA_M + frag_c_row(lane, 2 * r), ii = n * FLASH_MMA_N + frag_c_col(lane, 2 * r);
                    misaligned += (jj * FLASH_DS_LD + ii) % 2;
                    word[lane] = (jj * FLASH_DS_LD + ii) / 2;
                    written[jj][ii]++, written[jj][ii + 1]++;
                }
                conflicts += bank_conflicts(word);
            }
    for (int j = 0; j < FLASH_ROWS; j++)
        for (int i = 0; i < FLASH_BWD_COLS; i++) bad += written[j][i] != 1;
    CHECK(conflicts == 0 && misaligned == 0 && bad == 0,
          "dS^T stores: %d bank conflicts, %d misaligned words, %d elements not written exactly once", conflicts,
          misaligned, bad);
}

// T not a multiple of the 64-row blocks nor the 32-column backward tiles; MHA,
// Llama 3 8B's 32/8 and Llama 3.2 1B-like 8/2 head groups; HS 64 and 128
static void test_small_shapes(void) {
    const AttShape shapes[] = {
        {1, 77, 4, 4, 64}, {2, 190, 8, 2, 128}, {1, 129, 32, 8, 64}, {1, 64, 2, 1, 128}, {1, 1, 2, 2, 64},
    };
    for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) check_shape(&shapes[i]);
}

static void test_full_shapes(void) {
    const char *env = getenv("SCPT_FLASH_FULL");
    if (!env || strcmp(env, "1") != 0) SKIP_TEST("set SCPT_FLASH_FULL=1 for T = 1000..4096 (minutes)");
    const AttShape shapes[] = {{1, 4096, 8, 2, 128}, {1, 2048, 32, 8, 64}, {1, 1000, 8, 2, 64}, {2, 1027, 4, 1, 128}};
    for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) check_shape(&shapes[i]);
}

int main(void) {
    RUN_TEST(test_fragment_layout);
    RUN_TEST(test_ldmatrix_loads);
    RUN_TEST(test_ds_stores);
    RUN_TEST(test_small_shapes);
    RUN_TEST(test_full_shapes);
    return test_summary();
}
