// CPU model of kernels/flash_attention.cu (see include/flash_attention.h): the same
// blocks and tiles, the same order of accumulation, the same roundings. The forward
// walks query rows one at a time (a row of a warp's mma fragments; rows are
// independent); the backward walks the kernel's key blocks, as the dQ they share
// is summed in their order. Each mma adds a 16-term fp32 partial sum into its
// accumulator (mma_dot); bf16 rounding happens where the kernel packs registers to
// bf16: the probabilities P before P.V and P^T.dO, dS before dS.K and dS^T.Q, and
// the outputs.
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

// ---- backward: one block = FLASH_ROWS keys of one (batch, kv head) ----------------
// D_i = rowsum(dO_i * O_i) first. A block walks the group's query heads in order and
// each head's query tiles of FLASH_BWD_COLS from its diagonal on; per tile, P from
// the saved lse, dP = dO.V^T, dS = P (dP - D) once, rounded to bf16 for the three
// products: dV += bf16(P)^T.dO and dK += dS^T.Q per key row (the block's registers),
// and the block's dQ partial, dS.K over its FLASH_ROWS keys (a fresh mma
// accumulator, k-steps of 16), added into the fp32 dQ accumulator of the tile's
// rows. Key blocks add there in ascending order (the deterministic kernel's
// semaphore order), which the model gets by walking a (b, kv head)'s key blocks in
// order on one thread; dqkv += scale dQ at the end. fmaf where the kernel fuses.
typedef struct {
    const float *qkv, *dout, *lse, *D;   // D[B,NH,T]
    float *dqkv, *dq_acc;                // dq_acc[B,NH,T,HS]
    int T, NH, NKV, HS;
    size_t row;
    float scale_log2;
} BackwardArgs;

// P and dS of one query tile against the block's keys, [query][key], 0 where masked
static void block_scores(const BackwardArgs *a, int b, int h, int i0, int j0, float (*p)[FLASH_ROWS],
                         float (*ds)[FLASH_ROWS]) {
    int g = h / (a->NH / a->NKV), HS = a->HS, T = a->T;
    const float *base = a->qkv + (size_t)b * T * a->row;
    for (int ii = 0; ii < FLASH_BWD_COLS; ii++) {
        int i = i0 + ii;
        for (int jj = 0; jj < FLASH_ROWS; jj++) p[ii][jj] = ds[ii][jj] = 0;
        if (i >= T) continue;   // queries past T: zero-filled rows in the kernel
        const float *q = base + i * a->row + (size_t)h * HS;
        const float *dO = a->dout + ((size_t)b * T + i) * a->NH * HS + (size_t)h * HS;
        size_t bh = ((size_t)b * a->NH + h) * T + i;
        for (int jj = 0; jj < FLASH_ROWS; jj++) {
            int j = j0 + jj;
            if (j > i) continue;
            const float *k = base + j * a->row + (size_t)(a->NH + g) * HS, *v = k + (size_t)a->NKV * HS;
            float pij = exp2f(mma_dot(k, 1, q, 1, HS) * a->scale_log2 - a->lse[bh] * LOG2E);
            ds[ii][jj] = flash_bf16_round(pij * (mma_dot(v, 1, dO, 1, HS) - a->D[bh]));
            p[ii][jj] = flash_bf16_round(pij);
        }
    }
}

static void backward_block(const BackwardArgs *a, int b, int g, int kb) {
    int group = a->NH / a->NKV, HS = a->HS, T = a->T, j0 = kb * FLASH_ROWS, rows = min_int(FLASH_ROWS, T - j0);
    const float *base = a->qkv + (size_t)b * T * a->row, *k = base + (size_t)(a->NH + g) * HS;
    float(*dk)[MAX_HS] = xcalloc(FLASH_ROWS, sizeof *dk), (*dv)[MAX_HS] = xcalloc(FLASH_ROWS, sizeof *dv);
    float p[FLASH_BWD_COLS][FLASH_ROWS], ds[FLASH_BWD_COLS][FLASH_ROWS];
    for (int h = g * group; h < (g + 1) * group; h++) {
        const float *q = base + (size_t)h * HS, *dO = a->dout + (size_t)b * T * a->NH * HS + (size_t)h * HS;
        for (int i0 = j0; i0 < T; i0 += FLASH_BWD_COLS) {
            block_scores(a, b, h, i0, j0, p, ds);
            int qn = min_int(FLASH_BWD_COLS, T - i0);
            for (int jj = 0; jj < rows; jj++) {
                for (int d = 0; d < HS; d++) {
                    for (int s0 = 0; s0 < qn; s0 += FLASH_MMA_K) {   // k-steps over the tile's queries
                        float part_v = 0, part_k = 0;
                        for (int ii = s0; ii < s0 + FLASH_MMA_K && ii < qn; ii++) {
                            part_v += p[ii][jj] * dO[(size_t)(i0 + ii) * a->NH * HS + d];
                            part_k += ds[ii][jj] * q[(i0 + ii) * a->row + d];
                        }
                        dv[jj][d] += part_v;
                        dk[jj][d] += part_k;
                    }
                }
            }
            for (int ii = 0; ii < qn; ii++) {
                float *acc = a->dq_acc + (((size_t)b * a->NH + h) * T + i0 + ii) * HS;
                for (int d = 0; d < HS; d++) {
                    float part_q = 0;   // the block's mma accumulator, from zero
                    for (int s0 = 0; s0 < rows; s0 += FLASH_MMA_K) {   // k-steps over the block's keys
                        float part = 0;
                        for (int jj = s0; jj < s0 + FLASH_MMA_K && jj < rows; jj++)
                            part += ds[ii][jj] * k[(j0 + jj) * a->row + d];
                        part_q += part;
                    }
                    acc[d] += part_q;
                }
            }
        }
    }
    float scale = 1 / sqrtf((float)HS);
    for (int jj = 0; jj < rows; jj++) {
        float *dkd = a->dqkv + ((size_t)b * T + j0 + jj) * a->row + (size_t)(a->NH + g) * HS;
        float *dvd = dkd + (size_t)a->NKV * HS;
        for (int d = 0; d < HS; d++) {
            dkd[d] = flash_bf16_round(fmaf(dk[jj][d], scale, dkd[d]));
            dvd[d] = flash_bf16_round(dvd[d] + dv[jj][d]);
        }
    }
    free(dk), free(dv);
}

void flash_model_backward(float *dqkv, const float *dout, const float *qkv, const float *out, const float *lse, int B,
                          int T, int NH, int NKV, int HS) {
    check_head_size("flash_model_backward", HS);
    size_t row = (size_t)(NH + 2 * NKV) * HS, rows = (size_t)B * NH * T;
    float *D = xmalloc(rows * sizeof(float)), *dq_acc = xcalloc(rows * HS, sizeof(float));
#pragma omp parallel for
    for (size_t r = 0; r < rows; r++) {   // r = (b, h, i)
        size_t i = r % T, h = r / T % NH, b = r / ((size_t)T * NH);
        const float *o = out + (b * T + i) * NH * HS + h * HS, *d = dout + (b * T + i) * NH * HS + h * HS;
        float s = 0;
        for (int c = 0; c < HS; c++) s += d[c] * o[c];
        D[r] = s;
    }
    BackwardArgs a = {qkv, dout, lse, D, dqkv, dq_acc, T, NH, NKV, HS, row, LOG2E / sqrtf((float)HS)};
    int blocks = (T + FLASH_ROWS - 1) / FLASH_ROWS;
    // a (b, kv head) on one thread: its key blocks add into dq_acc in ascending order
#pragma omp parallel for collapse(2) schedule(dynamic)
    for (int b = 0; b < B; b++)
        for (int g = 0; g < NKV; g++)
            for (int kb = 0; kb < blocks; kb++) backward_block(&a, b, g, kb);
    float scale = 1 / sqrtf((float)HS);
#pragma omp parallel for
    for (size_t r = 0; r < rows; r++) {   // r = (b, h, i)
        size_t i = r % T, h = r / T % NH, b = r / ((size_t)T * NH);
        float *dq = dqkv + (b * T + i) * row + h * HS;
        for (int d = 0; d < HS; d++) dq[d] = flash_bf16_round(fmaf(dq_acc[r * HS + d], scale, dq[d]));
    }
    free(D), free(dq_acc);
}
