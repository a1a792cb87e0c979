// The CPU model of the tensor-core attention (src/model/flash_attention.c, the
// algorithm of kernels/flash_attention.cu) against the CPU reference
// (src/model/attention.c): forward output, lse, and dQ, dK, dV separately, on
// shapes with T not a multiple of the tiles and Llama 3's head groups; plus the
// mma.m16n8k16 fragment layout that the kernel's index math assumes, checked
// against the PTX ISA's tables. SCPT_FLASH_FULL=1 adds the full-size shapes
// (T up to 4096 with GQA; a few minutes on two cores).
//
// Tolerance, derived per element. Both sides read the same bf16 inputs; the
// reference computes in fp32 with exact probabilities. The model differs by:
//   (a) bf16 rounding of P before P.V and P^T.dO, and of dS before dS.K and dS^T.Q:
//       relative u = 2^-8 (bf16 keeps an 8-bit significand) on each term of those sums;
//   (b) bf16 rounding of every output: u of the output, at most u of the sum of the
//       magnitudes of its terms;
//   (c) D = rowsum(dO * O) uses the model's bf16 output O, which is off by (a)+(b)
//       for O, i.e. at most 2^-7 sum_d |dO_d| Omag_d =: 2^-7 Dmag_i;
//   (d) fp32 summation (either side, in other orders) and exp2/log2 instead of
//       exp/log: at most (n + HS) 2^-24 relative to the magnitude for n terms.
// With the magnitudes (the same sums over absolute values)
//   Omag_id  = sum_j P_ij |v_jd|                     dVmag_jd = sum_i P_ij |dO_id|
//   dQmag_id = scale sum_j P_ij (|dP_ij - D_i| + Dmag_i) |k_jd|
//   dKmag_jd = scale sum_i P_ij (|dP_ij - D_i| + Dmag_i) |q_id|
// (dK and dV also summed over the group's query heads), every output must satisfy
//   |model - ref| <= (2^-7 + 2 (T + HS) 2^-24) mag,
// 2^-7 = (a) + (b) (or (c), whose term is the Dmag part), the rest (d) on both sides.
// lse: |model - ref| <= 2 (T + HS) 2^-24 (max_j |s_ij| + |lse_i|), no bf16 involved.
// The test also prints the worst err / mag, to show how close the bound is.
#include <math.h>
#include <stdint.h>
#include "flash_attention.h"
#include "layers.h"
#include "rng.h"
#include "test.h"

static uint64_t rng_state = 7;

static float *random_bf16(size_t n, float amp) {
    float *x = xmalloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) x[i] = flash_bf16_round((float)((2 * rng_uniform(&rng_state) - 1) * amp));
    return x;
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
            if (e % 2) bad += frag_a_col(lane, e) != frag_a_col(lane, e - 1) + 1 || frag_a_row(lane, e) != frag_a_row(lane, e - 1);
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

// ---- model vs reference -----------------------------------------------------------
typedef struct { int B, T, NH, NKV, HS; } Shape;

// worst |got - ref| / bound over n elements; 0 when all within bound (with the
// excess and place reported)
static double compare(const char *what, const Shape *s, const float *got, const float *ref, const float *mag,
                      double rel, size_t n, size_t stride, size_t off, size_t len) {
    double worst = 0;
    int fails = 0;
    for (size_t r = 0; r < n; r++) {
        for (size_t d = 0; d < len; d++) {
            size_t x = r * stride + off + d, m = r * len + d;
            double err = fabs((double)got[x] - ref[x]), bound = rel * mag[m];
            if (mag[m] > 0 && err / mag[m] > worst) worst = err / mag[m];
            if (err > bound && fails++ < 3)
                fprintf(stderr, "  %s T=%d NH=%d/%d HS=%d: row %zu dim %zu: %.8g vs %.8g (bound %.3g)\n", what, s->T,
                        s->NH, s->NKV, s->HS, r, d, got[x], ref[x], bound);
        }
    }
    CHECK(fails == 0, "%s: %d elements outside the bound", what, fails);
    return worst;
}

static void check_shape(const Shape *s) {
    int B = s->B, T = s->T, NH = s->NH, NKV = s->NKV, HS = s->HS, group = NH / NKV;
    size_t row = (size_t)(NH + 2 * NKV) * HS, N = (size_t)B * T, C = (size_t)NH * HS;
    float scale = 1 / sqrtf((float)HS);
    float *qkv = random_bf16(N * row, 1.5f), *dout = random_bf16(N * C, 1.0f);
    // a few keys with large scores make the softmax peaked, as trained heads are
    for (size_t t = 0; t < N; t += 13)
        for (int c = NH * HS; c < (NH + NKV) * HS; c++) qkv[t * row + c] = flash_bf16_round(qkv[t * row + c] * 3);

    float *out_ref = xmalloc(N * C * sizeof(float)), *att = xmalloc((size_t)B * NH * T * T * sizeof(float));
    float *dqkv_ref = xcalloc(N * row, sizeof(float));
    attention_forward(out_ref, att, qkv, B, T, NH, NKV, HS);
    attention_backward(dqkv_ref, dout, qkv, att, B, T, NH, NKV, HS);

    float *out = xmalloc(N * C * sizeof(float)), *lse = xmalloc((size_t)B * NH * T * sizeof(float));
    float *dqkv = xcalloc(N * row, sizeof(float));
    flash_model_forward(out, lse, qkv, B, T, NH, NKV, HS);
    flash_model_backward(dqkv, dout, qkv, out, lse, B, T, NH, NKV, HS);

    // magnitudes (see the top of the file), reference lse and its bound
    float *omag = xcalloc(N * C, sizeof(float)), *dqmag = xcalloc(N * C, sizeof(float));
    float *dkmag = xcalloc(N * NKV * HS, sizeof(float)), *dvmag = xcalloc(N * NKV * HS, sizeof(float));
    float *dmag = xcalloc((size_t)B * NH * T, sizeof(float)), *dp = xmalloc(T * sizeof(float));
    double lse_rel = 2.0 * (T + HS) / (1 << 24), lse_worst = 0;
    int lse_fails = 0;
    for (int b = 0; b < B; b++) {
        const float *base = qkv + (size_t)b * T * row;
        for (int h = 0; h < NH; h++) {
            int g = h / group;
            for (int i = 0; i < T; i++) {
                const float *P = att + (((size_t)b * NH + h) * T + i) * T, *q = base + i * row + (size_t)h * HS;
                const float *dO = dout + ((size_t)b * T + i) * C + (size_t)h * HS;
                float *om = omag + ((size_t)b * T + i) * C + (size_t)h * HS;
                double sum = 0, smax = 0, D = 0;
                for (int j = 0; j <= i; j++) {
                    const float *k = base + j * row + (size_t)(NH + g) * HS, *v = k + (size_t)NKV * HS;
                    double sc = 0, dpj = 0;
                    for (int d = 0; d < HS; d++) sc += (double)q[d] * k[d], dpj += (double)dO[d] * v[d];
                    sum += exp(sc * scale), smax = fmax(smax, fabs(sc * scale));
                    dp[j] = (float)dpj, D += P[j] * dpj;
                    for (int d = 0; d < HS; d++) om[d] += P[j] * fabsf(v[d]);
                }
                double lse_ref = log(sum), err = fabs(lse[((size_t)b * NH + h) * T + i] - lse_ref);
                double bound = lse_rel * (smax + fabs(lse_ref));
                lse_worst = fmax(lse_worst, err / bound);
                if (err > bound && lse_fails++ < 3) fprintf(stderr, "  lse row %d: err %.3g > %.3g\n", i, err, bound);
                double Dm = 0;
                for (int d = 0; d < HS; d++) Dm += fabsf(dO[d]) * om[d];
                dmag[((size_t)b * NH + h) * T + i] = (float)Dm;
                float *qm = dqmag + ((size_t)b * T + i) * C + (size_t)h * HS;
                for (int j = 0; j <= i; j++) {
                    const float *k = base + j * row + (size_t)(NH + g) * HS;
                    float w = P[j] * (fabsf(dp[j] - (float)D) + (float)Dm) * scale;
                    float *km = dkmag + ((size_t)b * T + j) * NKV * HS + (size_t)g * HS;
                    float *vm = dvmag + ((size_t)b * T + j) * NKV * HS + (size_t)g * HS;
                    for (int d = 0; d < HS; d++) {
                        qm[d] += w * fabsf(k[d]);
                        km[d] += w * fabsf(q[d]);
                        vm[d] += P[j] * fabsf(dO[d]);
                    }
                }
            }
        }
    }
    CHECK(lse_fails == 0, "lse: %d rows outside the bound", lse_fails);
    double rel = 1.0 / 128 + 2.0 * (T + HS) / (1 << 24);
    double wo = compare("out", s, out, out_ref, omag, rel, N, C, 0, C);
    double wq = compare("dQ", s, dqkv, dqkv_ref, dqmag, rel, N, row, 0, C);
    double wk = compare("dK", s, dqkv, dqkv_ref, dkmag, rel, N, row, C, (size_t)NKV * HS);
    double wv = compare("dV", s, dqkv, dqkv_ref, dvmag, rel, N, row, C + (size_t)NKV * HS, (size_t)NKV * HS);
    printf("  B=%d T=%d NH=%d NKV=%d HS=%d: worst err/mag out %.2e dQ %.2e dK %.2e dV %.2e (bound %.2e), lse %.2f of "
           "its bound\n", B, T, NH, NKV, HS, wo, wq, wk, wv, rel, lse_worst);
    free(qkv), free(dout), free(out_ref), free(att), free(dqkv_ref), free(out), free(lse), free(dqkv);
    free(omag), free(dqmag), free(dkmag), free(dvmag), free(dmag), free(dp);
}

// T not a multiple of the 64-row blocks nor the 32-column backward tiles; MHA,
// Llama 3 8B's 32/8 and Llama 3.2 1B-like 8/2 head groups; HS 64 and 128
static void test_small_shapes(void) {
    const Shape shapes[] = {
        {1, 77, 4, 4, 64}, {2, 190, 8, 2, 128}, {1, 129, 32, 8, 64}, {1, 64, 2, 1, 128}, {1, 1, 2, 2, 64},
    };
    for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) check_shape(&shapes[i]);
}

static void test_full_shapes(void) {
    const char *env = getenv("SCPT_FLASH_FULL");
    if (!env || strcmp(env, "1") != 0) SKIP_TEST("set SCPT_FLASH_FULL=1 for T = 1000..4096 (minutes)");
    const Shape shapes[] = {{1, 4096, 8, 2, 128}, {1, 2048, 32, 8, 64}, {1, 1000, 8, 2, 64}, {2, 1027, 4, 1, 128}};
    for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) check_shape(&shapes[i]);
}

int main(void) {
    RUN_TEST(test_fragment_layout);
    RUN_TEST(test_small_shapes);
    RUN_TEST(test_full_shapes);
    return test_summary();
}
