// Checkpoints and the safetensors container: exact round trip, and every kind of bad
// file rejected with an error naming it.
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>
#include "checkpoint.h"
#include "metrics.h"
#include "safetensors.h"
#include "test.h"

static char dir[] = "/tmp/scpt_test_ckpt_XXXXXX";
static char path[300];

static void make_model(Model *m, OptimizerState *o, const char *preset) {
    ModelConfig cfg;
    model_preset(&cfg, preset);
    model_create(m, &cfg);
    model_init_weights(m, 77);
    optimizer_init(o, 0, m->num_params);
    for (size_t i = 0; i < m->num_params; i++) {
        o->m[i] = (real)i * 1e-3f;
        o->v[i] = (real)(m->num_params - i) * 1e-6f;
    }
}

static void test_round_trip(void) {
    const char *presets[2] = {"tiny-gpt2", "tiny-llama"};
    for (int k = 0; k < 2; k++) {
        Model m, m2;
        OptimizerState o, o2;
        make_model(&m, &o, presets[k]);
        TrainState st = {.step = 123, .seed = 0xfedcba9876543210ULL, .loader = {777, {500, 277}}, .batch = 4,
                         .seq_len = 16, .grad_accum = 2, .world = 1, .replay_frac = 0.25f};
        snprintf(path, sizeof path, "%s/ck.safetensors", dir);
        CHECK(checkpoint_save(path, &m, &o, &st) == 0, "%s", scpt_error());
        ModelConfig cfg;
        CHECK(checkpoint_read_config(path, &cfg) == 0, "%s", scpt_error());
        CHECK(memcmp(&cfg, &m.config, sizeof cfg) == 0, "%s: config changed in the round trip", presets[k]);
        model_create(&m2, &cfg);
        optimizer_init(&o2, 0, m2.num_params);
        TrainState st2;
        CHECK(checkpoint_load(path, &m2, &o2, &st2) == 0, "%s", scpt_error());
        CHECK(memcmp(m.params, m2.params, m.num_params * sizeof(real)) == 0, "weights differ");
        CHECK(memcmp(o.m, o2.m, m.num_params * sizeof(real)) == 0 && memcmp(o.v, o2.v, m.num_params * sizeof(real)) == 0,
              "optimizer moments differ");
        CHECK(st2.step == st.step && st2.seed == st.seed && st2.loader.next_slot == st.loader.next_slot &&
                  st2.loader.consumed[0] == st.loader.consumed[0] && st2.loader.consumed[1] == st.loader.consumed[1] &&
                  st2.batch == st.batch && st2.seq_len == st.seq_len && st2.grad_accum == st.grad_accum &&
                  st2.world == st.world && st2.replay_frac == st.replay_frac,
              "train state differs (step %d seed %llx)", st2.step, (unsigned long long)st2.seed);
        model_free(&m2);
        optimizer_free(&o2);
        model_free(&m);
        optimizer_free(&o);
    }
}

static void test_mismatched_model(void) {
    Model m, other;
    OptimizerState o;
    make_model(&m, &o, "tiny-gpt2");
    snprintf(path, sizeof path, "%s/gpt2.safetensors", dir);
    CHECK(checkpoint_save(path, &m, NULL, NULL) == 0, "%s", scpt_error());
    ModelConfig cfg;
    model_preset(&cfg, "tiny-llama");
    model_create(&other, &cfg);
    CHECK(checkpoint_load(path, &other, NULL, NULL) == -1, "a gpt2 checkpoint loaded into a llama model");
    CHECK(strstr(scpt_error(), path) && strstr(scpt_error(), "differs"), "%s", scpt_error());
    // a weights-only file cannot be resumed
    OptimizerState o2;
    optimizer_init(&o2, 0, m.num_params);
    TrainState st;
    CHECK(checkpoint_load(path, &m, &o2, &st) == -1 && strstr(scpt_error(), "training state"), "%s", scpt_error());
    optimizer_free(&o2);
    model_free(&other);
    model_free(&m);
    optimizer_free(&o);
}

// writes raw bytes as a file and expects st_open to fail with `expect` in the message
static void expect_bad_safetensors(const char *header, const void *data, size_t data_bytes, const char *expect) {
    snprintf(path, sizeof path, "%s/bad.safetensors", dir);
    FILE *f = fopen(path, "wb");
    uint64_t n = strlen(header);
    fwrite(&n, 8, 1, f);
    fwrite(header, 1, n, f);
    if (data_bytes) fwrite(data, 1, data_bytes, f);
    fclose(f);
    SafeTensors st;
    CHECK(st_open(&st, path) == -1, "accepted: %s", header);
    CHECK(strstr(scpt_error(), path) && strstr(scpt_error(), expect), "'%s' lacks '%s'", scpt_error(), expect);
}

static void test_bad_safetensors(void) {
    float x[4] = {1, 2, 3, 4};
    expect_bad_safetensors("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", x, 8, "outside");
    expect_bad_safetensors("{\"a\":{\"dtype\":\"Q4\",\"shape\":[4],\"data_offsets\":[0,16]}}", x, 16, "unknown dtype");
    expect_bad_safetensors("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,16]}}", x, 16, "needs 12");
    expect_bad_safetensors("{\"a\":{\"dtype\":\"F32\",\"shape\":[-4],\"data_offsets\":[0,16]}}", x, 16, "shape");
    expect_bad_safetensors("{\"a\":{\"dtype\":\"F32\",\"shape\":[4]}}", x, 16, "data_offsets");
    expect_bad_safetensors("{\"a\": [1, 2", x, 16, "not a JSON object");
    expect_bad_safetensors("{\"__metadata__\":{\"k\":1}}", NULL, 0, "not a string");
    // a header length past the end of the file
    snprintf(path, sizeof path, "%s/len.safetensors", dir);
    FILE *f = fopen(path, "wb");
    uint64_t n = 1000;
    fwrite(&n, 8, 1, f);
    fputs("{}", f);
    fclose(f);
    SafeTensors st;
    CHECK(st_open(&st, path) == -1 && strstr(scpt_error(), "past the end"), "%s", scpt_error());
    // a plain safetensors file is not a checkpoint
    StWriteTensor t = {"w", ST_F32, 1, {4}, x};
    snprintf(path, sizeof path, "%s/plain.safetensors", dir);
    CHECK(st_write(path, &t, 1, NULL, 0) == 0, "%s", scpt_error());
    ModelConfig cfg;
    CHECK(checkpoint_read_config(path, &cfg) == -1 && strstr(scpt_error(), "not an scpt checkpoint"), "%s",
          scpt_error());
    // a truncated checkpoint
    Model m;
    OptimizerState o;
    make_model(&m, &o, "tiny-llama");
    snprintf(path, sizeof path, "%s/trunc.safetensors", dir);
    CHECK(checkpoint_save(path, &m, &o, NULL) == 0, "%s", scpt_error());
    CHECK(truncate(path, 5000) == 0, "truncate");
    CHECK(checkpoint_load(path, &m, NULL, NULL) == -1 && strstr(scpt_error(), path), "%s", scpt_error());
    model_free(&m);
    optimizer_free(&o);
}

// F16 and BF16 decode to the float values they encode
static void test_half_precision(void) {
    uint16_t f16[6] = {0x3c00, 0xc000, 0x3555, 0x0001, 0x7bff, 0x7c00};   // 1, -2, ~1/3, 2^-24, 65504, inf
    uint16_t bf16[3] = {0x3f80, 0xc0a0, 0x3eab};                         // 1, -5, ~0.333984
    StWriteTensor t[2] = {{"h", ST_F16, 1, {6}, f16}, {"b", ST_BF16, 1, {3}, bf16}};
    snprintf(path, sizeof path, "%s/half.safetensors", dir);
    CHECK(st_write(path, t, 2, NULL, 0) == 0, "%s", scpt_error());
    SafeTensors st;
    CHECK(st_open(&st, path) == 0, "%s", scpt_error());
    float h[6], b[3];
    CHECK(st_read_f32(&st, st_find(&st, "h"), h) == 0 && st_read_f32(&st, st_find(&st, "b"), b) == 0, "%s",
          scpt_error());
    CHECK(h[0] == 1 && h[1] == -2 && fabsf(h[2] - 0.33325195f) < 1e-8f && h[3] == 0x1p-24f && h[4] == 65504 &&
              isinf(h[5]),
          "f16 decoded to %g %g %g %g %g %g", h[0], h[1], h[2], h[3], h[4], h[5]);
    CHECK(b[0] == 1 && b[1] == -5 && fabsf(b[2] - 0.333984375f) < 1e-9f, "bf16 decoded to %g %g %g", b[0], b[1], b[2]);
    st_close(&st);
}

// A value no training can produce (one flipped exponent bit makes a NaN of a weight
// near 1) is refused on load, naming the file and tensor.
static void expect_bad_value(int which, real value, const char *tensor) {
    Model m;
    OptimizerState o;
    make_model(&m, &o, "tiny-llama");
    const ParamTensor *t = &m.tensors[P_LNFW];
    real *slot = (which == 0 ? m.params : which == 1 ? o.m : o.v) + t->offset + 3;
    *slot = value;
    snprintf(path, sizeof path, "%s/badvalue.safetensors", dir);
    CHECK(checkpoint_save(path, &m, &o, NULL) == 0, "%s", scpt_error());
    *slot = 0;
    CHECK(checkpoint_load(path, &m, &o, NULL) == -1, "%s with %g loaded", tensor, (double)value);
    CHECK(strstr(scpt_error(), path) && strstr(scpt_error(), tensor) && strstr(scpt_error(), "element 3"), "%s",
          scpt_error());
    optimizer_free(&o);
    model_free(&m);
}

static void test_bad_values(void) {
    expect_bad_value(0, NAN, "'model.lnfw'");
    expect_bad_value(0, -INFINITY, "'model.lnfw'");
    expect_bad_value(1, INFINITY, "'adam_m.lnfw'");
    expect_bad_value(2, -1e-12f, "'adam_v.lnfw'");
    expect_bad_value(2, NAN, "'adam_v.lnfw'");
}

// writes a checkpoint whose scpt.config is `config` and returns checkpoint_read_config's result
static int read_config_json(const char *config) {
    snprintf(path, sizeof path, "%s/config.safetensors", dir);
    real x = 0;
    StWriteTensor t = {"x", ST_F32, 1, {1}, &x};
    const char *meta[4] = {"format", "scpt-checkpoint-v1", "scpt.config", config};
    CHECK(st_write(path, &t, 1, meta, 2) == 0, "%s", scpt_error());
    ModelConfig cfg;
    return checkpoint_read_config(path, &cfg);
}

static void test_bad_config(void) {
    const char *fmt = "{\"arch\": \"gpt2\", \"vocab_size\": 100, \"padded_vocab_size\": 128, \"max_seq_len\": 32, "
                      "\"n_layer\": %s, \"n_head\": %s, \"n_kv_head\": 4, \"n_embd\": 32, \"ffn_hidden\": 128, "
                      "\"tied_embeddings\": 1, \"norm_eps\": 1e-5, \"rope_theta\": 0, \"rope_scale\": 0, "
                      "\"rope_low_freq_factor\": 0, \"rope_high_freq_factor\": 0, \"rope_original_context\": 0}";
    char json[1024];
    snprintf(json, sizeof json, fmt, "2", "4");
    CHECK(read_config_json(json) == 0, "a good config refused: %s", scpt_error());
    // a number outside int's range is refused before it is converted (UB otherwise)
    const char *bad[] = {"1e300", "-1e300", "2147483648", "2.5", "-1"};
    for (int i = 0; i < 5; i++) {
        snprintf(json, sizeof json, fmt, bad[i], "4");
        CHECK(read_config_json(json) == -1 && strstr(scpt_error(), path) && strstr(scpt_error(), "'n_layer'"),
              "n_layer %s: %s", bad[i], scpt_error());
    }
    // the model's own complaint reaches the message whole, after the file's name
    snprintf(json, sizeof json, fmt, "2", "5");
    CHECK(read_config_json(json) == -1, "n_head 5 of 32 channels accepted");
    char expect[400];
    snprintf(expect, sizeof expect, "%s: invalid model config: n_embd is not a multiple of n_head", path);
    CHECK(strstr(scpt_error(), expect) != NULL, "'%s' lacks '%s'", scpt_error(), expect);
}

static int count_lines(const char *file, const char *needle) {
    FILE *f = fopen(file, "r");
    char line[256];
    int n = 0;
    while (f && fgets(line, sizeof line, f)) n += strstr(line, needle) != NULL;
    if (f) fclose(f);
    return n;
}

// metrics.jsonl: JSON lines only, no step twice across restarts, write errors reported
static void test_metrics(void) {
    char mpath[320];
    snprintf(mpath, sizeof mpath, "%s/metrics.jsonl", dir);
    MetricsLog log;
    CHECK(metrics_open(&log, mpath, -1) == 0, "%s", scpt_error());
    for (int step = 1; step <= 3; step++) CHECK(metrics_write(&log, "{\"step\": %d, \"loss\": %.2f}", step, 1.0) == 0, "%s", scpt_error());
    CHECK(metrics_write(&log, "{\"step\": %d, \"loss\": %f}", 4, (double)NAN) == -1 && strstr(scpt_error(), "not JSON"),
          "a NaN line accepted: %s", scpt_error());
    CHECK(metrics_write(&log, "{\"step\": %d, \"loss\": %f}", 4, (double)-INFINITY) == -1, "an -inf line accepted");
    metrics_close(&log);
    CHECK(count_lines(mpath, "\"step\"") == 3 && count_lines(mpath, "nan") == 0 && count_lines(mpath, "inf") == 0,
          "metrics file holds %d lines", count_lines(mpath, "\"step\""));
    // a resumed run keeps steps up to its checkpoint's; a new run starts empty
    CHECK(metrics_open(&log, mpath, 2) == 0, "%s", scpt_error());
    metrics_close(&log);
    CHECK(count_lines(mpath, "\"step\"") == 2, "resume at step 2 kept %d lines", count_lines(mpath, "\"step\""));
    CHECK(metrics_open(&log, mpath, -1) == 0, "%s", scpt_error());
    metrics_close(&log);
    CHECK(count_lines(mpath, "\"step\"") == 0, "a new run kept %d lines", count_lines(mpath, "\"step\""));
    // a full disk; a resumed run leaves a device file in place
    CHECK(metrics_open(&log, "/dev/full", 5) == 0, "%s", scpt_error());
    metrics_close(&log);
    struct stat sb;
    CHECK(stat("/dev/full", &sb) == 0 && S_ISCHR(sb.st_mode), "/dev/full was replaced");
    CHECK(metrics_open(&log, "/dev/full", -1) == 0, "%s", scpt_error());
    CHECK(metrics_write(&log, "{\"step\": 1}") == -1 && strstr(scpt_error(), "/dev/full"), "a full disk went unnoticed");
    metrics_close(&log);
}

int main(void) {
    if (!mkdtemp(dir)) return 1;
    RUN_TEST(test_round_trip);
    RUN_TEST(test_mismatched_model);
    RUN_TEST(test_bad_safetensors);
    RUN_TEST(test_half_precision);
    RUN_TEST(test_bad_values);
    RUN_TEST(test_bad_config);
    RUN_TEST(test_metrics);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) return 1;
    return test_summary();
}
