// Parameter layout, initialisation, forward and backward of the whole model.
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "model.h"
#include "rng.h"
#include "util.h"

static const char *TENSOR_NAMES[NUM_PARAM_TENSORS] = {
    "wte", "wpe", "ln1w", "ln1b", "qkvw", "qkvb", "attprojw", "attprojb", "ln2w", "ln2b",
    "fcw", "fcb", "fcprojw", "fcprojb", "lnfw", "lnfb", "lm_head",
};

int param_tensor_index(const char *name) {
    for (int i = 0; i < NUM_PARAM_TENSORS; i++)
        if (strcmp(name, TENSOR_NAMES[i]) == 0) return i;
    return -1;
}

static void set_tensor(ParamTensor *t, int ndim, int64_t d0, int64_t d1, int64_t d2) {
    t->ndim = ndim;
    t->shape[0] = d0;
    t->shape[1] = d1;
    t->shape[2] = d2;
    t->size = (size_t)d0 * (ndim > 1 ? d1 : 1) * (ndim > 2 ? d2 : 1);
}

// Shapes and offsets of every parameter tensor; returns the total element count.
static size_t layout_params(ParamTensor *t, const ModelConfig *c) {
    int gpt2 = c->arch == ARCH_GPT2, L = c->n_layer, C = c->n_embd, Vp = c->padded_vocab_size;
    for (int i = 0; i < NUM_PARAM_TENSORS; i++) t[i].name = TENSOR_NAMES[i];
    set_tensor(&t[P_WTE], 2, Vp, C, 0);
    set_tensor(&t[P_WPE], 2, gpt2 ? c->max_seq_len : 0, C, 0);
    set_tensor(&t[P_LN1W], 2, L, C, 0);
    set_tensor(&t[P_LN1B], 2, gpt2 ? L : 0, C, 0);
    set_tensor(&t[P_QKVW], 3, L, qkv_channels(c), C);
    set_tensor(&t[P_QKVB], 2, gpt2 ? L : 0, qkv_channels(c), 0);
    set_tensor(&t[P_ATTPROJW], 3, L, C, C);
    set_tensor(&t[P_ATTPROJB], 2, gpt2 ? L : 0, C, 0);
    set_tensor(&t[P_LN2W], 2, L, C, 0);
    set_tensor(&t[P_LN2B], 2, gpt2 ? L : 0, C, 0);
    set_tensor(&t[P_FCW], 3, L, fc_channels(c), C);
    set_tensor(&t[P_FCB], 2, gpt2 ? L : 0, fc_channels(c), 0);
    set_tensor(&t[P_FCPROJW], 3, L, C, c->ffn_hidden);
    set_tensor(&t[P_FCPROJB], 2, gpt2 ? L : 0, C, 0);
    set_tensor(&t[P_LNFW], 1, C, 0, 0);
    set_tensor(&t[P_LNFB], 1, gpt2 ? C : 0, 0, 0);
    set_tensor(&t[P_LMHEAD], 2, c->tied_embeddings ? 0 : Vp, C, 0);
    size_t offset = 0;
    for (int i = 0; i < NUM_PARAM_TENSORS; i++) {
        t[i].offset = offset;
        offset += t[i].size;
    }
    return offset;
}

size_t model_param_count(const ModelConfig *cfg) {
    ParamTensor t[NUM_PARAM_TENSORS];
    return layout_params(t, cfg);
}

size_t model_param_layout(ParamTensor *tensors, const ModelConfig *cfg) { return layout_params(tensors, cfg); }

void model_create(Model *m, const ModelConfig *cfg) {
    memset(m, 0, sizeof *m);
    m->config = *cfg;
    size_t offset = layout_params(m->tensors, cfg);
    m->num_params = offset;
    m->params = xcalloc(offset, sizeof(real));
    m->grads = xcalloc(offset, sizeof(real));
}

// GPT-2's initialisation: N(0, 0.02) weights, 0.01 for positions, residual output
// projections scaled by 1/sqrt(2 * n_layer), norms at 1, biases at 0. Each
// 64k-element chunk has its own random stream, so the result is independent of
// the thread count and of the order tensors are visited.
void model_init_weights(Model *m, uint64_t seed) {
    const ModelConfig *c = &m->config;
    double residual_std = 0.02 / sqrt(2.0 * c->n_layer);
    memset(m->params, 0, m->num_params * sizeof(real));
    for (int i = 0; i < NUM_PARAM_TENSORS; i++) {
        ParamTensor *t = &m->tensors[i];
        if (t->size == 0) continue;
        double std = 0.02;
        if (i == P_WPE) std = 0.01;
        if (i == P_ATTPROJW || i == P_FCPROJW) std = residual_std;
        if (i == P_LN1W || i == P_LN2W || i == P_LNFW) {
            for (size_t j = 0; j < t->size; j++) m->params[t->offset + j] = 1;
            continue;
        }
        if (t->ndim == 1 || i == P_LN1B || i == P_LN2B || i == P_QKVB || i == P_ATTPROJB || i == P_FCB ||
            i == P_FCPROJB)
            continue;   // biases stay 0
        // the padded vocabulary rows of the embedding and the head stay 0
        size_t n = (i == P_WTE || i == P_LMHEAD) ? (size_t)c->vocab_size * c->n_embd : t->size;
        enum { CHUNK = 1 << 16 };
#pragma omp parallel for
        for (size_t start = 0; start < n; start += CHUNK) {
            uint64_t state = seed_of(seed, i, start / CHUNK);
            size_t end = start + CHUNK < n ? start + CHUNK : n;
            for (size_t j = start; j < end; j++) m->params[t->offset + j] = (real)(std * rng_normal(&state));
        }
    }
}

// Lays out every activation tensor of a B x T pass in one block; returns its size.
static size_t layout_activations(Activations *a, real *base, const ModelConfig *c, int B, int T) {
    size_t N = (size_t)B * T, L = c->n_layer, C = c->n_embd, NH = c->n_head;
    size_t sizes[] = {
        N * C, L * N * C, L * N, L * N, L * N * qkv_channels(c), L * N * C, L * B * NH * T * T,
        L * N * C, L * N * C, L * N * C, L * N, L * N, L * N * fc_channels(c), L * N * c->ffn_hidden,
        L * N * C, L * N * C, N * C, N, N, N * c->padded_vocab_size, N,
    };
    real **ptrs[] = {
        &a->encoded, &a->ln1, &a->ln1_mean, &a->ln1_rstd, &a->qkv, &a->atty, &a->att,
        &a->attproj, &a->residual2, &a->ln2, &a->ln2_mean, &a->ln2_rstd, &a->fch, &a->fch_act,
        &a->fcproj, &a->residual3, &a->lnf, &a->lnf_mean, &a->lnf_rstd, &a->logits, &a->losses,
    };
    size_t total = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        if (base) *ptrs[i] = base + total;
        total += sizes[i];
    }
    return total;
}

size_t model_activation_count(const ModelConfig *c, int B, int T) {
    Activations a;
    return layout_activations(&a, NULL, c, B, T);
}

void model_reserve(Model *m, int B, int T) {
    const ModelConfig *c = &m->config;
    if (T > c->max_seq_len) die("sequence length %d exceeds the model's maximum of %d", T, c->max_seq_len);
    free(m->act_memory);
    free(m->grad_act_memory);
    free(m->rope_cos);
    free(m->rope_sin);
    m->act_count = layout_activations(&m->acts, NULL, c, B, T);
    m->act_memory = xcalloc(m->act_count, sizeof(real));
    m->grad_act_memory = xcalloc(m->act_count, sizeof(real));
    layout_activations(&m->acts, m->act_memory, c, B, T);
    layout_activations(&m->grad_acts, m->grad_act_memory, c, B, T);
    m->rope_cos = m->rope_sin = NULL;
    if (c->arch == ARCH_LLAMA) {
        size_t half = head_size(c) / 2;
        m->rope_cos = xmalloc(sizeof(real) * T * half);
        m->rope_sin = xmalloc(sizeof(real) * T * half);
        rope_tables(m->rope_cos, m->rope_sin, T, head_size(c), c->rope_theta, c->rope_scale,
                    c->rope_low_freq_factor, c->rope_high_freq_factor, c->rope_original_context);
    }
    m->B = B;
    m->T = T;
}

// the tensor's pointer, or NULL for a tensor this family does not have
static real *opt(real *base, const Model *m, int t) { return m->tensors[t].size ? base + m->tensors[t].offset : NULL; }

// Pointers into one layer's slice of the activations (allocated for m->B x m->T).
typedef struct {
    real *residual, *ln1, *ln1_mean, *ln1_rstd, *qkv, *atty, *att, *attproj, *residual2;
    real *ln2, *ln2_mean, *ln2_rstd, *fch, *fch_act, *fcproj, *residual3;
} LayerActs;

static LayerActs layer_acts(const Model *m, const Activations *a, int l) {
    const ModelConfig *c = &m->config;
    size_t N = (size_t)m->B * m->T, C = c->n_embd;
    return (LayerActs){
        .residual = l == 0 ? a->encoded : a->residual3 + (l - 1) * N * C,
        .ln1 = a->ln1 + l * N * C, .ln1_mean = a->ln1_mean + l * N, .ln1_rstd = a->ln1_rstd + l * N,
        .qkv = a->qkv + l * N * qkv_channels(c), .atty = a->atty + l * N * C,
        .att = a->att + l * (size_t)m->B * c->n_head * m->T * m->T,
        .attproj = a->attproj + l * N * C, .residual2 = a->residual2 + l * N * C,
        .ln2 = a->ln2 + l * N * C, .ln2_mean = a->ln2_mean + l * N, .ln2_rstd = a->ln2_rstd + l * N,
        .fch = a->fch + l * N * fc_channels(c), .fch_act = a->fch_act + l * N * c->ffn_hidden,
        .fcproj = a->fcproj + l * N * C, .residual3 = a->residual3 + l * N * C,
    };
}

// Pointers into one layer's slice of a parameter-shaped buffer (params or grads).
typedef struct {
    real *ln1w, *ln1b, *qkvw, *qkvb, *attprojw, *attprojb, *ln2w, *ln2b, *fcw, *fcb, *fcprojw, *fcprojb;
} LayerParams;

static LayerParams layer_params(const Model *m, real *base, int l) {
    const ModelConfig *c = &m->config;
    size_t C = c->n_embd, QKV = qkv_channels(c), FC = fc_channels(c), H = c->ffn_hidden;
    real *b;
#define SLICE(t, per_layer) ((b = opt(base, m, t)) ? b + l * (per_layer) : NULL)
    return (LayerParams){
        .ln1w = SLICE(P_LN1W, C), .ln1b = SLICE(P_LN1B, C),
        .qkvw = SLICE(P_QKVW, QKV * C), .qkvb = SLICE(P_QKVB, QKV),
        .attprojw = SLICE(P_ATTPROJW, C * C), .attprojb = SLICE(P_ATTPROJB, C),
        .ln2w = SLICE(P_LN2W, C), .ln2b = SLICE(P_LN2B, C),
        .fcw = SLICE(P_FCW, FC * C), .fcb = SLICE(P_FCB, FC),
        .fcprojw = SLICE(P_FCPROJW, C * H), .fcprojb = SLICE(P_FCPROJB, C),
    };
#undef SLICE
}

static void norm_forward(const Model *m, real *out, real *mean, real *rstd, const real *inp, const real *w,
                         const real *b, int N) {
    const ModelConfig *c = &m->config;
    if (c->arch == ARCH_GPT2) layernorm_forward(out, mean, rstd, inp, w, b, N, c->n_embd, c->norm_eps);
    else rmsnorm_forward(out, rstd, inp, w, N, c->n_embd, c->norm_eps);
}

static void norm_backward(const Model *m, real *dinp, real *dw, real *db, const real *dout, const real *inp,
                          const real *w, const real *mean, const real *rstd, int N) {
    const ModelConfig *c = &m->config;
    if (c->arch == ARCH_GPT2) layernorm_backward(dinp, dw, db, dout, inp, w, mean, rstd, N, c->n_embd);
    else rmsnorm_backward(dinp, dw, dout, inp, w, rstd, N, c->n_embd);
}

static real *head_weight(const Model *m, real *base) {
    return m->config.tied_embeddings ? base + m->tensors[P_WTE].offset : base + m->tensors[P_LMHEAD].offset;
}

real model_forward(Model *m, const int *inputs, const int *targets, int B, int T) {
    const ModelConfig *c = &m->config;
    if (B > m->B || T > m->T) model_reserve(m, B > m->B ? B : m->B, T > m->T ? T : m->T);
    int N = B * T, C = c->n_embd, NH = c->n_head, NKV = c->n_kv_head, HS = head_size(c);
    Activations *a = &m->acts;
    encoder_forward(a->encoded, inputs, param_ptr(m, P_WTE), opt(m->params, m, P_WPE), B, T, C);
    for (int l = 0; l < c->n_layer; l++) {
        LayerActs x = layer_acts(m, a, l);
        LayerParams p = layer_params(m, m->params, l);
        norm_forward(m, x.ln1, x.ln1_mean, x.ln1_rstd, x.residual, p.ln1w, p.ln1b, N);
        matmul_forward(x.qkv, x.ln1, p.qkvw, p.qkvb, N, C, qkv_channels(c));
        if (c->arch == ARCH_LLAMA) rope_forward(x.qkv, m->rope_cos, m->rope_sin, B, T, NH, NKV, HS);
        attention_forward(x.atty, x.att, x.qkv, B, T, NH, NKV, HS);
        matmul_forward(x.attproj, x.atty, p.attprojw, p.attprojb, N, C, C);
        residual_forward(x.residual2, x.residual, x.attproj, (size_t)N * C);
        norm_forward(m, x.ln2, x.ln2_mean, x.ln2_rstd, x.residual2, p.ln2w, p.ln2b, N);
        matmul_forward(x.fch, x.ln2, p.fcw, p.fcb, N, C, fc_channels(c));
        if (c->arch == ARCH_GPT2) gelu_forward(x.fch_act, x.fch, (size_t)N * c->ffn_hidden);
        else swiglu_forward(x.fch_act, x.fch, N, c->ffn_hidden);
        matmul_forward(x.fcproj, x.fch_act, p.fcprojw, p.fcprojb, N, c->ffn_hidden, C);
        residual_forward(x.residual3, x.residual2, x.fcproj, (size_t)N * C);
    }
    real *last = layer_acts(m, a, c->n_layer - 1).residual3;
    norm_forward(m, a->lnf, a->lnf_mean, a->lnf_rstd, last, param_ptr(m, P_LNFW), opt(m->params, m, P_LNFB), N);
    matmul_forward(a->logits, a->lnf, head_weight(m, m->params), NULL, N, C, c->padded_vocab_size);
    m->last_inputs = inputs;
    m->last_targets = targets;
    m->last_B = B;
    m->last_T = T;
    m->last_count = 0;
    m->mean_loss = 0;
    if (!targets) return 0;
    classifier_forward(a->losses, a->logits, targets, N, c->vocab_size, c->padded_vocab_size);
    double sum = 0;
    for (int i = 0; i < N; i++) {
        if (targets[i] < 0) continue;
        sum += a->losses[i];
        m->last_count++;
    }
    m->mean_loss = m->last_count ? (real)(sum / m->last_count) : 0;
    return m->mean_loss;
}

void model_backward(Model *m, real loss_scale) {
    const ModelConfig *c = &m->config;
    if (!m->last_targets) die("model_backward: the last forward had no targets");
    int B = m->last_B, T = m->last_T, N = B * T, C = c->n_embd;
    int NH = c->n_head, NKV = c->n_kv_head, HS = head_size(c);
    Activations *a = &m->acts, *d = &m->grad_acts;
    memset(m->grad_act_memory, 0, m->act_count * sizeof(real));
    if (m->last_count == 0) return;
    classifier_backward(d->logits, a->logits, m->last_targets, loss_scale / m->last_count, N, c->vocab_size,
                        c->padded_vocab_size);
    matmul_backward(d->lnf, head_weight(m, m->grads), NULL, d->logits, a->lnf, head_weight(m, m->params), N, C,
                    c->padded_vocab_size);
    real *last = layer_acts(m, a, c->n_layer - 1).residual3;
    real *dlast = layer_acts(m, d, c->n_layer - 1).residual3;
    norm_backward(m, dlast, grad_ptr(m, P_LNFW), opt(m->grads, m, P_LNFB), d->lnf, last, param_ptr(m, P_LNFW),
                  a->lnf_mean, a->lnf_rstd, N);
    for (int l = c->n_layer - 1; l >= 0; l--) {
        LayerActs x = layer_acts(m, a, l), dx = layer_acts(m, d, l);
        LayerParams p = layer_params(m, m->params, l), dp = layer_params(m, m->grads, l);
        residual_backward(dx.residual2, dx.fcproj, dx.residual3, (size_t)N * C);
        matmul_backward(dx.fch_act, dp.fcprojw, dp.fcprojb, dx.fcproj, x.fch_act, p.fcprojw, N, c->ffn_hidden, C);
        if (c->arch == ARCH_GPT2) gelu_backward(dx.fch, x.fch, dx.fch_act, (size_t)N * c->ffn_hidden);
        else swiglu_backward(dx.fch, x.fch, dx.fch_act, N, c->ffn_hidden);
        matmul_backward(dx.ln2, dp.fcw, dp.fcb, dx.fch, x.ln2, p.fcw, N, C, fc_channels(c));
        norm_backward(m, dx.residual2, dp.ln2w, dp.ln2b, dx.ln2, x.residual2, p.ln2w, x.ln2_mean, x.ln2_rstd, N);
        residual_backward(dx.residual, dx.attproj, dx.residual2, (size_t)N * C);
        matmul_backward(dx.atty, dp.attprojw, dp.attprojb, dx.attproj, x.atty, p.attprojw, N, C, C);
        attention_backward(dx.qkv, dx.atty, x.qkv, x.att, B, T, NH, NKV, HS);
        if (c->arch == ARCH_LLAMA) rope_backward(dx.qkv, m->rope_cos, m->rope_sin, B, T, NH, NKV, HS);
        matmul_backward(dx.ln1, dp.qkvw, dp.qkvb, dx.qkv, x.ln1, p.qkvw, N, C, qkv_channels(c));
        norm_backward(m, dx.residual, dp.ln1w, dp.ln1b, dx.ln1, x.residual, p.ln1w, x.ln1_mean, x.ln1_rstd, N);
    }
    encoder_backward(grad_ptr(m, P_WTE), opt(m->grads, m, P_WPE), d->encoded, m->last_inputs, B, T, C);
}

void model_zero_grad(Model *m) { memset(m->grads, 0, m->num_params * sizeof(real)); }

void model_free(Model *m) {
    free(m->params);
    free(m->grads);
    free(m->act_memory);
    free(m->grad_act_memory);
    free(m->rope_cos);
    free(m->rope_sin);
    memset(m, 0, sizeof *m);
}
