// The roofline of a GPU training step (include/roofline.h): its FLOPs against the
// counts the model's shapes give (PaLM's 6 per matmul weight per token, the causal
// attention pairs), a tiny step's kernels worked out by hand, and how it scales.
#include <math.h>
#include <string.h>
#include "roofline.h"
#include "test.h"

// relative tolerance of sums of exact integers held in doubles (< 2^53): only the
// order of the additions differs
#define REL 1e-12

static const RooflineRow *row(const Roofline *r, const char *name) {
    for (int i = 0; i < r->n; i++)
        if (strcmp(r->rows[i].name, name) == 0) return &r->rows[i];
    return NULL;
}

// tensor-core + CUDA-core FLOPs of the rows whose name starts with `prefix`
static double flops(const Roofline *r, const char *prefix) {
    double f = 0;
    for (int i = 0; i < r->n; i++)
        if (strncmp(r->rows[i].name, prefix, strlen(prefix)) == 0) f += r->rows[i].tensor_flops + r->rows[i].cuda_flops;
    return f;
}

static RooflineCard h100(void) { return roofline_card(roofline_gpu("h100")); }

static Roofline step(const char *preset, RooflineSetup s) {
    ModelConfig c;
    RooflineCard k = h100();
    Roofline r;
    int ok = model_preset(&c, preset) == 0 && roofline_step(&c, &s, &k, &r) == 0;
    CHECK(ok, "%s: %s", preset, scpt_error());
    return r;
}

// the matmul weights the model's own layout holds: qkv, attproj, fc, fcproj and the head
static double layout_weights(const ModelConfig *c) {
    Model m;
    model_create(&m, c);
    double w = 0;
    int mats[] = {P_QKVW, P_ATTPROJW, P_FCW, P_FCPROJW, c->tied_embeddings ? P_WTE : P_LMHEAD};
    for (int i = 0; i < 5; i++) w += m.tensors[mats[i]].size;
    model_free(&m);
    return w;
}

static void test_matmul_flops(void) {
    ModelConfig c;
    // GPT-2 124M by hand: 12 x (768 x 2304 + 768^2 + 2 x 768 x 3072) + 50304 x 768
    model_preset(&c, "gpt2-124m");
    CHECK_NEAR(roofline_matmul_weights(&c), 123568128.0, 0, "gpt2-124m matmul weights");
    // against the layout of small presets of both families (tied and untied heads, GQA)
    const char *small[] = {"tiny-gpt2", "tiny-llama", "gpt2-demo", "llama3-demo"};
    for (int i = 0; i < 4; i++) {
        model_preset(&c, small[i]);
        CHECK_NEAR(roofline_matmul_weights(&c), layout_weights(&c), 0, small[i]);
    }
    const char *presets[] = {"gpt2-124m", "llama3.2-1b", "llama3-8b", "tiny-llama-hs64"};
    for (int i = 0; i < 4; i++) {
        model_preset(&c, presets[i]);
        // recomputation rebuilds norms and activations, never a matmul; accumulation repeats them
        for (int recompute = 0; recompute <= 1; recompute++) {
            RooflineSetup s = {.B = 2, .T = 64, .grad_accum = 3, .recompute = recompute, .fuse_gelu = 1};
            Roofline r = step(presets[i], s);
            double want = 6 * roofline_matmul_weights(&c) * 2 * 64 * 3;
            CHECK(fabs(flops(&r, "matmul") - want) <= REL * want, "%s recompute %d: %.6g vs 6 x weights x tokens %.6g",
                  presets[i], recompute, flops(&r, "matmul"), want);
            CHECK_NEAR(r.tokens, 384, 0, "tokens per step");
        }
    }
}

static void test_causal_pairs(void) {
    // one query per block, one key per tile: every pair j <= i once, T (T + 1) / 2
    CHECK_NEAR(roofline_causal_pairs(1000, 1, 1), 500500, 0, "exact causal count");
    // T = 100 in 64 x 64 tiles: block 0 one tile (4096 pairs), block 1 (queries 64..127,
    // the last 28 padding) two tiles (8192)
    CHECK_NEAR(roofline_causal_pairs(100, 64, 64), 12288, 0, "T = 100, tiles of 64");
    // 64 x 32 tiles: block 0 two tiles of 32 keys (4096), block 1 keys 0..99 in four (8192)
    CHECK_NEAR(roofline_causal_pairs(100, 64, 32), 12288, 0, "T = 100, 64 x 32 tiles");
    // for T a multiple of the block, the diagonal blocks are computed whole: T (T + 64) / 2,
    // the causal half of the square plus T x 32
    CHECK_NEAR(roofline_causal_pairs(2048, 64, 64), 2048.0 * 2112 / 2, 0, "T = 2048");
    CHECK_NEAR(roofline_causal_pairs(8192, 64, 32) / (8192.0 * 8192 / 2), 1 + 64 / 8192.0, 1e-12,
               "T = 8192: the causal half and 1/128 more");
}

static void test_attention_flops(void) {
    ModelConfig c;
    model_preset(&c, "llama3.2-1b");   // 16 layers, 32 query heads of 64
    RooflineSetup s = {.B = 2, .T = 1024, .grad_accum = 1, .fuse_gelu = 1};
    double per_fma = 2.0 * 64 * 32 * 2 * 16;   // FLOPs per FMA x HS x heads x B x layers
    Roofline r = step("llama3.2-1b", s);
    double tiled = 1024.0 * 1088 / 2;        // T (T + 64) / 2
    // flash: forward 2 FMAs per pair per head dim, backward 5 (S, dP, dV, dK, dQ) on
    // tensor cores; on CUDA cores beside them the backward's rowdot D = rowsum(dO O)
    // and the fold of the fp32 dQ into dqkv (one FMA per element): 2 FLOPs each
    CHECK_NEAR(row(&r, "attention forward")->tensor_flops, 2 * per_fma * tiled, REL * per_fma * tiled, "flash forward");
    CHECK_NEAR(row(&r, "attention backward")->tensor_flops, 5 * per_fma * tiled, REL * per_fma * tiled,
               "flash backward");
    CHECK_NEAR(row(&r, "attention backward")->cuda_flops, 2 * 2.0 * 2 * 1024 * 32 * 64 * 16, 0, "rowdot and dQ fold");
    // the fp32 kernels: one query per warp row over key tiles of 32, on CUDA cores
    s.attention = GPU_ATTENTION_FP32;
    r = step("llama3.2-1b", s);
    double rows32 = 1024.0 * 1056 / 2;       // T (T + 32) / 2
    CHECK_NEAR(row(&r, "attention forward")->cuda_flops, 2 * per_fma * rows32, REL * per_fma * rows32, "fp32 forward");
    CHECK(row(&r, "attention forward")->tensor_flops == 0, "fp32 attention uses no tensor cores");
    // cuBLAS: the whole T x T square, 2 GEMMs forward, 5 backward
    s.attention = GPU_ATTENTION_CUBLAS;
    r = step("llama3.2-1b", s);
    double square = 1024.0 * 1024;
    CHECK_NEAR(row(&r, "attention forward")->tensor_flops, 2 * per_fma * square, REL * per_fma * square,
               "cublas forward");
    CHECK_NEAR(row(&r, "attention backward")->tensor_flops, 5 * per_fma * square, REL * per_fma * square,
               "cublas backward");
}

// Llama layout, vocab 128, C 64, 1 layer, 1 query head on 1 kv head (head size 64),
// SwiGLU hidden 128, untied head; B = 2, T = 64 (N = 128). A card of 1 bf16
// TFLOP/s, 10 fp32 TFLOP/s, 1 TB/s, every fraction 1 and no launch gap: a kernel
// takes max(FLOPs / 1e12 or / 1e13, bytes / 1e12) seconds.
static void test_tiny_by_hand(void) {
    ModelConfig c = {.arch = ARCH_LLAMA, .vocab_size = 128, .padded_vocab_size = 128, .max_seq_len = 64,
                     .n_layer = 1, .n_head = 1, .n_kv_head = 1, .n_embd = 64, .ffn_hidden = 128,
                     .tied_embeddings = 0, .norm_eps = 1e-5f, .rope_theta = 10000};
    RooflineCard k = {.bf16_tflops = 1, .fp32_tflops = 10, .hbm_tbs = 1, .compute_fraction = 1,
                      .flash_fraction = 1, .bandwidth_fraction = 1, .launch_us = 0};
    RooflineSetup s = {.B = 2, .T = 64, .grad_accum = 1, .fuse_gelu = 1, .deterministic = 1};
    Roofline r;
    CHECK(roofline_step(&c, &s, &k, &r) == 0, "%s", scpt_error());
    // qkv matmul, OC = 3 x 64 = 192: each of forward, dinp, dweight 2 x 128 x 64 x 192 =
    // 3145728 FLOP. Bytes: forward reads inp 128x64 and W 192x64, writes 128x192, bf16:
    // 2 x 45056 = 90112; dinp reads W, dout and writes dinp: 90112; dweight reads inp and
    // dout (2 x 32768) and reads and writes the fp32 gradient (8 x 12288): 163840.
    // Compute-bound at 1 TFLOP/s: 3 x 3.145728 us.
    const RooflineRow *qkv = row(&r, "matmul qkv");
    CHECK(qkv != NULL, "a qkv row");
    CHECK_NEAR(qkv->launches, 3, 0, "qkv launches");
    CHECK_NEAR(qkv->tensor_flops, 9437184, 0, "qkv FLOPs");
    CHECK_NEAR(qkv->bytes, 344064, 0, "qkv bytes");
    CHECK_NEAR(qkv->seconds, 9.437184e-6, 1e-15, "qkv time");
    CHECK(qkv->memory_s == 0, "qkv compute-bound");
    // RMSNorm forward of ln1 in layer 0 alone: reads 128x64 and the weight, writes
    // 128x64 bf16, rstd 128 fp32: 2 x (16384 + 64) + 512 = 33408 bytes, 33.408 ns; 8 x
    // 8192 FLOP at 10 TFLOP/s is 6.6 ns: memory-bound. ln2 and the final norm come with
    // the residual before them: reads two 128x64, writes the sum and the norm, 4 x 16384
    // + 128 + 512 = 66176 bytes each
    const RooflineRow *norm = row(&r, "norm forward"), *fused = row(&r, "residual + norm forward");
    CHECK_NEAR(norm->launches, 1, 0, "norm launches");
    CHECK_NEAR(norm->bytes, 33408, 0, "norm bytes");
    CHECK_NEAR(norm->seconds, 33.408e-9, 1e-18, "norm time");
    CHECK(norm->compute_s == 0, "norm memory-bound");
    CHECK_NEAR(fused->launches, 2, 0, "residual + norm launches");
    CHECK_NEAR(fused->bytes, 2 * 66176, 0, "residual + norm bytes");
    // classifier: logits 128 x 128 bf16 read and written (65536), targets and losses
    // (1024); the loss sum reads the 128 losses (512): 67.072 ns
    CHECK_NEAR(row(&r, "classifier")->bytes, 67072, 0, "classifier bytes");
    CHECK_NEAR(row(&r, "classifier")->seconds, 67.072e-9, 1e-18, "classifier time");
    // AdamW: 57536 parameters (wte 8192, ln1 64, qkv 12288, attproj 4096, ln2 64, fc
    // 16384, fcproj 8192, lnf 64, head 8192) in one launch, 30 bytes each
    CHECK_NEAR(row(&r, "adamw")->launches, 1, 0, "adamw launches");
    CHECK_NEAR(row(&r, "adamw")->bytes, 30.0 * 57536, 1e-6, "adamw bytes");
    // the launch gap adds launches x gap, nothing else
    Roofline gap;
    k.launch_us = 1;
    CHECK(roofline_step(&c, &s, &k, &gap) == 0, "%s", scpt_error());
    CHECK_NEAR(gap.seconds - r.seconds, r.launches * 1e-6, 1e-15, "launch gaps");
    // the rows add up to the step; MFU is PaLM's count over the time at the bf16 peak
    double sum = 0;
    for (int i = 0; i < r.n; i++) sum += r.rows[i].seconds;
    CHECK_NEAR(sum, r.seconds, 1e-15, "rows sum to the step");
    double per_token = 6 * roofline_matmul_weights(&c) + 12.0 * 64 * 64;
    CHECK_NEAR(r.model_flops, per_token * 128, 1e-6, "model FLOPs");
    CHECK_NEAR(r.mfu, r.model_flops / r.seconds / 1e12, 1e-12, "MFU");
}

static void test_scaling(void) {
    RooflineSetup s = {.B = 16, .T = 1024, .grad_accum = 1, .fuse_gelu = 1, .deterministic = 1};
    Roofline one = step("gpt2-124m", s);
    s.B = 32;
    Roofline two = step("gpt2-124m", s);
    // every tensor-core FLOP is per token: doubling B doubles them exactly; the time
    // grows, less than twice (the optimizer's work is per parameter)
    CHECK_NEAR(two.tensor_flops, 2 * one.tensor_flops, REL * two.tensor_flops, "tensor FLOPs double with B");
    const RooflineRow *fc1 = row(&one, "matmul fc"), *fc2 = row(&two, "matmul fc");
    double gap = ROOFLINE_LAUNCH_US * 1e-6 * fc1->launches;   // the same launches
    CHECK_NEAR(fc2->seconds - gap, 2 * (fc1->seconds - gap), REL * fc2->seconds,
               "a compute-bound matmul's time doubles, its launch gaps do not");
    CHECK(two.seconds > one.seconds && two.seconds < 2 * one.seconds, "step %.4g s -> %.4g s", one.seconds,
          two.seconds);
    CHECK_NEAR(row(&two, "adamw")->seconds, row(&one, "adamw")->seconds, 0, "the update does not depend on B");
    // accumulation: the same tokens as B = 32 in two micro-batches of 16, one update
    s.B = 16, s.grad_accum = 2;
    Roofline acc = step("gpt2-124m", s);
    CHECK_NEAR(acc.tensor_flops, two.tensor_flops, REL * two.tensor_flops, "accumulation: same FLOPs");
    CHECK(acc.seconds > two.seconds, "accumulation: more launches, %.4g s vs %.4g s", acc.seconds, two.seconds);
    // recomputation adds norm and activation launches, never tensor work
    s.grad_accum = 1, s.recompute = 1;
    Roofline rc = step("llama3.2-1b", s);
    s.recompute = 0;
    Roofline plain = step("llama3.2-1b", s);
    CHECK_NEAR(rc.tensor_flops, plain.tensor_flops, 0, "recompute: same tensor FLOPs");
    CHECK(rc.seconds > plain.seconds && rc.bytes > plain.bytes, "recompute costs memory traffic");
    // a faster HBM shortens only memory-bound time
    ModelConfig c;
    model_preset(&c, "gpt2-124m");
    RooflineCard k = h100();
    Roofline fast;
    k.hbm_tbs *= 2;
    s.B = 16;
    CHECK(roofline_step(&c, &s, &k, &fast) == 0, "%s", scpt_error());
    CHECK(fast.seconds < one.seconds, "2x HBM: %.4g s vs %.4g s", fast.seconds, one.seconds);
    CHECK_NEAR(row(&fast, "matmul fc")->seconds, row(&one, "matmul fc")->seconds, 0, "compute-bound unchanged");
}

static void test_cards_and_errors(void) {
    const RooflineGpu *g = roofline_gpu("h200");
    CHECK(g && g->bf16_tflops == 989 && g->hbm_tbs == 4.8, "h200 datasheet figures");
    CHECK(roofline_gpu("b200") == NULL && strstr(scpt_error(), "h100-pcie"), "unknown GPU: %s", scpt_error());
    ModelConfig c;
    model_preset(&c, "gpt2-124m");
    RooflineSetup s = {.B = 4, .T = 1024, .grad_accum = 1};
    Roofline r;
    RooflineCard k = h100();
    k.hbm_tbs = NAN;
    CHECK(roofline_step(&c, &s, &k, &r) != 0 && strstr(scpt_error(), "HBM"), "NaN bandwidth: %s", scpt_error());
    k = h100(), k.bf16_tflops = -1;
    CHECK(roofline_step(&c, &s, &k, &r) != 0, "negative peak");
    k = h100(), k.compute_fraction = 1.5;
    CHECK(roofline_step(&c, &s, &k, &r) != 0, "fraction above 1");
    k = h100(), k.launch_us = -1;
    CHECK(roofline_step(&c, &s, &k, &r) != 0, "negative launch gap");
    k = h100(), s.B = 0;
    CHECK(roofline_step(&c, &s, &k, &r) != 0, "batch 0");
    s.B = 4, s.T = 2048;
    CHECK(roofline_step(&c, &s, &k, &r) != 0 && strstr(scpt_error(), "1024"), "T past the model's: %s",
          scpt_error());
    model_preset(&c, "tiny-gpt2");   // head size 8
    s.T = 16;
    CHECK(roofline_step(&c, &s, &k, &r) != 0 && strstr(scpt_error(), "head size"), "head size 8: %s", scpt_error());
}

int main(void) {
    RUN_TEST(test_matmul_flops);
    RUN_TEST(test_causal_pairs);
    RUN_TEST(test_attention_flops);
    RUN_TEST(test_tiny_by_hand);
    RUN_TEST(test_scaling);
    RUN_TEST(test_cards_and_errors);
    return test_summary();
}
