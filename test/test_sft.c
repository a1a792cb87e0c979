// Instruction tuning on the CPU model: a chat shard's loss mask reaches the loader's
// targets, masked targets get exactly zero gradient and count in no mean, a run in
// which only masked (prompt) tokens differ trains to bit-identical weights, and a
// tiny model learns the replies of a masked chat set.
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "loader.h"
#include "model.h"
#include "optim.h"
#include "rng.h"
#include "test.h"

// Conversations: BEGIN, a prompt of random tokens in [50, 100), SEP, a reply in [10, 50)
// where each token follows from the one before ((5t + 3) mod 40 + 10, from SEP), END.
// The mask trains the reply and END; the prompt is noise a model cannot learn.
enum { V = 100, T = 32, B = 4, BEGIN = 1, SEP = 2, END = 3, CONVERSATIONS = 400 };
static char dir[] = "/tmp/scpt_test_sft_XXXXXX";
static char glob[300];

static int reply_next(int t) { return (5 * t + 3) % 40 + 10; }

static void write_chat_shard(void) {
    char path[300];
    snprintf(path, sizeof path, "%s/chat_000.bin", dir);
    snprintf(glob, sizeof glob, "%s/chat_*.bin", dir);
    ShardWriter w;
    CHECK(shard_writer_open(&w, path, V, END, "test", 1) == 0, "%s", scpt_error());
    uint64_t state = 42;
    for (int c = 0; c < CONVERSATIONS; c++) {
        int32_t tok[32];
        uint8_t mask[32];
        int n = 0, prompt = 3 + (int)(rng_next(&state) % 6), reply = 3 + (int)(rng_next(&state) % 6);
        tok[n] = BEGIN, mask[n++] = 0;
        for (int i = 0; i < prompt; i++) tok[n] = 50 + (int)(rng_next(&state) % 50), mask[n++] = 0;
        tok[n] = SEP, mask[n++] = 0;
        for (int i = 0, t = SEP; i < reply; i++) tok[n] = t = reply_next(t), mask[n++] = 1;
        tok[n] = END, mask[n++] = 1;
        CHECK(shard_writer_append(&w, tok, mask, n) == 0, "%s", scpt_error());
    }
    CHECK(shard_writer_close(&w) == 0, "%s", scpt_error());
}

static LoaderOptions options(int shuffle) {
    return (LoaderOptions){.train_glob = glob, .B = B, .T = T, .world = 1, .seed = 7, .shuffle = shuffle, .vocab_size = V};
}

// in file order, window k's targets are the shard's tokens k*T+1 ... with -1 where the mask is 0
static void test_loader_masks_targets(void) {
    DataLoader l;
    LoaderOptions o = options(0);
    CHECK(loader_open(&l, &o) == 0, "%s", scpt_error());
    const Shard *s = &l.streams[STREAM_TRAIN].shards[0];
    CHECK(s->mask != NULL, "the chat shard has no mask");
    int in[B * T], tg[B * T], wrong = 0, masked = 0;
    for (int batch = 0; batch < 5; batch++) {
        loader_next(&l, in, tg, NULL);
        for (int i = 0; i < B * T; i++) {
            int64_t next = (int64_t)(batch * B + i / T) * T + i % T + 1;
            wrong += tg[i] != (shard_trained(s, next) ? shard_token(s, next) : -1);
            masked += tg[i] < 0;
        }
    }
    CHECK(wrong == 0, "%d targets disagree with the shard's tokens and mask", wrong);
    CHECK(masked > 0 && masked < 5 * B * T, "%d of %d targets masked", masked, 5 * B * T);
    loader_close(&l);
}

static void fresh_model(Model *m) {
    ModelConfig c;
    CHECK(model_preset(&c, "tiny-gpt2") == 0, "%s", scpt_error());
    model_create(m, &c);
    model_init_weights(m, 1);
}

static void next_batch(int *in, int *tg) {
    static DataLoader l;
    static int open;
    if (!open) {
        LoaderOptions o = options(1);
        CHECK(loader_open(&l, &o) == 0, "%s", scpt_error());
        open = 1;
    }
    loader_next(&l, in, tg, NULL);
}

// The logits' gradient of a masked position is exactly 0 (its target costs nothing),
// and the mean loss is over the unmasked positions only.
static void test_masked_positions_get_no_gradient(void) {
    Model m;
    fresh_model(&m);
    int in[B * T], tg[B * T];
    next_batch(in, tg);
    real loss = model_forward(&m, in, tg, B, T);
    double sum = 0;
    int count = 0;
    for (int i = 0; i < B * T; i++)
        if (tg[i] >= 0) sum += m.acts.losses[i], count++;
    CHECK_NEAR(loss, sum / count, 1e-6, "the mean over unmasked targets");
    model_backward(&m, 1);
    int Vp = m.config.padded_vocab_size, nonzero_masked = 0, zero_trained = 0;
    for (int i = 0; i < B * T; i++) {
        int any = 0;
        for (int v = 0; v < Vp; v++) any |= m.grad_acts.logits[(size_t)i * Vp + v] != 0;
        nonzero_masked += tg[i] < 0 && any;
        zero_trained += tg[i] >= 0 && !any;
    }
    CHECK(nonzero_masked == 0, "%d masked positions have a logit gradient", nonzero_masked);
    CHECK(zero_trained == 0, "%d trained positions have none", zero_trained);
    model_free(&m);
}

// Trains `steps` AdamW steps on the same batch; returns the final weights.
static real *train_on(const int *in, const int *tg, int steps) {
    Model m;
    fresh_model(&m);
    OptimizerState o;
    optimizer_init(&o, 0, m.num_params);
    AdamWConfig adam = {.beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f, .weight_decay = 0.1f};
    CHECK(decay_mask_parse("matrices", &adam.decay_mask) == 0, "%s", scpt_error());
    for (int s = 1; s <= steps; s++) {
        model_zero_grad(&m);
        model_forward(&m, in, tg, B, T);
        model_backward(&m, 1);
        optimizer_step(&m, &o, &adam, 1e-2f, s);
    }
    real *w = xmalloc(m.num_params * sizeof(real));
    memcpy(w, m.params, m.num_params * sizeof(real));
    optimizer_free(&o);
    model_free(&m);
    return w;
}

// Two runs on windows that differ only in prompt tokens after each row's last trained
// target (tokens only masked targets and later masked positions see) end bit-identical;
// a change before that changes the weights (the check can fail).
static void test_prompt_tokens_leave_weights_unchanged(void) {
    int in[B * T], tg[B * T], in2[B * T], in3[B * T], changed = 0;
    next_batch(in, tg);
    memcpy(in2, in, sizeof in);
    memcpy(in3, in, sizeof in);
    for (int r = 0; r < B; r++) {
        int last = -1;
        for (int t = 0; t < T; t++)
            if (tg[r * T + t] >= 0) last = t;
        for (int t = last + 1; t < T; t++) in2[r * T + t] = 50 + (in[r * T + t] + 17) % 50, changed++;
        if (last > 0) in3[r * T + last] = 50 + (in[r * T + last] + 17) % 50;   // the input of a trained position
    }
    CHECK(changed > 0, "no row ends in prompt tokens: the batch tests nothing");
    ModelConfig config;
    model_preset(&config, "tiny-gpt2");
    size_t n = model_param_count(&config);
    real *a = train_on(in, tg, 5), *b = train_on(in2, tg, 5), *c = train_on(in3, tg, 5);
    CHECK(memcmp(a, b, n * sizeof(real)) == 0, "weights differ after a change in masked prompt tokens only");
    CHECK(memcmp(a, c, n * sizeof(real)) != 0, "a change the model sees left the weights unchanged");
    free(a);
    free(b);
    free(c);
}

// A tiny GPT-2 learns the replies: the mean loss over assistant tokens starts at
// about ln(100) = 4.6 (a fresh model's near-uniform guess) and falls under 1 nat
// (each reply token follows from the one before; only where a reply ends is
// uncertain, and 60 steps get to about 0.5).
static void test_learns_the_replies(void) {
    Model m;
    fresh_model(&m);
    OptimizerState o;
    optimizer_init(&o, 0, m.num_params);
    AdamWConfig adam = {.beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f};
    int in[B * T], tg[B * T];
    double first = 0, last = 0;
    enum { STEPS = 60, AVG = 10 };
    for (int s = 1; s <= STEPS; s++) {
        next_batch(in, tg);
        model_zero_grad(&m);
        real loss = model_forward(&m, in, tg, B, T);
        model_backward(&m, 1);
        optimizer_step(&m, &o, &adam, 1e-2f, s);
        if (s == 1) first = loss;
        if (s > STEPS - AVG) last += loss / AVG;
    }
    printf("  assistant-token loss: step 1 %.3f, last %d steps %.3f\n", first, AVG, last);
    CHECK(first > 4 && last < 1.0, "loss %.3f -> %.3f", first, last);
    optimizer_free(&o);
    model_free(&m);
}

int main(void) {
    if (!mkdtemp(dir)) return 1;
    write_chat_shard();
    RUN_TEST(test_loader_masks_targets);
    RUN_TEST(test_masked_positions_get_no_gradient);
    RUN_TEST(test_prompt_tokens_leave_weights_unchanged);
    RUN_TEST(test_learns_the_replies);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) return 1;
    return test_summary();
}
