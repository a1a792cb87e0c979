// The layers of the model, on the CPU. Each family here has a CUDA twin in kernels/
// that is tested against it, so these are the reference semantics:
//   - shapes are row-major; N is the number of token positions (B*T);
//   - forward functions overwrite their outputs;
//   - backward functions ADD into every gradient they produce (input and parameter
//     gradients alike), so callers zero them once per optimizer step / backward pass;
//   - results do not depend on the number of OpenMP threads (fixed summation orders).
#ifndef SCPT_LAYERS_H
#define SCPT_LAYERS_H

#include <stddef.h>

// The CPU path computes in float; the gradient-check build compiles the same files
// with -DSCPT_F64 so finite differences are meaningful.
#ifdef SCPT_F64
typedef double real;
#else
typedef float real;
#endif

// token (+ learned position, when wpe != NULL) embedding: out[b,t] = wte[tok] + wpe[t]
void encoder_forward(real *out, const int *tokens, const real *wte, const real *wpe, int B, int T, int C);
void encoder_backward(real *dwte, real *dwpe, const real *dout, const int *tokens, int B, int T, int C);

// LayerNorm over the last dim; saves mean and 1/std per row for backward
void layernorm_forward(real *out, real *mean, real *rstd, const real *inp, const real *weight,
                       const real *bias, int N, int C, float eps);
void layernorm_backward(real *dinp, real *dweight, real *dbias, const real *dout, const real *inp,
                        const real *weight, const real *mean, const real *rstd, int N, int C);

// RMSNorm: out = inp / sqrt(mean(inp^2) + eps) * weight
void rmsnorm_forward(real *out, real *rstd, const real *inp, const real *weight, int N, int C, float eps);
void rmsnorm_backward(real *dinp, real *dweight, const real *dout, const real *inp, const real *weight,
                      const real *rstd, int N, int C);

// out[N,OC] = inp[N,C] @ weight[OC,C]^T (+ bias[OC] when not NULL)
void matmul_forward(real *out, const real *inp, const real *weight, const real *bias, int N, int C, int OC);
void matmul_backward(real *dinp, real *dweight, real *dbias, const real *dout, const real *inp,
                     const real *weight, int N, int C, int OC);

// Rotary position embedding, rotating adjacent pairs (x[2i], x[2i+1]) of each q and k
// head in place inside a qkv buffer laid out [q: NH*HS | k: NKV*HS | v: NKV*HS] per token.
// cos/sin tables are [T][HS/2] (rope_tables fills them).
void rope_tables(real *cos_table, real *sin_table, int T, int HS, double theta,
                 double scale_factor, double low_freq_factor, double high_freq_factor, int original_context);
void rope_forward(real *qkv, const real *cos_table, const real *sin_table, int B, int T, int NH, int NKV, int HS);
void rope_backward(real *dqkv, const real *cos_table, const real *sin_table, int B, int T, int NH, int NKV, int HS);

// Causal self-attention with grouped-query heads (query head h reads kv head h/(NH/NKV)).
// qkv as for rope; out[B,T,NH*HS]; att[B,NH,T,T] keeps the softmax probabilities for backward.
void attention_forward(real *out, real *att, const real *qkv, int B, int T, int NH, int NKV, int HS);
void attention_backward(real *dqkv, const real *dout, const real *qkv, const real *att,
                        int B, int T, int NH, int NKV, int HS);

// GELU, tanh approximation (GPT-2)
void gelu_forward(real *out, const real *inp, size_t n);
void gelu_backward(real *dinp, const real *inp, const real *dout, size_t n);

// SwiGLU: inp rows are [gate (H) | up (H)]; out[N,H] = silu(gate) * up
void swiglu_forward(real *out, const real *inp, int N, int H);
void swiglu_backward(real *dinp, const real *inp, const real *dout, int N, int H);

// out = a + b
void residual_forward(real *out, const real *a, const real *b, size_t n);
void residual_backward(real *da, real *db, const real *dout, size_t n);

// residual = a + b, then the norm of residual into out (as residual_forward then the
// norm's forward); the backward is residual_backward's identity plus the norm's backward
void residual_layernorm_forward(real *residual, real *out, real *mean, real *rstd, const real *a, const real *b,
                                const real *weight, const real *bias, int N, int C, float eps);
void residual_rmsnorm_forward(real *residual, real *out, real *rstd, const real *a, const real *b, const real *weight,
                              int N, int C, float eps);

// Softmax over the first V of Vp logits per row (the rest is vocabulary padding),
// cross-entropy against targets. Overwrites logits with the probabilities; a target
// < 0 marks a position without loss. losses[n] = -log p[target].
void classifier_forward(real *losses, real *logits, const int *targets, int N, int V, int Vp);
// dlogits[n,v] += dloss * (p[v] - [v == target]) for positions with a target
void classifier_backward(real *dlogits, const real *probs, const int *targets, real dloss, int N, int V, int Vp);

// AdamW with decoupled weight decay on n elements, t = 1-based step
void adamw_update(real *params, const real *grads, real *m, real *v, size_t n, float lr, float beta1,
                  float beta2, float eps, float weight_decay, int t);

// sum of squares in double, in a fixed order
double sum_squares(const real *x, size_t n);

#endif
