// AdamW, gradient clipping, the LR schedule and weight-decay selection against
// values worked out by hand.
#include "optim.h"
#include "test.h"

// One parameter p = 1 with gradients 0.5, -0.25, 0.125; lr 0.1, betas (0.9, 0.999),
// eps 1e-8, weight decay 0.01. Step 1: m = 0.05, v = 0.00025, mhat = 0.5, vhat = 0.25,
// p = 1 - 0.1 * (0.5 / (0.5 + 1e-8) + 0.01 * 1) = 0.899000002.
// Step 2: m = 0.02, v = 0.00031225, mhat = 0.02 / 0.19, vhat = 0.00031225 / 0.001999,
// p = 0.8714672987. Step 3: p = 0.8365529176. Tolerance 1e-6: float arithmetic on
// values of order 1 over three steps.
static void test_adamw_by_hand(void) {
    real p = 1, m = 0, v = 0;
    const real grads[3] = {0.5f, -0.25f, 0.125f};
    const double expect[3] = {0.899000002, 0.8714672987058464, 0.8365529176159483};
    for (int t = 1; t <= 3; t++) {
        adamw_update(&p, &grads[t - 1], &m, &v, 1, 0.1f, 0.9f, 0.999f, 1e-8f, 0.01f, t);
        CHECK_NEAR(p, expect[t - 1], 1e-6, "parameter after the step");
    }
    CHECK_NEAR(m, 0.0305, 1e-7, "first moment after 3 steps");
    // 0.999f is not exact in float: 1 - 0.999f is 0.001 * (1 + 4.7e-5), hence 1e-8 here
    CHECK_NEAR(v, 0.00032756275, 1e-8, "second moment after 3 steps");
}

static void test_clipping(void) {
    real g[4] = {3, 0, 4, 0};
    float norm = clip_gradients(g, 4, 0);
    CHECK_NEAR(norm, 5, 1e-6, "norm of (3, 0, 4, 0)");
    CHECK(g[0] == 3 && g[2] == 4, "clip 0 must leave gradients alone");
    norm = clip_gradients(g, 4, 1);
    CHECK_NEAR(norm, 5, 1e-6, "norm reported before clipping");
    CHECK_NEAR(g[0], 0.6, 1e-6, "clipped x");
    CHECK_NEAR(g[2], 0.8, 1e-6, "clipped z");
    real h[2] = {0.3f, 0.4f};
    clip_gradients(h, 2, 1);
    CHECK(h[0] == 0.3f && h[1] == 0.4f, "a norm under the limit is not scaled");
    // a long vector spans several of sum_squares' chunks: 200000 ones have norm sqrt(200000)
    real *ones = malloc(200000 * sizeof(real));
    for (int i = 0; i < 200000; i++) ones[i] = 1;
    CHECK_NEAR(clip_gradients(ones, 200000, 0), sqrt(200000.0), 1e-2, "norm of 200000 ones");
    free(ones);
}

// peak 1, floor 0.1, 10 warmup steps, 110 in all: decay runs over steps 10..110
static void test_schedule(void) {
    LRSchedule s = {SCHEDULE_COSINE, 1.0f, 0.1f, 10, 110};
    CHECK_NEAR(lr_at(&s, 0), 0.1, 1e-7, "warmup step 0 is lr/10");
    CHECK_NEAR(lr_at(&s, 4), 0.5, 1e-7, "warmup step 4");
    CHECK_NEAR(lr_at(&s, 10), 1.0, 1e-7, "end of warmup is the peak");
    CHECK_NEAR(lr_at(&s, 35), 0.1 + 0.9 * 0.5 * (1 + cos(M_PI / 4)), 1e-6, "cosine at a quarter");
    CHECK_NEAR(lr_at(&s, 60), 0.55, 1e-6, "cosine half way");
    CHECK_NEAR(lr_at(&s, 110), 0.1, 1e-6, "cosine floor");
    CHECK_NEAR(lr_at(&s, 500), 0.1, 1e-6, "past the end stays at the floor");
    s.kind = SCHEDULE_LINEAR;
    CHECK_NEAR(lr_at(&s, 35), 0.775, 1e-6, "linear at a quarter");
    CHECK_NEAR(lr_at(&s, 60), 0.55, 1e-6, "linear half way");
    s.kind = SCHEDULE_CONSTANT;
    CHECK_NEAR(lr_at(&s, 80), 1.0, 1e-7, "constant after warmup");
    ScheduleKind k;
    CHECK(schedule_parse("linear", &k) == 0 && k == SCHEDULE_LINEAR, "parse linear");
    CHECK(schedule_parse("exp", &k) == -1 && strstr(scpt_error(), "exp"), "%s", scpt_error());
}

static void test_decay_selection(void) {
    unsigned mask;
    CHECK(decay_mask_parse("matrices", &mask) == 0, "%s", scpt_error());
    CHECK((mask >> P_QKVW & 1) && (mask >> P_WTE & 1) && !(mask >> P_LN1W & 1) && !(mask >> P_QKVB & 1),
          "matrices mask %#x", mask);
    CHECK(decay_mask_parse("matrices-no-embed", &mask) == 0 && !(mask >> P_WTE & 1) && (mask >> P_FCW & 1),
          "no-embed mask %#x", mask);
    CHECK(decay_mask_parse("qkvw,lnfw", &mask) == 0 && mask == (1u << P_QKVW | 1u << P_LNFW), "list %#x", mask);
    CHECK(decay_mask_parse("qkvw,bogus", &mask) == -1 && strstr(scpt_error(), "bogus"), "%s", scpt_error());

    // with zero gradients AdamW's update is 0, so a step only applies the decay:
    // decayed tensors shrink by (1 - lr * wd), the others do not move
    ModelConfig cfg;
    model_preset(&cfg, "tiny-gpt2");
    Model m;
    model_create(&m, &cfg);
    model_init_weights(&m, 1);
    real before_w = param_ptr(&m, P_QKVW)[5], before_ln = param_ptr(&m, P_LN1W)[5];
    OptimizerState o;
    optimizer_init(&o, 0, m.num_params);
    AdamWConfig ac = {0.9f, 0.95f, 1e-8f, 0.1f, 0};
    decay_mask_parse("matrices", &ac.decay_mask);
    optimizer_step(&m, &o, &ac, 0.5f, 1);
    CHECK_NEAR(param_ptr(&m, P_QKVW)[5], before_w * (1 - 0.5 * 0.1), 1e-7, "decayed weight");
    CHECK(param_ptr(&m, P_LN1W)[5] == before_ln, "norm weight must not decay");
    optimizer_free(&o);
    model_free(&m);
}

int main(void) {
    RUN_TEST(test_adamw_by_hand);
    RUN_TEST(test_clipping);
    RUN_TEST(test_schedule);
    RUN_TEST(test_decay_selection);
    return test_summary();
}
