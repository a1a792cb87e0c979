// CPU model of kernels/flash_attention.cu (see include/flash_attention.h): the same
// blocks and tiles, the same order of accumulation, the same roundings. A row of
// the model is a row of a warp's mma fragments; rows are independent, so the model
// walks them one at a time. Each mma adds a 16-term fp32 partial sum into its
// accumulator (mma_dot); bf16 rounding happens where the kernel packs registers to
// bf16: the probabilities P before P.V, dS before dS.K and dS.Q, and the outputs.
#include <math.h>
#include <stdlib.h>
#include "flash_attention.h"
#include "util.h"

#define LOG2E 1.4426950408889634f
#define LN2 0.6931471805599453f
#define MAX_HS 128

// sum over n (a multiple of 16) of a[k*as] * b[k*bs], as consecutive m16n8k16 mmas
// add into one fp32 accumulator
static float mma_dot(const float *a, size_t as, const float *b, size_t bs, int n) {
    float acc = 0;
    for (int k0 = 0; k0 < n; k0 += FLASH_MMA_K) {
        float part = 0;
        for (int k = k0; k < k0 + FLASH_MMA_K; k++) part += a[k * as] * b[k * bs];
        acc += part;
    }
    return acc;
}

static int min_int(int a, int b) { return a < b ? a : b; }

static void check_head_size(const char *who, int HS) {
    if (HS > MAX_HS || HS % FLASH_MMA_K) die("%s: head size %d is not a multiple of 16 up to %d", who, HS, MAX_HS);
}

// ---- forward: one block = FLASH_ROWS queries of one (batch, head) ----------------
// Per key tile: scores in fp32, the row's running max m and lane-partial sums l in
// the log2 domain (exp2 of scores pre-multiplied by log2(e)/sqrt(HS)), O rescaled
// by exp2(m_old - m_new) and then added bf16(P) . V.
static void forward_row(float *o_out, float *lse_out, const float *q, const float *k, const float *v, size_t row,
                        int i, int last, int HS) {
    float scale_log2 = LOG2E / sqrtf((float)HS);
    float m = -INFINITY, l_lane[4] = {0}, o[MAX_HS] = {0}, p[FLASH_FWD_KEYS];
    for (int k0 = 0; k0 <= last; k0 += FLASH_FWD_KEYS) {
        float tile_max = -INFINITY;
        for (int jj = 0; jj < FLASH_FWD_KEYS; jj++) {
            int j = k0 + jj;
            p[jj] = j <= i ? mma_dot(q, 1, k + j * row, 1, HS) * scale_log2 : -INFINITY;
            tile_max = fmaxf(tile_max, p[jj]);
        }
        float m_new = fmaxf(m, tile_max), corr = exp2f(m - m_new);
        for (int jj = 0; jj < FLASH_FWD_KEYS; jj++) p[jj] = exp2f(p[jj] - m_new);
        // lane t of the row's quad holds columns 8n + 2t and 8n + 2t + 1
        for (int t = 0; t < 4; t++) {
            float sum = 0;
            for (int n = 0; n < FLASH_FWD_KEYS / FLASH_MMA_N; n++) {
                sum += p[8 * n + 2 * t];
                sum += p[8 * n + 2 * t + 1];
            }
            l_lane[t] = l_lane[t] * corr + sum;
        }
        for (int jj = 0; jj < FLASH_FWD_KEYS; jj++) p[jj] = flash_bf16_round(p[jj]);
        for (int d = 0; d < HS; d++) {
            o[d] *= corr;
            for (int k0k = 0; k0k < FLASH_FWD_KEYS; k0k += FLASH_MMA_K) {
                float part = 0;
                int j0 = k0 + k0k;
                // keys past i have p = 0 (the kernel reads them, zero-filled past T)
                for (int j = j0; j < j0 + FLASH_MMA_K && j <= i; j++) part += p[j - k0] * v[j * row + d];
                o[d] += part;
            }
        }
        m = m_new;
    }
    // the quad's partial sums meet by shuffles: xor 1, then xor 2
    float l = (l_lane[0] + l_lane[1]) + (l_lane[2] + l_lane[3]);
    for (int d = 0; d < HS; d++) o_out[d] = flash_bf16_round(o[d] / l);
    *lse_out = (m + log2f(l)) * LN2;
}

void flash_model_forward(float *out, float *lse, const float *qkv, int B, int T, int NH, int NKV, int HS) {
    check_head_size("flash_model_forward", HS);
    size_t row = (size_t)(NH + 2 * NKV) * HS;
    int group = NH / NKV, blocks = (T + FLASH_ROWS - 1) / FLASH_ROWS;
#pragma omp parallel for collapse(3) schedule(dynamic)
    for (int b = 0; b < B; b++) {
        for (int h = 0; h < NH; h++) {
            for (int qb = 0; qb < blocks; qb++) {
                const float *base = qkv + (size_t)b * T * row;
                int g = h / group, q0 = qb * FLASH_ROWS, last = min_int(T, q0 + FLASH_ROWS) - 1;
                for (int i = q0; i <= last; i++)
                    forward_row(out + ((size_t)b * T + i) * NH * HS + (size_t)h * HS,
                                lse + ((size_t)b * NH + h) * T + i, base + i * row + (size_t)h * HS,
                                base + (size_t)(NH + g) * HS, base + (size_t)(NH + NKV + g) * HS, row, i, last, HS);
            }
        }
    }
}

// ---- backward ---------------------------------------------------------------------
// D_i = rowsum(dO_i * O_i) first; then P is recomputed from the saved lse, dP = dO.V^T,
// dS = P (dP - D), and two passes that each own their outputs (no atomics):
// dQ = scale dS.K (block: FLASH_ROWS queries, key tiles of FLASH_BWD_COLS) and
// dV = P^T.dO, dK = scale dS^T.Q (block: FLASH_ROWS keys of one kv head; the group's
// query heads in order, query tiles of FLASH_BWD_COLS from the block's diagonal).
typedef struct {
    const float *qkv, *dout, *lse, *D;   // D[B,NH,T]
    int T, NH, NKV, HS;
    size_t row;
    float scale, scale_log2;
} BackwardArgs;

// dS of query i and key j (j <= i), with P written to *p
static float dscore(const BackwardArgs *a, int b, int h, int i, int j, float *p) {
    int g = h / (a->NH / a->NKV);
    const float *base = a->qkv + (size_t)b * a->T * a->row;
    const float *q = base + i * a->row + (size_t)h * a->HS, *k = base + j * a->row + (size_t)(a->NH + g) * a->HS;
    const float *v = base + j * a->row + (size_t)(a->NH + a->NKV + g) * a->HS;
    const float *dO = a->dout + ((size_t)b * a->T + i) * a->NH * a->HS + (size_t)h * a->HS;
    size_t bh = ((size_t)b * a->NH + h) * a->T + i;
    *p = exp2f(mma_dot(q, 1, k, 1, a->HS) * a->scale_log2 - a->lse[bh] * LOG2E);
    return *p * (mma_dot(dO, 1, v, 1, a->HS) - a->D[bh]);
}

static void backward_dq_row(float *dq_out, const BackwardArgs *a, int b, int h, int i, int last) {
    int g = h / (a->NH / a->NKV), HS = a->HS;
    const float *k = a->qkv + (size_t)b * a->T * a->row + (size_t)(a->NH + g) * HS;
    float dq[MAX_HS] = {0}, ds[FLASH_BWD_COLS], p;
    for (int k0 = 0; k0 <= last; k0 += FLASH_BWD_COLS) {
        for (int jj = 0; jj < FLASH_BWD_COLS; jj++) {
            int j = k0 + jj;
            ds[jj] = j <= i ? flash_bf16_round(dscore(a, b, h, i, j, &p)) : 0;
        }
        for (int d = 0; d < HS; d++) {
            for (int j0 = k0; j0 < k0 + FLASH_BWD_COLS; j0 += FLASH_MMA_K) {
                float part = 0;
                for (int j = j0; j < j0 + FLASH_MMA_K && j <= i; j++) part += ds[j - k0] * k[j * a->row + d];
                dq[d] += part;
            }
        }
    }
    for (int d = 0; d < HS; d++) dq_out[d] = flash_bf16_round(dq_out[d] + dq[d] * a->scale);
}

static void backward_dkv_row(float *dk_out, float *dv_out, const BackwardArgs *a, int b, int g, int j, int j0) {
    int group = a->NH / a->NKV, HS = a->HS, T = a->T;
    const float *base = a->qkv + (size_t)b * T * a->row;
    float dk[MAX_HS] = {0}, dv[MAX_HS] = {0}, p[FLASH_BWD_COLS], ds[FLASH_BWD_COLS];
    for (int h = g * group; h < (g + 1) * group; h++) {
        const float *q = base + (size_t)h * HS, *dO = a->dout + (size_t)b * T * a->NH * HS + (size_t)h * HS;
        for (int i0 = j0 / FLASH_BWD_COLS * FLASH_BWD_COLS; i0 < T; i0 += FLASH_BWD_COLS) {
            for (int ii = 0; ii < FLASH_BWD_COLS; ii++) {
                int i = i0 + ii;
                p[ii] = ds[ii] = 0;
                if (i >= j && i < T) {
                    ds[ii] = flash_bf16_round(dscore(a, b, h, i, j, &p[ii]));
                    p[ii] = flash_bf16_round(p[ii]);
                }
            }
            for (int d = 0; d < HS; d++) {
                for (int s0 = i0; s0 < i0 + FLASH_BWD_COLS; s0 += FLASH_MMA_K) {
                    float part_v = 0, part_k = 0;
                    for (int i = s0; i < s0 + FLASH_MMA_K && i < T; i++) {
                        part_v += p[i - i0] * dO[i * a->NH * HS + d];
                        part_k += ds[i - i0] * q[i * a->row + d];
                    }
                    dv[d] += part_v;
                    dk[d] += part_k;
                }
            }
        }
    }
    for (int d = 0; d < HS; d++) {
        dk_out[d] = flash_bf16_round(dk_out[d] + dk[d] * a->scale);
        dv_out[d] = flash_bf16_round(dv_out[d] + dv[d]);
    }
}

void flash_model_backward(float *dqkv, const float *dout, const float *qkv, const float *out, const float *lse, int B,
                          int T, int NH, int NKV, int HS) {
    check_head_size("flash_model_backward", HS);
    size_t row = (size_t)(NH + 2 * NKV) * HS, rows = (size_t)B * NH * T;
    float *D = xmalloc(rows * sizeof(float));
#pragma omp parallel for
    for (size_t r = 0; r < rows; r++) {   // r = (b, h, i)
        size_t i = r % T, h = r / T % NH, b = r / ((size_t)T * NH);
        const float *o = out + (b * T + i) * NH * HS + h * HS, *d = dout + (b * T + i) * NH * HS + h * HS;
        float s = 0;
        for (int c = 0; c < HS; c++) s += d[c] * o[c];
        D[r] = s;
    }
    BackwardArgs a = {qkv, dout, lse, D, T, NH, NKV, HS, row, 1 / sqrtf((float)HS), LOG2E / sqrtf((float)HS)};
    int blocks = (T + FLASH_ROWS - 1) / FLASH_ROWS;
#pragma omp parallel for collapse(3) schedule(dynamic)
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++)
            for (int qb = 0; qb < blocks; qb++) {
                int q0 = qb * FLASH_ROWS, last = min_int(T, q0 + FLASH_ROWS) - 1;
                for (int i = q0; i <= last; i++)
                    backward_dq_row(dqkv + ((size_t)b * T + i) * row + (size_t)h * HS, &a, b, h, i, last);
            }
#pragma omp parallel for collapse(3) schedule(dynamic)
    for (int b = 0; b < B; b++)
        for (int g = 0; g < NKV; g++)
            for (int kb = 0; kb < blocks; kb++) {
                int j0 = kb * FLASH_ROWS, last = min_int(T, j0 + FLASH_ROWS) - 1;
                for (int j = j0; j <= last; j++) {
                    float *dk = dqkv + ((size_t)b * T + j) * row + (size_t)(NH + g) * HS;
                    backward_dkv_row(dk, dk + (size_t)NKV * HS, &a, b, g, j, j0);
                }
            }
    free(D);
}
