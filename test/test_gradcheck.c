// Finite-difference gradient checks of every layer and of the whole model (both
// families), in the double-precision build (-DSCPT_F64) of the same sources.
//
// Each layer is reduced to a scalar objective sum(out * proj) with a random proj;
// its backward, fed dout = proj, must match central differences
//   (f(x + h) - f(x - h)) / 2h,  h = 1e-5 * max(1, |x|).
// Truncation error is O(h^2 f''') ~ 1e-10 and round-off ~ 1e-16 |f| / h ~ 1e-11, so a
// tolerance of 1e-7 absolute + 1e-6 relative passes every correct gradient with
// a wide margin while any real mistake (a missing term, a wrong index) is off by
// orders of magnitude more.
#include <math.h>
#include "model.h"
#include "rng.h"
#include "test.h"
#include "util.h"

#ifndef SCPT_F64
#error "build with -DSCPT_F64"
#endif

// every buffer of the test, freed at exit (keeps the sanitizer build's leak check quiet)
static void *buffers[512];
static int num_buffers;
static real *zeros(size_t n) { return buffers[num_buffers++] = xcalloc(n, sizeof(real)); }
static uint64_t rng_state = 1234;
static real *random_array(size_t n, double scale) {
    real *x = zeros(n);
    for (size_t i = 0; i < n; i++) x[i] = scale * (2 * rng_uniform(&rng_state) - 1);
    return x;
}

// the objective of the current case
static void (*case_forward)(void);
static const real *case_out, *case_proj;
static size_t case_nout;
static double (*case_objective)(void);

static double projected_output(void) {
    case_forward();
    double s = 0;
    for (size_t i = 0; i < case_nout; i++) s += case_out[i] * case_proj[i];
    return s;
}

// compares analytic[i] with a central difference of the objective in x[i], for up to
// 60 indices spread over x
static void check_grad(const char *what, real *x, const real *analytic, size_t n) {
    size_t stride = n > 60 ? n / 60 : 1;
    int bad = 0;
    double worst = 0;
    for (size_t i = (n > 60 ? 7 % stride : 0); i < n; i += stride) {
        real saved = x[i];
        double h = 1e-5 * fmax(1.0, fabs(saved));
        x[i] = saved + h;
        double up = case_objective();
        x[i] = saved - h;
        double down = case_objective();
        x[i] = saved;
        double numeric = (up - down) / (2 * h);
        double err = fabs(numeric - analytic[i]);
        double tol = 1e-7 + 1e-6 * fmax(fabs(numeric), fabs(analytic[i]));
        if (err > tol && bad++ < 3)
            fprintf(stderr, "  %s[%zu]: analytic %.12g numeric %.12g\n", what, i, (double)analytic[i], numeric);
        if (err / tol > worst) worst = err / tol;
    }
    CHECK(bad == 0, "%s: %d gradient entries off (worst err/tol %.2f)", what, bad, worst);
}

static void use_projection(void (*forward)(void), const real *out, size_t nout, const real *proj) {
    case_forward = forward;
    case_out = out;
    case_nout = nout;
    case_proj = proj;
    case_objective = projected_output;
}

// ---- encoder ----
enum { EB = 2, ET = 5, EC = 7, EV = 11 };
static int enc_tokens[EB * ET] = {1, 3, 3, 0, 10, 3, 5, 1, 1, 9};   // repeats: rows receive several adds
static real *enc_out, *enc_wte, *enc_wpe;
static void enc_fwd(void) { encoder_forward(enc_out, enc_tokens, enc_wte, enc_wpe, EB, ET, EC); }
static void test_encoder(void) {
    enc_out = zeros(EB * ET * EC);
    enc_wte = random_array(EV * EC, 1);
    enc_wpe = random_array(ET * EC, 1);
    real *proj = random_array(EB * ET * EC, 1), *dwte = zeros(EV * EC), *dwpe = zeros(ET * EC);
    use_projection(enc_fwd, enc_out, EB * ET * EC, proj);
    enc_fwd();
    encoder_backward(dwte, dwpe, proj, enc_tokens, EB, ET, EC);
    check_grad("encoder.wte", enc_wte, dwte, EV * EC);
    check_grad("encoder.wpe", enc_wpe, dwpe, ET * EC);
}

// ---- norms ----
enum { NN = 6, NC = 19 };
static real *nrm_out, *nrm_mean, *nrm_rstd, *nrm_inp, *nrm_w, *nrm_b;
static void ln_fwd(void) { layernorm_forward(nrm_out, nrm_mean, nrm_rstd, nrm_inp, nrm_w, nrm_b, NN, NC, 1e-5f); }
static void rms_fwd(void) { rmsnorm_forward(nrm_out, nrm_rstd, nrm_inp, nrm_w, NN, NC, 1e-5f); }
static void test_norms(void) {
    nrm_out = zeros(NN * NC);
    nrm_mean = zeros(NN);
    nrm_rstd = zeros(NN);
    nrm_inp = random_array(NN * NC, 2);
    nrm_w = random_array(NC, 1);
    nrm_b = random_array(NC, 1);
    real *proj = random_array(NN * NC, 1);
    real *dinp = zeros(NN * NC), *dw = zeros(NC), *db = zeros(NC);
    use_projection(ln_fwd, nrm_out, NN * NC, proj);
    ln_fwd();
    layernorm_backward(dinp, dw, db, proj, nrm_inp, nrm_w, nrm_mean, nrm_rstd, NN, NC);
    check_grad("layernorm.inp", nrm_inp, dinp, NN * NC);
    check_grad("layernorm.weight", nrm_w, dw, NC);
    check_grad("layernorm.bias", nrm_b, db, NC);
    real *dinp2 = zeros(NN * NC), *dw2 = zeros(NC);
    use_projection(rms_fwd, nrm_out, NN * NC, proj);
    rms_fwd();
    rmsnorm_backward(dinp2, dw2, proj, nrm_inp, nrm_w, nrm_rstd, NN, NC);
    check_grad("rmsnorm.inp", nrm_inp, dinp2, NN * NC);
    check_grad("rmsnorm.weight", nrm_w, dw2, NC);
}

// ---- matmul: shapes that leave partial register tiles and span several K blocks ----
static int mm_n, mm_c, mm_oc;
static real *mm_out, *mm_inp, *mm_w, *mm_b;
static void mm_fwd(void) { matmul_forward(mm_out, mm_inp, mm_w, mm_b, mm_n, mm_c, mm_oc); }
static void test_matmul(void) {
    int shapes[][3] = {{7, 37, 45}, {13, 300, 70}, {50, 9, 130}};
    for (int s = 0; s < 3; s++) {
        mm_n = shapes[s][0], mm_c = shapes[s][1], mm_oc = shapes[s][2];
        mm_out = zeros(mm_n * mm_oc);
        mm_inp = random_array(mm_n * mm_c, 1);
        mm_w = random_array(mm_oc * mm_c, 1);
        mm_b = random_array(mm_oc, 1);
        real *proj = random_array(mm_n * mm_oc, 1);
        real *dinp = zeros(mm_n * mm_c), *dw = zeros(mm_oc * mm_c), *db = zeros(mm_oc);
        use_projection(mm_fwd, mm_out, mm_n * mm_oc, proj);
        mm_fwd();
        matmul_backward(dinp, dw, db, proj, mm_inp, mm_w, mm_n, mm_c, mm_oc);
        check_grad("matmul.inp", mm_inp, dinp, mm_n * mm_c);
        check_grad("matmul.weight", mm_w, dw, mm_oc * mm_c);
        check_grad("matmul.bias", mm_b, db, mm_oc);
        // forward against the plain triple loop
        mm_fwd();
        double worst = 0;
        for (int n = 0; n < mm_n; n++)
            for (int o = 0; o < mm_oc; o++) {
                double v = mm_b[o];
                for (int c = 0; c < mm_c; c++) v += mm_inp[n * mm_c + c] * mm_w[o * mm_c + c];
                worst = fmax(worst, fabs(v - mm_out[n * mm_oc + o]));
            }
        CHECK(worst < 1e-12, "matmul forward differs from the triple loop by %g", worst);
    }
}

// ---- RoPE and attention (GQA: 4 query heads on 2 kv heads, and plain MHA) ----
enum { AB = 2, AT = 6, AHS = 8 };
static int a_nh, a_nkv;
static real *a_qkv_in, *a_qkv, *a_out, *a_att, *r_cos, *r_sin;
static size_t qkv_size(void) { return (size_t)AB * AT * (a_nh + 2 * a_nkv) * AHS; }
static void rope_fwd(void) {
    memcpy(a_qkv, a_qkv_in, qkv_size() * sizeof(real));
    rope_forward(a_qkv, r_cos, r_sin, AB, AT, a_nh, a_nkv, AHS);
}
static void att_fwd(void) { attention_forward(a_out, a_att, a_qkv_in, AB, AT, a_nh, a_nkv, AHS); }
static void test_rope_attention(void) {
    r_cos = zeros(AT * AHS / 2);
    r_sin = zeros(AT * AHS / 2);
    rope_tables(r_cos, r_sin, AT, AHS, 10000.0, 8, 1, 4, 16);   // with the Llama 3.1 rescaling
    int heads[2][2] = {{4, 2}, {3, 3}};
    for (int k = 0; k < 2; k++) {
        a_nh = heads[k][0], a_nkv = heads[k][1];
        size_t n = qkv_size(), nout = (size_t)AB * AT * a_nh * AHS;
        a_qkv_in = random_array(n, 1);
        a_qkv = zeros(n);
        real *proj = random_array(n, 1), *dqkv = zeros(n);
        use_projection(rope_fwd, a_qkv, n, proj);
        rope_fwd();
        memcpy(dqkv, proj, n * sizeof(real));
        rope_backward(dqkv, r_cos, r_sin, AB, AT, a_nh, a_nkv, AHS);
        check_grad("rope.qkv", a_qkv_in, dqkv, n);

        a_out = zeros(nout);
        a_att = zeros((size_t)AB * a_nh * AT * AT);
        real *proj2 = random_array(nout, 1), *dqkv2 = zeros(n);
        use_projection(att_fwd, a_out, nout, proj2);
        att_fwd();
        attention_backward(dqkv2, proj2, a_qkv_in, a_att, AB, AT, a_nh, a_nkv, AHS);
        check_grad(a_nh == a_nkv ? "attention.qkv (MHA)" : "attention.qkv (GQA)", a_qkv_in, dqkv2, n);
    }
}

// ---- pointwise: GELU, SwiGLU, residual ----
enum { PN = 5, PH = 9 };
static real *pw_inp, *pw_inp2, *pw_out;
static void gelu_fwd(void) { gelu_forward(pw_out, pw_inp, PN * PH); }
static void swiglu_fwd(void) { swiglu_forward(pw_out, pw_inp, PN, PH); }
static void residual_fwd(void) { residual_forward(pw_out, pw_inp, pw_inp2, PN * PH); }
static void test_pointwise(void) {
    pw_inp = random_array(PN * 2 * PH, 3);
    pw_inp2 = random_array(PN * PH, 3);
    pw_out = zeros(PN * PH);
    real *proj = random_array(PN * PH, 1);
    real *d1 = zeros(PN * 2 * PH), *d2 = zeros(PN * 2 * PH), *d3 = zeros(PN * PH);
    use_projection(gelu_fwd, pw_out, PN * PH, proj);
    gelu_backward(d1, pw_inp, proj, PN * PH);
    check_grad("gelu.inp", pw_inp, d1, PN * PH);
    use_projection(swiglu_fwd, pw_out, PN * PH, proj);
    swiglu_backward(d2, pw_inp, proj, PN, PH);
    check_grad("swiglu.inp", pw_inp, d2, PN * 2 * PH);
    use_projection(residual_fwd, pw_out, PN * PH, proj);
    memset(d1, 0, sizeof(real) * PN * PH);
    residual_backward(d1, d3, proj, PN * PH);
    check_grad("residual.a", pw_inp, d1, PN * PH);
    check_grad("residual.b", pw_inp2, d3, PN * PH);
}

// ---- classifier: mean loss over positions with targets, one position masked ----
enum { CN = 4, CV = 13, CVP = 16 };
static int cls_targets[CN] = {3, -1, 12, 0};
static real *cls_logits_in, *cls_work, *cls_losses;
static double cls_objective(void) {
    memcpy(cls_work, cls_logits_in, sizeof(real) * CN * CVP);
    classifier_forward(cls_losses, cls_work, cls_targets, CN, CV, CVP);
    double s = 0;
    for (int i = 0; i < CN; i++) s += cls_losses[i];
    return s / 3;   // three positions have a target
}
static void test_classifier(void) {
    cls_logits_in = random_array(CN * CVP, 4);
    cls_work = zeros(CN * CVP);
    cls_losses = zeros(CN);
    case_objective = cls_objective;
    cls_objective();
    CHECK(cls_losses[1] == 0, "masked position has loss %g", (double)cls_losses[1]);
    real *dlogits = zeros(CN * CVP);
    classifier_backward(dlogits, cls_work, cls_targets, 1.0 / 3, CN, CV, CVP);
    check_grad("classifier.logits", cls_logits_in, dlogits, CN * CVP);
    for (int i = 0; i < CN; i++)
        for (int v = CV; v < CVP; v++) CHECK(dlogits[i * CVP + v] == 0, "padding column %d has a gradient", v);
}

// ---- whole model ----
static Model gm;
static int gm_inputs[2 * 8], gm_targets[2 * 8];
static double model_objective(void) { return model_forward(&gm, gm_inputs, gm_targets, 2, 8); }
static void check_model(const char *preset) {
    ModelConfig cfg;
    CHECK(model_preset(&cfg, preset) == 0, "%s", scpt_error());
    model_create(&gm, &cfg);
    model_init_weights(&gm, 42);
    // larger weights than the init so every path carries signal (std 0.02 makes deep
    // layers' gradients tiny compared with the absolute tolerance)
    uint64_t s = 7;
    for (size_t i = 0; i < gm.num_params; i++) gm.params[i] += 0.3 * (2 * rng_uniform(&s) - 1);
    for (int i = 0; i < 16; i++) {
        gm_inputs[i] = (i * 37 + 11) % cfg.vocab_size;
        gm_targets[i] = i == 5 ? -1 : (i * 53 + 3) % cfg.vocab_size;
    }
    case_objective = model_objective;
    model_zero_grad(&gm);
    model_objective();
    model_backward(&gm, 1.0);
    for (int t = 0; t < NUM_PARAM_TENSORS; t++) {
        ParamTensor *pt = &gm.tensors[t];
        if (pt->size == 0) continue;
        char what[64];
        snprintf(what, sizeof what, "%s.%s", preset, pt->name);
        check_grad(what, gm.params + pt->offset, gm.grads + pt->offset, pt->size);
    }
    model_free(&gm);
}
static void test_model_gpt2(void) { check_model("tiny-gpt2"); }
static void test_model_llama(void) { check_model("tiny-llama"); }

int main(void) {
    RUN_TEST(test_encoder);
    RUN_TEST(test_norms);
    RUN_TEST(test_matmul);
    RUN_TEST(test_rope_attention);
    RUN_TEST(test_pointwise);
    RUN_TEST(test_classifier);
    RUN_TEST(test_model_gpt2);
    RUN_TEST(test_model_llama);
    while (num_buffers) free(buffers[--num_buffers]);
    return test_summary();
}
