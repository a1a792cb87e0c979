// The tensor maps between our flat parameter layout and the Hugging Face and GGUF
// names. Our weights are (out, in) row-major like torch.nn.Linear; q, k, v are rows
// of one qkv matrix per layer, gate and up rows of one fc matrix.
#include "convert_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gguf.h"
#include "util.h"

int round_up_vocab(int vocab) { return (vocab + 127) / 128 * 128; }

int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

uint16_t *to_half(float *f, size_t n, int bf16) {
    uint16_t *h = xmalloc(n * sizeof *h);
    for (size_t j = 0; j < n; j++) h[j] = bf16 ? fp32_to_bf16(f[j]) : fp32_to_fp16(f[j]);
    free(f);
    return h;
}

int config_check_in(const ModelConfig *c, const char *path) {
    if (model_config_check(c) == 0) return 0;
    char why[256];
    snprintf(why, sizeof why, "%s", scpt_error());
    scpt_set_error("%s: %s", path, why);
    return -1;
}

typedef struct {
    TensorMap *v;
    int n, cap;
} MapList;

static TensorMap *add(MapList *l, const char *name, size_t offset, int64_t rows, int64_t cols) {
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
        if (!l->v) abort();
    }
    TensorMap *t = &l->v[l->n++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->offset = offset;
    t->rows = rows;
    t->cols = cols;
    t->ndim = cols > 1 || rows == 0 ? 2 : 1;
    return t;
}

// names of one family's tensors: global ones, then per-layer ones with %d
typedef struct {
    const char *wte, *wpe, *lnfw, *lnfb, *head;
    const char *ln1w, *ln1b, *q, *k, *v, *qkvw, *qkvb, *attprojw, *attprojb, *ln2w, *ln2b;
    const char *gate, *up, *fcw, *fcb, *fcprojw, *fcprojb;
} Names;

static const Names HF_GPT2 = {
    "wte.weight", "wpe.weight", "ln_f.weight", "ln_f.bias", NULL,
    "h.%d.ln_1.weight", "h.%d.ln_1.bias", NULL, NULL, NULL, "h.%d.attn.c_attn.weight", "h.%d.attn.c_attn.bias",
    "h.%d.attn.c_proj.weight", "h.%d.attn.c_proj.bias", "h.%d.ln_2.weight", "h.%d.ln_2.bias",
    NULL, NULL, "h.%d.mlp.c_fc.weight", "h.%d.mlp.c_fc.bias", "h.%d.mlp.c_proj.weight", "h.%d.mlp.c_proj.bias",
};
static const Names HF_LLAMA = {
    "model.embed_tokens.weight", NULL, "model.norm.weight", NULL, "lm_head.weight",
    "model.layers.%d.input_layernorm.weight", NULL, "model.layers.%d.self_attn.q_proj.weight",
    "model.layers.%d.self_attn.k_proj.weight", "model.layers.%d.self_attn.v_proj.weight", NULL, NULL,
    "model.layers.%d.self_attn.o_proj.weight", NULL, "model.layers.%d.post_attention_layernorm.weight", NULL,
    "model.layers.%d.mlp.gate_proj.weight", "model.layers.%d.mlp.up_proj.weight", NULL, NULL,
    "model.layers.%d.mlp.down_proj.weight", NULL,
};
// llama.cpp's names (gguf-py's tensor_mapping): the same for both architectures
static const Names GGUF_NAMES = {
    "token_embd.weight", "position_embd.weight", "output_norm.weight", "output_norm.bias", "output.weight",
    "blk.%d.attn_norm.weight", "blk.%d.attn_norm.bias", "blk.%d.attn_q.weight", "blk.%d.attn_k.weight",
    "blk.%d.attn_v.weight", "blk.%d.attn_qkv.weight", "blk.%d.attn_qkv.bias", "blk.%d.attn_output.weight",
    "blk.%d.attn_output.bias", "blk.%d.ffn_norm.weight", "blk.%d.ffn_norm.bias", "blk.%d.ffn_gate.weight",
    "blk.%d.ffn_up.weight", "blk.%d.ffn_up.weight", "blk.%d.ffn_up.bias", "blk.%d.ffn_down.weight",
    "blk.%d.ffn_down.bias",
};

TensorMap *tensor_map(const Model *m, NameStyle style, int *n) {
    const ModelConfig *c = &m->config;
    int gpt2 = c->arch == ARCH_GPT2, hf = style == NAMES_HF;
    const Names *nm = !hf ? &GGUF_NAMES : gpt2 ? &HF_GPT2 : &HF_LLAMA;
    size_t off[NUM_PARAM_TENSORS];
    for (int i = 0; i < NUM_PARAM_TENSORS; i++) off[i] = m->tensors[i].offset;
    int L = c->n_layer, C = c->n_embd, V = c->vocab_size, H = c->ffn_hidden, HS = head_size(c);
    int QKV = qkv_channels(c), FC = fc_channels(c);
    MapList l = {0};
    char name[96];
    add(&l, nm->wte, off[P_WTE], V, C);
    if (gpt2) add(&l, nm->wpe, off[P_WPE], c->max_seq_len, C);
    for (int i = 0; i < L; i++) {
#define LAYER(fmt) (snprintf(name, sizeof name, fmt, i), name)
        add(&l, LAYER(nm->ln1w), off[P_LN1W] + (size_t)i * C, C, 1);
        if (gpt2) add(&l, LAYER(nm->ln1b), off[P_LN1B] + (size_t)i * C, C, 1);
        size_t qkv = off[P_QKVW] + (size_t)i * QKV * C;
        if (gpt2) {
            add(&l, LAYER(nm->qkvw), qkv, QKV, C)->transpose = hf;
            add(&l, LAYER(nm->qkvb), off[P_QKVB] + (size_t)i * QKV, QKV, 1);
        } else {
            add(&l, LAYER(nm->q), qkv, (int64_t)c->n_head * HS, C)->rope_heads = hf ? c->n_head : 0;
            add(&l, LAYER(nm->k), qkv + (size_t)c->n_head * HS * C, (int64_t)c->n_kv_head * HS, C)->rope_heads =
                hf ? c->n_kv_head : 0;
            add(&l, LAYER(nm->v), qkv + (size_t)(c->n_head + c->n_kv_head) * HS * C, (int64_t)c->n_kv_head * HS, C);
        }
        add(&l, LAYER(nm->attprojw), off[P_ATTPROJW] + (size_t)i * C * C, C, C)->transpose = gpt2 && hf;
        if (gpt2) add(&l, LAYER(nm->attprojb), off[P_ATTPROJB] + (size_t)i * C, C, 1);
        add(&l, LAYER(nm->ln2w), off[P_LN2W] + (size_t)i * C, C, 1);
        if (gpt2) add(&l, LAYER(nm->ln2b), off[P_LN2B] + (size_t)i * C, C, 1);
        size_t fc = off[P_FCW] + (size_t)i * FC * C;
        if (gpt2) {
            add(&l, LAYER(nm->fcw), fc, FC, C)->transpose = hf;
            add(&l, LAYER(nm->fcb), off[P_FCB] + (size_t)i * FC, FC, 1);
        } else {   // our fc rows: gate, then up
            add(&l, LAYER(nm->gate), fc, H, C);
            add(&l, LAYER(nm->up), fc + (size_t)H * C, H, C);
        }
        add(&l, LAYER(nm->fcprojw), off[P_FCPROJW] + (size_t)i * C * H, C, H)->transpose = gpt2 && hf;
        if (gpt2) add(&l, LAYER(nm->fcprojb), off[P_FCPROJB] + (size_t)i * C, C, 1);
#undef LAYER
    }
    add(&l, nm->lnfw, off[P_LNFW], C, 1);
    if (gpt2) add(&l, nm->lnfb, off[P_LNFB], C, 1);
    if (!c->tied_embeddings) add(&l, nm->head, off[P_LMHEAD], V, C);
    *n = l.n;
    return l.v;
}

// Our row of external row r: Hugging Face orders each q/k head's rows as the first
// halves of the rotated pairs, then the second halves; we keep pairs adjacent.
static int64_t our_row(const TensorMap *t, int64_t r) {
    if (t->rope_heads <= 0) return r;
    int64_t hs = t->rows / t->rope_heads, h = r / hs, k = r % hs, half = hs / 2;
    return h * hs + (k < half ? 2 * k : 2 * (k - half) + 1);
}

void map_import(const TensorMap *t, const float *ext, real *ours) {
    real *dst = ours + t->offset;
    for (int64_t r = 0; r < t->rows; r++)
        for (int64_t c = 0; c < t->cols; c++)
            dst[our_row(t, r) * t->cols + c] = t->transpose ? ext[c * t->rows + r] : ext[r * t->cols + c];
}

void map_export(const TensorMap *t, const real *ours, float *ext) {
    const real *src = ours + t->offset;
    for (int64_t r = 0; r < t->rows; r++)
        for (int64_t c = 0; c < t->cols; c++) {
            float v = (float)src[our_row(t, r) * t->cols + c];
            if (t->transpose) ext[c * t->rows + r] = v;
            else ext[r * t->cols + c] = v;
        }
}
