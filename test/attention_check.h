// Attention results against the CPU reference (src/model/attention.c) within a
// per-element bf16 bound, for the tensor-core attention: its CPU model
// (test/test_flash_model.c) and its kernels (test/test_attention_gpu.cu).
// Include after test.h (C or CUDA C++).
//
// Tolerance, derived per element. Both sides read the same bf16 inputs; the
// reference computes in fp32 with exact probabilities. The tensor-core algorithm
// differs by:
//   (a) bf16 rounding of P before P.V and P^T.dO, and of dS before dS.K and dS^T.Q:
//       relative u = 2^-8 (bf16 keeps an 8-bit significand) on each term of those sums;
//   (b) bf16 rounding of every output: u of the output, at most u of the sum of the
//       magnitudes of its terms;
//   (c) D = rowsum(dO * O) uses its own bf16 output O, which is off by (a)+(b) for O,
//       i.e. at most 2^-7 sum_d |dO_d| Omag_d =: 2^-7 Dmag_i;
//   (d) fp32 summation (either side, in other orders; mma's internal order) and
//       exp2/log2 instead of exp/log: at most (n + HS) 2^-24 relative to the
//       magnitude for n terms.
// With the magnitudes (the same sums over absolute values)
//   Omag_id  = sum_j P_ij |v_jd|                     dVmag_jd = sum_i P_ij |dO_id|
//   dQmag_id = scale sum_j P_ij (|dP_ij - D_i| + Dmag_i) |k_jd|
//   dKmag_jd = scale sum_i P_ij (|dP_ij - D_i| + Dmag_i) |q_id|
// (dK and dV also summed over the group's query heads), every output must satisfy
//   |got - ref| <= (2^-7 + 2 (T + HS) 2^-24) mag,
// 2^-7 = (a) + (b) (or (c), whose term is the Dmag part), the rest (d) on both sides.
// lse: |got - ref| <= 2 (T + HS) 2^-24 (max_j |s_ij| + |lse_i|), no bf16 involved.
// att_check prints the worst err / mag, to show how close the bound is.
#ifndef SCPT_ATTENTION_CHECK_H
#define SCPT_ATTENTION_CHECK_H

#include <math.h>
#include <stdint.h>
#include "flash_attention.h"
#include "layers.h"
#include "rng.h"

typedef struct { int B, T, NH, NKV, HS; } AttShape;

// bf16-valued random inputs and the reference's results on them
typedef struct {
    float *qkv, *dout;               // inputs
    float *out, *att, *dqkv;         // reference forward (probabilities att[B,NH,T,T]) and backward
} AttReference;

static float *att_random_bf16(size_t n, float amp, uint64_t *rng) {
    float *x = (float *)xmalloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) x[i] = flash_bf16_round((float)((2 * rng_uniform(rng) - 1) * amp));
    return x;
}

static AttReference att_reference(const AttShape *s, uint64_t *rng) {
    int B = s->B, T = s->T, NH = s->NH, NKV = s->NKV, HS = s->HS;
    size_t row = (size_t)(NH + 2 * NKV) * HS, N = (size_t)B * T, C = (size_t)NH * HS;
    AttReference r;
    r.qkv = att_random_bf16(N * row, 1.5f, rng), r.dout = att_random_bf16(N * C, 1.0f, rng);
    // every 13th key three times larger: peaked softmax rows, as trained heads have
    for (size_t t = 0; t < N; t += 13)
        for (size_t c = C; c < C + (size_t)NKV * HS; c++) r.qkv[t * row + c] = flash_bf16_round(r.qkv[t * row + c] * 3);
    r.out = (float *)xmalloc(N * C * sizeof(float));
    r.att = (float *)xmalloc((size_t)B * NH * T * T * sizeof(float));
    r.dqkv = (float *)xcalloc(N * row, sizeof(float));
    attention_forward(r.out, r.att, r.qkv, B, T, NH, NKV, HS);
    attention_backward(r.dqkv, r.dout, r.qkv, r.att, B, T, NH, NKV, HS);
    return r;
}

static void att_reference_free(AttReference *r) {
    free(r->qkv), free(r->dout), free(r->out), free(r->att), free(r->dqkv);
}

// worst err / mag over rows of len values at off inside rows of stride; counts
// elements past rel * mag as failures
static double att_compare(const char *label, const char *what, const float *got, const float *ref, const float *mag,
                          double rel, size_t rows, size_t stride, size_t off, size_t len) {
    double worst = 0;
    int fails = 0;
    for (size_t r = 0; r < rows; r++) {
        for (size_t d = 0; d < len; d++) {
            size_t x = r * stride + off + d, m = r * len + d;
            double err = fabs((double)got[x] - ref[x]), bound = rel * mag[m];
            if (mag[m] > 0 && err / mag[m] > worst) worst = err / mag[m];
            if (!(err <= bound) && fails++ < 3)
                fprintf(stderr, "  %s %s: row %zu dim %zu: %.8g vs %.8g (bound %.3g)\n", label, what, r, d, got[x],
                        ref[x], bound);
        }
    }
    CHECK(fails == 0, "%s %s: %d elements outside the bound", label, what, fails);
    return worst;
}

// out[B,T,NH*HS], lse[B,NH,T] (NULL: not checked) and dqkv against the reference
static void att_check(const char *label, const AttShape *s, const AttReference *ref, const float *out,
                      const float *lse, const float *dqkv) {
    int B = s->B, T = s->T, NH = s->NH, NKV = s->NKV, HS = s->HS, group = NH / NKV;
    size_t row = (size_t)(NH + 2 * NKV) * HS, N = (size_t)B * T, C = (size_t)NH * HS, KV = (size_t)NKV * HS;
    float scale = 1 / sqrtf((float)HS);
    float *omag = (float *)xcalloc(N * C, sizeof(float)), *dqmag = (float *)xcalloc(N * C, sizeof(float));
    float *dkmag = (float *)xcalloc(N * KV, sizeof(float)), *dvmag = (float *)xcalloc(N * KV, sizeof(float));
    float *dp = (float *)xmalloc(T * sizeof(float));
    double lse_rel = 2.0 * (T + HS) / (1 << 24), lse_worst = 0;
    int lse_fails = 0;
    for (int b = 0; b < B; b++) {
        const float *base = ref->qkv + (size_t)b * T * row;
        for (int h = 0; h < NH; h++) {
            int g = h / group;
            for (int i = 0; i < T; i++) {
                const float *P = ref->att + (((size_t)b * NH + h) * T + i) * T, *q = base + i * row + (size_t)h * HS;
                const float *dO = ref->dout + ((size_t)b * T + i) * C + (size_t)h * HS;
                float *om = omag + ((size_t)b * T + i) * C + (size_t)h * HS;
                double sum = 0, smax = 0, D = 0;
                for (int j = 0; j <= i; j++) {
                    const float *k = base + j * row + (size_t)(NH + g) * HS, *v = k + KV;
                    double sc = 0, dpj = 0;
                    for (int d = 0; d < HS; d++) sc += (double)q[d] * k[d], dpj += (double)dO[d] * v[d];
                    sum += exp(sc * scale), smax = fmax(smax, fabs(sc * scale));
                    dp[j] = (float)dpj, D += P[j] * dpj;
                    for (int d = 0; d < HS; d++) om[d] += P[j] * fabsf(v[d]);
                }
                if (lse) {
                    double lse_ref = log(sum), err = fabs(lse[((size_t)b * NH + h) * T + i] - lse_ref);
                    double bound = lse_rel * (smax + fabs(lse_ref));
                    lse_worst = fmax(lse_worst, err / bound);
                    if (!(err <= bound) && lse_fails++ < 3)
                        fprintf(stderr, "  %s lse row %d: err %.3g > %.3g\n", label, i, err, bound);
                }
                float Dm = 0;
                for (int d = 0; d < HS; d++) Dm += fabsf(dO[d]) * om[d];
                float *qm = dqmag + ((size_t)b * T + i) * C + (size_t)h * HS;
                for (int j = 0; j <= i; j++) {
                    const float *k = base + j * row + (size_t)(NH + g) * HS;
                    float w = P[j] * (fabsf(dp[j] - (float)D) + Dm) * scale;
                    float *km = dkmag + ((size_t)b * T + j) * KV + (size_t)g * HS;
                    float *vm = dvmag + ((size_t)b * T + j) * KV + (size_t)g * HS;
                    for (int d = 0; d < HS; d++) {
                        qm[d] += w * fabsf(k[d]);
                        km[d] += w * fabsf(q[d]);
                        vm[d] += P[j] * fabsf(dO[d]);
                    }
                }
            }
        }
    }
    CHECK(lse_fails == 0, "%s lse: %d rows outside the bound", label, lse_fails);
    double rel = 1.0 / 128 + 2.0 * (T + HS) / (1 << 24);
    double wo = att_compare(label, "out", out, ref->out, omag, rel, N, C, 0, C);
    double wq = att_compare(label, "dQ", dqkv, ref->dqkv, dqmag, rel, N, row, 0, C);
    double wk = att_compare(label, "dK", dqkv, ref->dqkv, dkmag, rel, N, row, C, KV);
    double wv = att_compare(label, "dV", dqkv, ref->dqkv, dvmag, rel, N, row, C + KV, KV);
    printf("  %s B=%d T=%d NH=%d NKV=%d HS=%d: worst err/mag out %.2e dQ %.2e dK %.2e dV %.2e (bound %.2e)", label,
           B, T, NH, NKV, HS, wo, wq, wk, wv, rel);
    if (lse) printf(", lse %.2f of its bound", lse_worst);
    printf("\n");
    free(omag), free(dqmag), free(dkmag), free(dvmag), free(dp);
}

#endif
