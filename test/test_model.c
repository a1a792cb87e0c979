// The float model: loss at initialisation, overfitting one batch, results that do
// not depend on the thread count.
#include <omp.h>
#include "layers.h"
#include "model.h"
#include "optim.h"
#include "rng.h"
#include "test.h"

static void random_tokens(int *x, int n, int vocab, uint64_t seed) {
    for (int i = 0; i < n; i++) x[i] = (int)(rng_next(&seed) % (uint64_t)vocab);
}

// With N(0, 0.02) weights the logits are nearly equal, so the loss is about ln(V):
// precisely ln(V) + s^2/2 for logits of spread s = 0.02 * sqrt(C) (the final norm
// output has unit scale), i.e. +0.15 for gpt2-124m and +0.006 for the tiny models.
// The tolerance (0.1 around that) covers the sampling spread over the positions.
static void check_initial_loss(const char *preset, int B, int T) {
    ModelConfig cfg;
    CHECK(model_preset(&cfg, preset) == 0, "%s", scpt_error());
    Model m;
    model_create(&m, &cfg);
    model_init_weights(&m, 5);
    int *in = malloc(sizeof(int) * B * T), *tg = malloc(sizeof(int) * B * T);
    random_tokens(in, B * T, cfg.vocab_size, 1);
    random_tokens(tg, B * T, cfg.vocab_size, 2);
    double expect = log(cfg.vocab_size) + 0.5 * 0.0004 * cfg.n_embd;
    double loss = model_forward(&m, in, tg, B, T);
    CHECK_NEAR(loss, expect, 0.1, preset);
    // the vocabulary padding gets no probability
    real pad = 0;
    for (int v = cfg.vocab_size; v < cfg.padded_vocab_size; v++) pad += m.acts.logits[v];
    CHECK(pad == 0, "%s: padded vocabulary rows have probability %g", preset, (double)pad);
    free(in);
    free(tg);
    model_free(&m);
}

static void test_initial_loss(void) {
    check_initial_loss("tiny-gpt2", 4, 32);
    check_initial_loss("tiny-llama", 4, 32);
    if (getenv("SCPT_SANITIZED")) return;   // 124M parameters under ASan would take minutes
    check_initial_loss("gpt2-124m", 1, 64);
}

// 300 AdamW steps on one fixed batch of random tokens must drive the loss near 0:
// the model has far more parameters than the 64 targets to memorise.
static void check_overfit(const char *preset) {
    ModelConfig cfg;
    model_preset(&cfg, preset);
    Model m;
    model_create(&m, &cfg);
    model_init_weights(&m, 3);
    OptimizerState o;
    optimizer_init(&o, 0, m.num_params);
    AdamWConfig ac = {0.9f, 0.95f, 1e-8f, 0.0f, 0};
    int in[2 * 32], tg[2 * 32];
    random_tokens(in, 64, cfg.vocab_size, 11);
    random_tokens(tg, 64, cfg.vocab_size, 12);
    double first = 0, loss = 0;
    for (int step = 0; step < 300; step++) {
        model_zero_grad(&m);
        loss = model_forward(&m, in, tg, 2, 32);
        if (step == 0) first = loss;
        model_backward(&m, 1);
        clip_gradients(m.grads, m.num_params, 1.0f);
        optimizer_step(&m, &o, &ac, 3e-3f, step + 1);
    }
    CHECK(loss < 0.05, "%s: loss %.4f after 300 steps on one batch (started at %.4f)", preset, loss, first);
    optimizer_free(&o);
    model_free(&m);
}
static void test_overfit_one_batch(void) {
    check_overfit("tiny-gpt2");
    check_overfit("tiny-llama");
}

// forward and backward give bit-identical loss and gradients on 1 and 2 threads
static void check_thread_invariance(const char *preset) {
    ModelConfig cfg;
    model_preset(&cfg, preset);
    Model m;
    model_create(&m, &cfg);
    model_init_weights(&m, 9);
    int in[3 * 32], tg[3 * 32];
    random_tokens(in, 96, cfg.vocab_size, 21);
    random_tokens(tg, 96, cfg.vocab_size, 22);
    real *grads1 = malloc(m.num_params * sizeof(real));
    real loss[2];
    int saved = omp_get_max_threads();
    for (int k = 0; k < 2; k++) {
        omp_set_num_threads(k + 1);
        model_zero_grad(&m);
        loss[k] = model_forward(&m, in, tg, 3, 32);
        model_backward(&m, 1);
        if (k == 0) memcpy(grads1, m.grads, m.num_params * sizeof(real));
    }
    omp_set_num_threads(saved);
    CHECK(loss[0] == loss[1], "%s: loss %.9g on 1 thread, %.9g on 2", preset, (double)loss[0], (double)loss[1]);
    CHECK(memcmp(grads1, m.grads, m.num_params * sizeof(real)) == 0, "%s: gradients depend on the thread count",
          preset);
    free(grads1);
    model_free(&m);
}
static void test_thread_invariance(void) {
    check_thread_invariance("tiny-gpt2");
    check_thread_invariance("tiny-llama");
}

static void test_presets(void) {
    // parameter counts of the published models (GPT-2 with the vocabulary padded to 50304)
    struct {
        const char *name;
        double millions;
    } expect[] = {{"gpt2-124m", 124.475904}, {"gpt2-350m", 354.871296}, {"llama3.2-1b", 1235.8144},
                  {"llama3.2-3b", 3212.749824}, {"llama3-8b", 8030.261248}};
    for (int i = 0; i < 5; i++) {
        ModelConfig cfg;
        CHECK(model_preset(&cfg, expect[i].name) == 0 && model_config_check(&cfg) == 0, "%s", scpt_error());
        double n = (double)model_param_count(&cfg);   // the layout model_create allocates
        CHECK_NEAR(n / 1e6, expect[i].millions, 1e-6, expect[i].name);
    }
    ModelConfig cfg;
    CHECK(model_preset(&cfg, "gpt5") == -1 && strstr(scpt_error(), "gpt5"), "%s", scpt_error());
    model_preset(&cfg, "tiny-llama");
    cfg.n_kv_head = 3;
    CHECK(model_config_check(&cfg) == -1, "n_head 4 on 3 kv heads accepted");
    // the allocated layout agrees with the arithmetic above for a tiny model
    model_preset(&cfg, "tiny-llama");
    Model m;
    model_create(&m, &cfg);
    size_t expect_tiny = 128 * 32 * 2 + 32 + 2 * (64 * 32 + 32 * 32 + 128 * 32 + 32 * 64 + 2 * 32);
    CHECK(m.num_params == expect_tiny, "tiny-llama has %zu parameters, expected %zu", m.num_params, expect_tiny);
    model_free(&m);
}

// A NaN logit makes the loss NaN, which the training loop stops on; the clamp that
// keeps an underflowed probability's loss finite must not hide it (it once read 69.08).
static void test_nan_logits_give_nan_loss(void) {
    enum { V = 5, VP = 8 };
    real logits[2 * VP] = {0.1f, 0.2f, NAN, 0.3f, 0.4f, 0, 0, 0, 1e4f, 0, 0, 0, 0, 0, 0, 0};
    int targets[2] = {1, 1};
    real losses[2];
    classifier_forward(losses, logits, targets, 2, V, VP);
    CHECK(isnan(losses[0]), "a NaN logit gave loss %g", (double)losses[0]);
    // the underflowed probability of row 2 is still clamped at -log(1e-30)
    CHECK_NEAR(losses[1], 69.0776, 1e-3, "underflowed softmax loss");
}

int main(void) {
    RUN_TEST(test_presets);
    RUN_TEST(test_initial_loss);
    RUN_TEST(test_overfit_one_batch);
    RUN_TEST(test_thread_invariance);
    RUN_TEST(test_nan_logits_give_nan_loss);
    return test_summary();
}
