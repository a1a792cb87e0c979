// The CPU model of the tensor-core attention (src/model/flash_attention.c, the
// algorithm of kernels/flash_attention.cu) against the CPU reference
// (src/model/attention.c): forward output, lse, and dQ, dK, dV separately, on
// shapes with T not a multiple of the tiles and Llama 3's head groups; plus the
// mma.m16n8k16 fragment layout that the kernel's index math assumes, checked
// against the PTX ISA's tables. SCPT_FLASH_FULL=1 adds the full-size shapes
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

// The kernel's shared-memory fragment loads, with rows of HS + FLASH_SMEM_PAD bf16:
// the 32 lanes of one load hit 32 different banks, or share a 32-bit word
// (a broadcast), for the 32-bit A and [n][k] B loads and the 16-bit [k][n] B loads.
static int bank_conflicts(const int word[32]) {
    int conflicts = 0;
    for (int a = 0; a < 32; a++)
        for (int b = 0; b < a; b++) conflicts += word[a] % 32 == word[b] % 32 && word[a] != word[b];
    return conflicts;
}

static void test_smem_banks(void) {
    const int sizes[] = {64, 128};
    for (int s = 0; s < 2; s++) {
        int ld = sizes[s] + FLASH_SMEM_PAD, conflicts = 0;   // in bf16; a bank word holds 2
        for (int e = 0; e < 8; e += 2) {
            int wa[32], wb[32], wkn[32];
            for (int lane = 0; lane < 32; lane++) {
                wa[lane] = (frag_a_row(lane, e) * ld + frag_a_col(lane, e)) / 2;
                wb[lane] = (frag_b_col(lane, e % 4) * ld + frag_b_row(lane, e % 4)) / 2;
                wkn[lane] = (frag_b_row(lane, e % 4) * ld + frag_b_col(lane, e % 4)) / 2;
            }
            conflicts += bank_conflicts(wa) + bank_conflicts(wb) + bank_conflicts(wkn);
        }
        CHECK(conflicts == 0, "HS %d: %d bank conflicts in the fragment loads", sizes[s], conflicts);
    }
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
    RUN_TEST(test_smem_banks);
    RUN_TEST(test_small_shapes);
    RUN_TEST(test_full_shapes);
    return test_summary();
}
