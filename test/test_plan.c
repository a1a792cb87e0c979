// The scaling plan's formulas on a case computed by hand, the parameter count
// against the model's own layout and against Llama 3 8B's published count.
#include "plan.h"
#include "test.h"

// Llama layout, vocab 128, C 8, 1 layer, 2 query heads on 1 kv head (head size 4),
// SwiGLU hidden 16, untied head. By hand: wte 128*8 = 1024, ln1 8, qkv (2+2)*4*8 = 128,
// attproj 64, ln2 8, fc 2*16*8 = 256, fcproj 8*16 = 128, lnf 8, head 1024: 2648.
static ModelConfig small(void) {
    return (ModelConfig){.arch = ARCH_LLAMA, .vocab_size = 128, .padded_vocab_size = 128, .max_seq_len = 16,
                         .n_layer = 1, .n_head = 2, .n_kv_head = 1, .n_embd = 8, .ffn_hidden = 16,
                         .tied_embeddings = 0, .norm_eps = 1e-5f, .rope_theta = 10000};
}

// 2 nodes x 2 GPUs (N = 4), micro-batch 2 x 3 tokens; 1000 B/s NVLink, 100 B/s
// InfiniBand, 1 MFLOP/s at 50% MFU, 30000 bytes of memory
static PlanSetup small_setup(int grad_accum) {
    return (PlanSetup){.gpus_per_node = 2, .nodes = 2, .micro_batch = 2, .seq_len = 3, .grad_accum = grad_accum,
                       .gpu_mem_gib = 30000.0 / (1 << 30), .peak_tflops = 1e-6, .mfu = 0.5, .nvlink_gbs = 1e-6,
                       .ib_gbs = 1e-7};
}

static void test_param_count(void) {
    ModelConfig c = small();
    CHECK(plan_param_count(&c) == 2648, "small model: %zu", plan_param_count(&c));
    CHECK(model_preset(&c, "llama3-8b") == 0 && plan_param_count(&c) == 8030261248u, "llama3-8b: %zu",
          plan_param_count(&c));
    // the same count as the model's own layout, both families
    const char *names[] = {"tiny-gpt2", "tiny-llama", "gpt2-demo"};
    for (int i = 0; i < 3; i++) {
        Model m;
        model_preset(&c, names[i]);
        model_create(&m, &c);
        CHECK(plan_param_count(&c) == m.num_params, "%s: %zu vs %zu", names[i], plan_param_count(&c), m.num_params);
        model_free(&m);
    }
}

static void test_activations(void) {
    ModelConfig c = small();
    // per token: layer 8*8 + 16 + 32 + 16 + 4 = 132; outside 2*8 + 2 + 2*128 + 1 = 275;
    // 6 tokens, 2 bytes: 2*6*(132 + 275) = 4884; recomputation keeps C + one layer: 2*6*(140 + 275) = 4980
    CHECK_NEAR(plan_activation_bytes(&c, 2, 3, 0), 4884, 0, "without recomputation");
    CHECK_NEAR(plan_activation_bytes(&c, 2, 3, 1), 4980, 0, "with recomputation");
    // forward 2*2648 + 4*1*8*3 = 5392 per token, training 3x, recomputation 4x
    CHECK_NEAR(plan_flops_per_token(&c, 3, 0), 16176, 0, "flops per token");
    CHECK_NEAR(plan_flops_per_token(&c, 3, 1), 21568, 0, "flops per token, recomputation");
}

static void test_zero_stages(void) {
    ModelConfig c = small();
    PlanSetup s = small_setup(1);
    PlanResult r[4];
    for (int z = 0; z < 4; z++) plan_zero(&c, &s, z, &r[z]);
    // ZeRO-0: 2P + 2P + 4P + 8P + acts = 5296 + 5296 + 10592 + 21184 + 4884
    CHECK_NEAR(r[0].total, 47252, 0, "ZeRO-0 memory");
    CHECK(!r[0].fits, "ZeRO-0 does not fit 30000 bytes");
    // ZeRO-1: master and moments over 4: 5296 + 5296 + 2648 + 5296 + 4884
    CHECK_NEAR(r[1].total, 23420, 0, "ZeRO-1 memory");
    CHECK(r[1].fits, "ZeRO-1 fits 30000 bytes");
    CHECK_NEAR(r[2].grads, 1324, 0, "ZeRO-2 shards grads");
    CHECK_NEAR(r[3].weights, 1324, 0, "ZeRO-3 shards weights");
    // ring: 3/4 * 2 bytes * 2648 = 3972 per reduce-scatter or all-gather
    CHECK_NEAR(r[0].comm_bytes, 7944, 0, "ZeRO-0 all-reduce");
    CHECK_NEAR(r[1].comm_bytes, 7944, 0, "ZeRO-1 reduce-scatter + all-gather");
    CHECK_NEAR(r[3].comm_bytes, 11916, 0, "ZeRO-3: 3 rings");
    // NVLink 7944 B / 1000 B/s; InfiniBand 7944 / 2 rails / 100 B/s, the slower
    CHECK_NEAR(r[1].comm_nvlink_s, 7.944, 1e-9, "NVLink time");
    CHECK_NEAR(r[1].comm_ib_s, 39.72, 1e-9, "InfiniBand time");
    CHECK_NEAR(r[1].comm_s, 39.72, 1e-9, "communication time");
    // 24 tokens per step over 4 GPUs, 16176 FLOP each: 97056 FLOP per GPU at 0.5 MFLOP/s
    CHECK_NEAR(r[1].tokens_per_step, 24, 0, "tokens per step");
    CHECK_NEAR(r[1].compute_s, 0.194112, 1e-9, "compute time");
    CHECK_NEAR(r[1].step_overlap_s, 39.72, 1e-9, "overlapped step");
    CHECK_NEAR(r[1].step_serial_s, 39.914112, 1e-9, "serial step");
    // with 2 micro-batches: ZeRO-1 still once per step, ZeRO-2 scatters each, ZeRO-3 all of it each
    s = small_setup(2);
    for (int z = 1; z < 4; z++) plan_zero(&c, &s, z, &r[z]);
    CHECK_NEAR(r[1].comm_bytes, 7944, 0, "ZeRO-1, accumulation");
    CHECK_NEAR(r[2].comm_bytes, 11916, 0, "ZeRO-2, accumulation");
    CHECK_NEAR(r[3].comm_bytes, 23832, 0, "ZeRO-3, accumulation");
}

int main(void) {
    RUN_TEST(test_param_count);
    RUN_TEST(test_activations);
    RUN_TEST(test_zero_stages);
    return test_summary();
}
