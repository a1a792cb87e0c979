// The roofline of one optimizer step (include/roofline.h): gpu_model_forward,
// gpu_model_backward and gpu_model_update of src/model/model_cuda.cu retold launch by
// launch, each kernel's FLOPs and HBM bytes read off its source in kernels/.
#include <math.h>
#include <string.h>
#include "roofline.h"
#include "flash_attention.h"
#include "util.h"

// NVIDIA datasheets (dense rates: the sparse figures halved). H100 SXM5 and PCIe:
// the H100 Tensor Core GPU datasheet (BF16 1,979 / 1,513 TFLOPS with sparsity, FP32
// 67 / 51, HBM3 3.35 TB/s, HBM2e 2 TB/s); H200 SXM: the H200 datasheet (the H100 SXM's
// rates, HBM3e 4.8 TB/s); A100 SXM 80GB: the A100 datasheet (BF16 312, FP32 19.5,
// HBM2e 2,039 GB/s). The flash fraction: FlashAttention-2 reaches 50-73% of the A100's
// peak forward, less backward (Dao 2023); on Hopper, where only wgmma reaches the
// peak, 35% (Shah et al. 2024, FlashAttention-3).
static const RooflineGpu GPUS[] = {
    {"h100", "H100 SXM", 989, 67, 3.35, 0.35},
    {"h100-pcie", "H100 PCIe", 756, 51, 2.0, 0.35},
    {"h200", "H200 SXM", 989, 67, 4.8, 0.35},
    {"a100", "A100 SXM 80GB", 312, 19.5, 2.039, 0.5},
};
enum { NUM_GPUS = sizeof GPUS / sizeof GPUS[0] };

const RooflineGpu *roofline_gpu(const char *name) {
    for (int i = 0; i < NUM_GPUS; i++)
        if (strcmp(GPUS[i].name, name) == 0) return &GPUS[i];
    scpt_set_error("unknown GPU '%s' (known: %s)", name, roofline_gpu_names());
    return NULL;
}

const char *roofline_gpu_names(void) {
    static char names[128];
    if (!names[0])
        for (int i = 0; i < NUM_GPUS; i++)
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? ", " : "", GPUS[i].name);
    return names;
}

RooflineCard roofline_card(const RooflineGpu *g) {
    return (RooflineCard){.bf16_tflops = g->bf16_tflops, .fp32_tflops = g->fp32_tflops, .hbm_tbs = g->hbm_tbs,
                          .compute_fraction = ROOFLINE_COMPUTE_FRACTION, .flash_fraction = g->flash_fraction,
                          .bandwidth_fraction = ROOFLINE_BANDWIDTH_FRACTION, .launch_us = ROOFLINE_LAUNCH_US};
}

int roofline_card_check(const RooflineCard *k) {
    struct { const char *what; double v, max; } v[] = {
        {"bf16 peak (TFLOP/s)", k->bf16_tflops, INFINITY}, {"fp32 peak (TFLOP/s)", k->fp32_tflops, INFINITY},
        {"HBM bandwidth (TB/s)", k->hbm_tbs, INFINITY},     {"compute fraction", k->compute_fraction, 1},
        {"flash fraction", k->flash_fraction, 1},            {"bandwidth fraction", k->bandwidth_fraction, 1},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        if (!isfinite(v[i].v) || v[i].v <= 0 || v[i].v > v[i].max) {
            scpt_set_error("roofline: the %s must be finite and in (0, %g], not %g", v[i].what, v[i].max, v[i].v);
            return -1;
        }
    }
    if (!isfinite(k->launch_us) || k->launch_us < 0) {
        scpt_set_error("roofline: the launch gap must be finite and >= 0 us, not %g", k->launch_us);
        return -1;
    }
    return 0;
}

double roofline_matmul_weights(const ModelConfig *c) {
    double L = c->n_layer, C = c->n_embd, H = c->ffn_hidden;
    return L * (C * qkv_channels(c) + C * C + C * fc_channels(c) + H * C) + (double)c->padded_vocab_size * C;
}

double roofline_causal_pairs(int T, int rows, int keys) {
    double pairs = 0;
    for (int q0 = 0; q0 < T; q0 += rows) {
        int last = q0 + rows < T ? q0 + rows : T;   // one past the block's last query
        pairs += (double)rows * keys * ((last + keys - 1) / keys);
    }
    return pairs;
}

// ---- the step as rows of launches -------------------------------------------------
typedef struct {
    Roofline *r;
    const RooflineCard *k;
    double times;   // how often the launches being added run per optimizer step
} Step;

enum { TENSOR_CUBLAS, TENSOR_FLASH, CUDA_CORES };

// `n` launches of one kernel, each doing `flops` of `unit` and moving `bytes`
static void add(Step *st, const char *name, double n, int unit, double flops, double bytes) {
    Roofline *r = st->r;
    const RooflineCard *k = st->k;
    int i = 0;
    while (i < r->n && strcmp(r->rows[i].name, name) != 0) i++;
    if (i == r->n) {
        if (r->n == ROOFLINE_MAX_ROWS) die("roofline: more than %d kernel families", ROOFLINE_MAX_ROWS);
        r->rows[r->n++] = (RooflineRow){.name = name};
    }
    RooflineRow *row = &r->rows[i];
    double rate = unit == CUDA_CORES     ? k->fp32_tflops * k->compute_fraction
                  : unit == TENSOR_FLASH ? k->bf16_tflops * k->flash_fraction
                                         : k->bf16_tflops * k->compute_fraction;
    double compute = flops / (rate * 1e12), memory = bytes / (k->hbm_tbs * k->bandwidth_fraction * 1e12);
    n *= st->times;
    row->launches += n;
    if (unit == CUDA_CORES) row->cuda_flops += n * flops;
    else row->tensor_flops += n * flops;
    row->bytes += n * bytes;
    if (compute >= memory) row->compute_s += n * compute;
    else row->memory_s += n * memory;
    row->seconds += n * (fmax(compute, memory) + k->launch_us * 1e-6);
}

enum { X = 2, F = 4, I = 4 };   // bytes of bf16, fp32, int32
// the chunks of rows the bias column sums reduce in (kernels/matmul.cu BIAS_ROWS);
// the norm backward's blocks (kernels/norm_row.cuh: up to 8 warps of one row each
// whose K x C fp32 accumulators fit in 48 KiB, at most 512 blocks)
enum { BIAS_ROWS = 256, NORM_BWD_MAX_BLOCKS = 512, NORM_BWD_SMEM = 48 * 1024 };

static double chunks(double N, int rows) { return ceil(N / rows); }

// a cudaMemsetAsync of `bytes`
static void memset_(Step *st, double bytes) { add(st, "memset", 1, CUDA_CORES, 0, bytes); }

// out[N,OC] = inp[N,C] W^T (+ bias; with gelu, pre-activation and activation both written)
static void gemm_forward(Step *st, const char *name, double N, double C, double OC, int bias, int gelu) {
    double bytes = X * (N * C + OC * C + N * OC * (gelu ? 2 : 1) + (bias ? OC : 0));
    add(st, name, 1, TENSOR_CUBLAS, 2 * N * C * OC, bytes);
}

// dinp = dout W (x gelu'(pre) with dgelu), dW += dout^T inp (fp32), dbias += colsum(dout)
static void gemm_backward(Step *st, const char *name, double N, double C, double OC, int bias, int dgelu) {
    add(st, name, 1, TENSOR_CUBLAS, 2 * N * C * OC, X * (OC * C + N * OC + N * C * (dgelu ? 2 : 1)));
    add(st, name, 1, TENSOR_CUBLAS, 2 * N * C * OC, X * (N * C + N * OC) + 2 * F * OC * C);
    if (bias) {
        double parts = chunks(N, BIAS_ROWS) * OC;
        add(st, "bias gradient", 1, CUDA_CORES, N * OC, X * N * OC + F * parts);
        add(st, "bias gradient", 1, CUDA_CORES, parts, F * parts + 2 * F * OC);
    }
}

// LayerNorm (GPT-2: mean and rstd saved, bias) or RMSNorm (rstd) of N rows of C
static void norm_forward(Step *st, const ModelConfig *c, double N) {
    double C = c->n_embd, stats = c->arch == ARCH_GPT2 ? 2 : 1;
    add(st, "norm forward", 1, CUDA_CORES, 8 * N * C, X * (2 * N * C + stats * C) + F * stats * N);
}

// out = residual + branch (bf16) and the norm of that sum in one kernel: reads the two,
// writes the sum and the norm's output (kernels/residual_norm.cu)
static void residual_norm_forward(Step *st, const ModelConfig *c, double N) {
    double C = c->n_embd, stats = c->arch == ARCH_GPT2 ? 2 : 1;
    add(st, "residual + norm forward", 1, CUDA_CORES, 9 * N * C, X * (4 * N * C + stats * C) + F * stats * N);
}

// one pass (kernels/norm_row.cuh): a warp per row reads x and dout, adds into dinp
// (read and written), and keeps the row's weight (and bias) terms in its block's
// accumulators; the blocks' K x C fp32 partials, then a small kernel sums them in order
static void norm_backward(Step *st, const ModelConfig *c, double N) {
    double C = c->n_embd, stats = c->arch == ARCH_GPT2 ? 2 : 1;
    double warps = fmin(fmax(floor(NORM_BWD_SMEM / (stats * C * F)), 1), 8);
    double parts = fmin(chunks(N, (int)warps), NORM_BWD_MAX_BLOCKS) * stats * C;
    add(st, "norm backward", 1, CUDA_CORES, (12 + 2 * stats) * N * C, X * (4 * N * C + C) + F * stats * N + F * parts);
    add(st, "norm backward", 1, CUDA_CORES, parts, F * parts + 2 * F * stats * C);
}

// GELU of N x H, or SwiGLU of N x [gate | up] into N x H
static void activation_forward(Step *st, const ModelConfig *c, double N) {
    double H = c->ffn_hidden;
    if (c->arch == ARCH_GPT2) add(st, "gelu forward", 1, CUDA_CORES, 20 * N * H, 2 * X * N * H);
    else add(st, "swiglu forward", 1, CUDA_CORES, 20 * N * H, 3 * X * N * H);
}

// both accumulate into a zeroed gradient (the memset before them)
static void activation_backward(Step *st, const ModelConfig *c, double N) {
    double H = c->ffn_hidden;
    memset_(st, X * N * fc_channels(c));
    if (c->arch == ARCH_GPT2) add(st, "gelu backward", 1, CUDA_CORES, 30 * N * H, 4 * X * N * H);
    else add(st, "swiglu backward", 1, CUDA_CORES, 30 * N * H, 7 * X * N * H);
}

// RoPE in place on the q and k heads (read and write), the tables of T positions
static void rope(Step *st, const ModelConfig *c, double N, double T) {
    double HS = head_size(c), pairs = N * (c->n_head + c->n_kv_head) * HS / 2;
    add(st, "rope", 1, CUDA_CORES, 6 * pairs, 2 * X * 2 * pairs + 2 * F * T * HS / 2);
}

// ---- attention ---------------------------------------------------------------------
typedef struct {
    double B, T, NH, NKV, HS, N;
} Heads;

static Heads heads(const ModelConfig *c, int B, int T) {
    return (Heads){B, T, c->n_head, c->n_kv_head, head_size(c), (double)B * T};
}

// bytes of q (or out, dout), of k and v together, and of lse (or D)
static double q_bytes(const Heads *h) { return X * h->N * h->NH * h->HS; }
static double kv_bytes(const Heads *h) { return X * h->N * 2 * h->NKV * h->HS; }
static double row_stats(const Heads *h) { return F * h->B * h->NH * h->T; }

// the pairs each kernel computes (whole tiles), and its FMAs per pair per head dim:
// forward 2 (S = Q K^T, O = P V); the flash backward 5 (S, dP = dO V^T, dV, dK, dQ);
// the fp32 backward's dq 3 (S, dP, dQ) and dk/dv 4 (S, dP, dV, dK)
static void attn_forward(Step *st, const Heads *h, GpuAttention kind) {
    const char *name = "attention forward";
    double heads_b = h->B * h->NH, io = 2 * q_bytes(h) + kv_bytes(h) + row_stats(h);   // q, k, v in; out, lse
    if (kind == GPU_ATTENTION_FLASH) {
        double pairs = heads_b * roofline_causal_pairs(h->T, FLASH_ROWS, FLASH_FWD_KEYS);
        add(st, name, 1, TENSOR_FLASH, 4 * h->HS * pairs, io);
    } else if (kind == GPU_ATTENTION_FP32) {   // one warp per query, key tiles of 32
        add(st, name, 1, CUDA_CORES, 4 * h->HS * heads_b * roofline_causal_pairs(h->T, 1, 32), io);
    } else {
        // per sequence and member of a head group: NKV heads' whole T x T square through
        // fp32 scores S, the softmax into bf16 P (reading the causal half), P V
        double sq = h->NKV * h->T * h->T, heads_one = h->NKV * h->T * h->HS, calls = h->B * (h->NH / h->NKV);
        add(st, name, calls, TENSOR_CUBLAS, 2 * sq * h->HS, 2 * X * heads_one + F * sq);
        add(st, name, calls, CUDA_CORES, 3 * sq, F * sq / 2 + X * sq + F * h->NKV * h->T);
        add(st, name, calls, TENSOR_CUBLAS, 2 * sq * h->HS, X * sq + 2 * X * heads_one);
    }
}

static void attn_backward(Step *st, const ModelConfig *c, const Heads *h, GpuAttention kind, int deterministic) {
    const char *name = "attention backward";
    double heads_b = h->B * h->NH;
    memset_(st, X * h->N * qkv_channels(c));   // dqkv: the kernels add into it
    // D = rowsum(dO * O)
    add(st, name, 1, CUDA_CORES, 2 * h->N * h->NH * h->HS, 2 * q_bytes(h) + row_stats(h));
    // dq: q, dO, k, v, lse, D in, dq read and written; dk/dv: the same in, dk and dv read and written
    double dq_io = 4 * q_bytes(h) + kv_bytes(h) + 2 * row_stats(h);
    double dkv_io = 2 * q_bytes(h) + 3 * kv_bytes(h) + 2 * row_stats(h);
    if (kind == GPU_ATTENTION_FLASH) {
        // blocks of FLASH_ROWS keys walk the query tiles from their diagonal down: the
        // same whole-tile count as query blocks over key tiles of FLASH_ROWS. dQ goes
        // into an fp32 accumulator (the key blocks' adds meet in L2; it reaches HBM
        // once), which a small kernel folds into dqkv; the atomic mode clears it first
        double pairs = heads_b * roofline_causal_pairs(h->T, FLASH_ROWS, FLASH_ROWS), acc = F * h->N * h->NH * h->HS;
        if (!deterministic) memset_(st, acc);
        add(st, name, 1, TENSOR_FLASH, 10 * h->HS * pairs, dkv_io + acc);
        add(st, name, 1, CUDA_CORES, 2 * h->N * h->NH * h->HS, acc + 2 * q_bytes(h));
    } else if (kind == GPU_ATTENTION_FP32) {
        double pairs = heads_b * roofline_causal_pairs(h->T, 1, 32);
        add(st, name, 1, CUDA_CORES, 6 * h->HS * pairs, dq_io);
        add(st, name, 1, CUDA_CORES, 8 * h->HS * pairs, dkv_io);
    } else {
        double sq = h->NKV * h->T * h->T, one = h->NKV * h->T * h->HS, calls = h->B * (h->NH / h->NKV);
        add(st, "memset", h->B, CUDA_CORES, 0, 2 * F * one);   // fp32 dK, dV of a sequence
        add(st, name, calls, TENSOR_CUBLAS, 2 * sq * h->HS, 2 * X * one + F * sq);   // S = Q K^T
        add(st, name, calls, TENSOR_CUBLAS, 2 * sq * h->HS, 2 * X * one + F * sq);   // dP = dO V^T
        add(st, name, calls, CUDA_CORES, 6 * sq, 2 * F * sq + 2 * X * sq + 2 * F * h->NKV * h->T);   // P, dS
        add(st, name, calls, TENSOR_CUBLAS, 2 * sq * h->HS, X * sq + X * one + 2 * F * one);    // dV += dO^T P
        add(st, name, calls, TENSOR_CUBLAS, 2 * sq * h->HS, X * sq + X * one + 2 * F * one);    // dK += Q^T dS
        add(st, name, calls, TENSOR_CUBLAS, 2 * sq * h->HS, X * sq + X * one + 2 * X * one);    // dQ += K^T dS^T
        add(st, name, 2 * h->B, CUDA_CORES, one, F * one + 2 * X * one);   // dK, dV into dqkv
    }
}

// ---- the step ----------------------------------------------------------------------
static void forward(Step *st, const ModelConfig *c, const RooflineSetup *s) {
    double N = (double)s->B * s->T, C = c->n_embd, QKV = qkv_channels(c), FC = fc_channels(c), H = c->ffn_hidden;
    double Vp = c->padded_vocab_size, L = c->n_layer, outer = st->times;
    int gpt2 = c->arch == ARCH_GPT2, fused = gpt2 && s->fuse_gelu;
    Heads h = heads(c, s->B, s->T);
    // token rows gathered, the positions' rows (T of them, from L2 after the first sequence)
    add(st, "encoder forward", 1, CUDA_CORES, gpt2 ? N * C : 0, I * N + X * (N * C + (gpt2 ? s->T * C : 0) + N * C));
    norm_forward(st, c, N);   // layer 0's ln1; later ones come with the residual before them
    st->times = outer * L;
    gemm_forward(st, "matmul qkv", N, C, QKV, gpt2, 0);
    if (!gpt2) rope(st, c, N, s->T);
    attn_forward(st, &h, s->attention);
    gemm_forward(st, "matmul attproj", N, C, C, gpt2, 0);
    residual_norm_forward(st, c, N);   // residual2 and ln2
    gemm_forward(st, "matmul fc", N, C, FC, gpt2, fused);
    if (!fused) activation_forward(st, c, N);
    gemm_forward(st, "matmul fcproj", N, H, C, gpt2, 0);
    residual_norm_forward(st, c, N);   // residual3 and the next ln1, or the final norm
    st->times = outer;
    gemm_forward(st, "matmul lm head", N, C, Vp, 0, 0);
    // the fused classifier: the row's max and sum (one read: L2 keeps the row for the
    // second), the loss, the gradient written over the logits
    add(st, "classifier", 1, CUDA_CORES, 6 * N * Vp, 2 * X * N * Vp + 2 * I * N);
    add(st, "classifier", 1, CUDA_CORES, N, F * N);   // the losses summed on the device
}

static void backward(Step *st, const ModelConfig *c, const RooflineSetup *s) {
    double N = (double)s->B * s->T, C = c->n_embd, QKV = qkv_channels(c), FC = fc_channels(c), H = c->ffn_hidden;
    double Vp = c->padded_vocab_size, L = c->n_layer, T = s->T, outer = st->times;
    int gpt2 = c->arch == ARCH_GPT2, fused = gpt2 && s->fuse_gelu;
    Heads h = heads(c, s->B, s->T);
    gemm_backward(st, "matmul lm head", N, C, Vp, 0, 0);
    memset_(st, X * N * C);   // dres
    norm_backward(st, c, N);
    st->times = outer * L;
    if (s->recompute) {
        norm_forward(st, c, N);
        activation_forward(st, c, N);
    }
    if (fused) {
        gemm_backward(st, "matmul fcproj", N, H, C, gpt2, 1);
    } else {
        gemm_backward(st, "matmul fcproj", N, H, C, gpt2, 0);
        activation_backward(st, c, N);
    }
    gemm_backward(st, "matmul fc", N, C, FC, gpt2, 0);
    norm_backward(st, c, N);
    gemm_backward(st, "matmul attproj", N, C, C, gpt2, 0);
    attn_backward(st, c, &h, s->attention, s->deterministic);
    if (!gpt2) rope(st, c, N, T);
    if (s->recompute) norm_forward(st, c, N);
    gemm_backward(st, "matmul qkv", N, C, QKV, gpt2, 0);
    norm_backward(st, c, N);
    st->times = outer;
    // positions: dwpe[t] += the B rows of t; tokens: fp32 atomics, or a radix sort of
    // the N (token, position) pairs (cub: 4 passes of 8 bits, keys and values read and
    // written each) and one warp per distinct token; either adds into at most
    // min(N, vocab) rows of dwte
    double rows = fmin(N, c->vocab_size);
    if (gpt2) add(st, "encoder backward", 1, CUDA_CORES, N * C, X * N * C + 2 * F * T * C);
    if (s->deterministic) {
        add(st, "encoder backward", 1, CUDA_CORES, 0, I * N);   // iota
        add(st, "encoder backward", 4, CUDA_CORES, 0, 4 * I * N);
        add(st, "encoder backward", 1, CUDA_CORES, N * C, 2 * I * N + X * N * C + 2 * F * rows * C);
    } else {
        add(st, "encoder backward", 1, CUDA_CORES, N * C, I * N + X * N * C + 2 * F * rows * C);
    }
}

// global norm (2 launches), the clipping factor, then AdamW in one launch over all
// tensors, each parameter reading grad, master, m, v and writing master, m, v, the
// bf16 copy; the step's statistics copied to the host
static void update(Step *st, const ModelConfig *c) {
    double P = (double)model_param_count(c);
    add(st, "global norm", 1, CUDA_CORES, 2 * P, F * P);
    add(st, "global norm", 2, CUDA_CORES, 0, 0);
    add(st, "adamw", 1, CUDA_CORES, 15 * P, (4 * F + 3 * F + X) * P);
}

int roofline_step(const ModelConfig *c, const RooflineSetup *s, const RooflineCard *card, Roofline *r) {
    memset(r, 0, sizeof *r);
    if (roofline_card_check(card) != 0) return -1;
    if (s->B < 1 || s->T < 1 || s->grad_accum < 1) {
        scpt_set_error("roofline: batch %d, sequence %d and accumulation %d must all be >= 1", s->B, s->T,
                       s->grad_accum);
        return -1;
    }
    if (model_config_check(c) != 0) return -1;
    // what the GPU path takes (gpu_model_check, which needs the CUDA build)
    if (s->T > c->max_seq_len) {
        scpt_set_error("roofline: sequence length %d exceeds the model's maximum of %d", s->T, c->max_seq_len);
        return -1;
    }
    if (head_size(c) != 64 && head_size(c) != 128) {
        scpt_set_error("roofline: head size %d: the GPU attention kernels take 64 or 128", head_size(c));
        return -1;
    }
    Step st = {r, card, 1};
    memset_(&st, F * (double)model_param_count(c));   // gpu_model_zero_grad
    st.times = s->grad_accum;
    forward(&st, c, s);
    backward(&st, c, s);
    st.times = 1;
    update(&st, c);

    for (int i = 0; i < r->n; i++) {
        const RooflineRow *row = &r->rows[i];
        r->launches += row->launches, r->tensor_flops += row->tensor_flops, r->cuda_flops += row->cuda_flops;
        r->bytes += row->bytes, r->seconds += row->seconds;
    }
    r->tokens = (double)s->B * s->T * s->grad_accum;
    r->tokens_per_s = r->tokens / r->seconds;
    r->model_flops = (6 * roofline_matmul_weights(c) + 12.0 * c->n_layer * c->n_embd * s->T) * r->tokens;
    r->mfu = r->model_flops / r->seconds / (card->bf16_tflops * 1e12);
    return 0;
}
