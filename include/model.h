// The transformer both families share: GPT-2 (learned positions, LayerNorm, GELU,
// biases, tied head) and Llama 3 (RoPE, RMSNorm, SwiGLU, grouped-query attention,
// no biases, tied or untied head), as a config over one parameter layout.
#ifndef SCPT_MODEL_H
#define SCPT_MODEL_H

#include <stdint.h>
#include "layers.h"

typedef enum { ARCH_GPT2 = 0, ARCH_LLAMA = 1 } Arch;

typedef struct {
    Arch arch;
    int vocab_size;         // real ids (50257, 128256)
    int padded_vocab_size;  // rows of wte/lm_head, rounded up to 128 (extra rows stay 0)
    int max_seq_len;        // GPT-2: rows of wpe; Llama: longest sequence the RoPE tables cover
    int n_layer, n_head, n_kv_head, n_embd;
    int ffn_hidden;         // MLP width: 4*n_embd for GPT-2, the SwiGLU hidden size for Llama
    int tied_embeddings;    // lm head shares wte
    float norm_eps;
    float rope_theta;
    // Llama 3.1 RoPE rescaling (rope_scale <= 1: off)
    float rope_scale, rope_low_freq_factor, rope_high_freq_factor;
    int rope_original_context;
} ModelConfig;

// parameter tensors, in this order in memory (GPT-2's order is llm.c's); a size
// of 0 marks a tensor the family does not have
enum {
    P_WTE, P_WPE, P_LN1W, P_LN1B, P_QKVW, P_QKVB, P_ATTPROJW, P_ATTPROJB, P_LN2W, P_LN2B,
    P_FCW, P_FCB, P_FCPROJW, P_FCPROJB, P_LNFW, P_LNFB, P_LMHEAD, NUM_PARAM_TENSORS
};

typedef struct {
    const char *name;
    int ndim;
    int64_t shape[3];
    size_t size, offset;    // elements
} ParamTensor;

int param_tensor_index(const char *name);   // P_* of a tensor name, -1 when unknown

// Named presets with the published shapes: gpt2-124m, gpt2-350m, gpt2-774m,
// gpt2-1558m, llama3.2-1b, llama3.2-3b, llama3-8b, and tiny ones for tests and demos.
int model_preset(ModelConfig *cfg, const char *name);   // -1 when unknown
const char *model_preset_names(void);                   // for --help
int model_config_check(const ModelConfig *cfg);         // -1 with scpt_error() when inconsistent
static inline int head_size(const ModelConfig *c) { return c->n_embd / c->n_head; }
static inline int qkv_channels(const ModelConfig *c) { return (c->n_head + 2 * c->n_kv_head) * head_size(c); }
static inline int fc_channels(const ModelConfig *c) { return c->arch == ARCH_GPT2 ? c->ffn_hidden : 2 * c->ffn_hidden; }

// activations of one forward pass, sized for B x T at allocation
typedef struct {
    real *encoded;                          // (N, C) residual stream entering layer 0
    real *ln1, *ln1_mean, *ln1_rstd;        // (L, N, C), (L, N), (L, N)
    real *qkv;                              // (L, N, QKV), after RoPE
    real *atty;                             // (L, N, C)
    real *att;                              // (L, B, NH, T, T) softmax probabilities
    real *attproj, *residual2;              // (L, N, C)
    real *ln2, *ln2_mean, *ln2_rstd;        // (L, N, C), (L, N), (L, N)
    real *fch;                              // (L, N, FC) MLP pre-activation
    real *fch_act;                          // (L, N, H) after GELU / SwiGLU
    real *fcproj, *residual3;               // (L, N, C)
    real *lnf, *lnf_mean, *lnf_rstd;        // (N, C), (N), (N)
    real *logits;                           // (N, Vp), probabilities after the loss
    real *losses;                           // (N)
} Activations;

typedef struct {
    ModelConfig config;
    ParamTensor tensors[NUM_PARAM_TENSORS];
    size_t num_params;
    real *params, *grads;                   // flat, tensors at their offsets
    // sized on the first forward (or by model_reserve)
    int B, T;
    Activations acts, grad_acts;
    real *act_memory, *grad_act_memory;
    size_t act_count;                       // elements in each of the two blocks
    real *rope_cos, *rope_sin;
    const int *last_inputs, *last_targets;  // of the last forward, for backward
    int last_B, last_T, last_count;         // count = positions with a target
    real mean_loss;
} Model;

size_t model_param_count(const ModelConfig *cfg);       // elements of the flat parameter block, padded vocab included
// every tensor's shape and offset (NUM_PARAM_TENSORS entries), without allocating; returns model_param_count
size_t model_param_layout(ParamTensor *tensors, const ModelConfig *cfg);
void model_create(Model *m, const ModelConfig *cfg);      // allocates params and grads (zeroed)
void model_init_weights(Model *m, uint64_t seed);          // GPT-2 style normal init
void model_reserve(Model *m, int B, int T);                // allocates activations for B x T
size_t model_activation_count(const ModelConfig *cfg, int B, int T);   // elements model_reserve allocates, twice
// Forward over inputs (B, T). With targets, returns the mean loss over positions with
// a target >= 0 and leaves per-position losses in acts.losses, probabilities in
// acts.logits; without, leaves the raw logits and returns 0.
real model_forward(Model *m, const int *inputs, const int *targets, int B, int T);
// Backward of loss_scale * (mean loss of the last forward): adds into m->grads.
void model_backward(Model *m, real loss_scale);
void model_zero_grad(Model *m);
void model_free(Model *m);

static inline real *param_ptr(const Model *m, int t) { return m->params + m->tensors[t].offset; }
static inline real *grad_ptr(const Model *m, int t) { return m->grads + m->tensors[t].offset; }

#endif
