// The layers of the model on the GPU: host-side launchers, one family per
// kernels/<family>.cu. Each mirrors its CPU twin in include/layers.h (same
// arguments in the same order and meaning, `_cuda` appended), with these rules:
//   - every pointer is a device pointer unless the comment says "host";
//   - activations, parameters and activation gradients are floatX (bf16);
//     parameter gradients, saved statistics (mean, rstd, logsumexp), losses,
//     master weights and AdamW moments are fp32; every sum is accumulated in fp32;
//   - forward overwrites its outputs, backward ADDS into every gradient;
//   - launches are asynchronous on the given stream; no launcher synchronizes or
//     allocates. Where a kernel needs workspace, <name>_scratch_bytes() says how
//     much and the caller passes it (it may be shared between launchers; its
//     contents do not survive a call);
//   - every backward is deterministic (fixed summation orders, no float atomics)
//     except encoder_backward_cuda and flash_attention_backward_cuda with
//     deterministic = 0.
#ifndef SCPT_KERNELS_H
#define SCPT_KERNELS_H

#include <stddef.h>
#include <stdint.h>
#include "cuda_common.h"

#ifdef __cplusplus
extern "C" {
#endif

// ---- encoder: out[b,t] = wte[tok] + wpe[t] (wpe may be NULL: Llama) ----------
void encoder_forward_cuda(floatX *out, const int *tokens, const floatX *wte, const floatX *wpe, int B, int T, int C,
                          cudaStream_t stream);
// dwte rows of repeated tokens: deterministic = 1 sorts the positions by token
// (stable) and sums each token's positions in order, needing scratch; 0 uses
// fp32 atomics (faster, order-dependent) and ignores scratch. dwpe (may be NULL)
// is always summed over b in order.
size_t encoder_backward_scratch_bytes(int B, int T);
void encoder_backward_cuda(float *dwte, float *dwpe, const floatX *dout, const int *tokens, int B, int T, int C,
                           int deterministic, void *scratch, cudaStream_t stream);

// ---- layernorm: mean and rstd [N] saved for backward -------------------------
void layernorm_forward_cuda(floatX *out, float *mean, float *rstd, const floatX *inp, const floatX *weight,
                            const floatX *bias, int N, int C, float eps, cudaStream_t stream);
// dweight/dbias: per-block partial sums in scratch, then summed in block order
size_t layernorm_backward_scratch_bytes(int N, int C);
void layernorm_backward_cuda(floatX *dinp, float *dweight, float *dbias, const floatX *dout, const floatX *inp,
                             const floatX *weight, const float *mean, const float *rstd, int N, int C,
                             void *scratch, cudaStream_t stream);

// ---- rmsnorm: rstd [N] saved for backward ------------------------------------
void rmsnorm_forward_cuda(floatX *out, float *rstd, const floatX *inp, const floatX *weight, int N, int C, float eps,
                          cudaStream_t stream);
size_t rmsnorm_backward_scratch_bytes(int N, int C);
void rmsnorm_backward_cuda(floatX *dinp, float *dweight, const floatX *dout, const floatX *inp, const floatX *weight,
                           const float *rstd, int N, int C, void *scratch, cudaStream_t stream);

// ---- rope: in place on the q and k heads of qkv [B,T,(NH+2*NKV)*HS], adjacent
// pairs; cos/sin tables [T][HS/2] in fp32 as rope_tables() fills them on the host
// (Llama 3.1 scaling included), copied to the device once -----------------------
void rope_forward_cuda(floatX *qkv, const float *cos_table, const float *sin_table, int B, int T, int NH, int NKV,
                       int HS, cudaStream_t stream);
void rope_backward_cuda(floatX *dqkv, const float *cos_table, const float *sin_table, int B, int T, int NH, int NKV,
                        int HS, cudaStream_t stream);

// ---- attention: fused causal attention with grouped-query heads, online softmax,
// no T x T matrix in memory. Instead of att[B,NH,T,T] the forward saves the
// logsumexp of each query row's scaled scores, lse[B,NH,T]; the backward recomputes
// the probabilities from it and needs the forward's out. HS must be 64 or 128;
// attention_supported() says whether a shape can run (0 with a reason otherwise).
int attention_supported(int NH, int NKV, int HS, const char **why);
void attention_forward_cuda(floatX *out, float *lse, const floatX *qkv, int B, int T, int NH, int NKV, int HS,
                            cudaStream_t stream);
// scratch holds rowsum(dout * out) per query row
size_t attention_backward_scratch_bytes(int B, int T, int NH);
void attention_backward_cuda(floatX *dqkv, const floatX *dout, const floatX *qkv, const floatX *out, const float *lse,
                             int B, int T, int NH, int NKV, int HS, void *scratch, cudaStream_t stream);
// D[B,NH,T] = rowsum(dout * out) per query row: the first step of every attention backward
void attention_rowdot_cuda(float *D, const floatX *dout, const floatX *out, int B, int T, int NH, int HS,
                           cudaStream_t stream);
// The same on tensor cores (kernels/flash_attention.cu: FlashAttention-2 style,
// bf16 mma.sync, sm_80+): same arguments and lse as above, results within bf16
// rounding of them (doc/kernels.md). Pointers that are not 16-byte aligned go to
// the fp32 kernels above. The backward's scratch (D and an fp32 dQ accumulator;
// flash_attention_backward_scratch_bytes, which also covers the fp32 fallback) adds
// dQ in a fixed order with deterministic = 1, by fp32 atomics with 0.
void flash_attention_forward_cuda(floatX *out, float *lse, const floatX *qkv, int B, int T, int NH, int NKV, int HS,
                                  cudaStream_t stream);
size_t flash_attention_backward_scratch_bytes(int B, int T, int NH, int HS);
void flash_attention_backward_cuda(floatX *dqkv, const floatX *dout, const floatX *qkv, const floatX *out,
                                   const float *lse, int B, int T, int NH, int NKV, int HS, int deterministic,
                                   void *scratch, cudaStream_t stream);
// The same through cuBLAS strided-batched bf16 GEMMs around causal-softmax kernels
// (kernels/attention_gemm.cu): any HS, but T x T scores in the scratch, whose size
// attention_gemm_scratch_bytes gives (the forward needs it too).
size_t attention_gemm_scratch_bytes(int B, int T, int NH, int NKV, int HS);
void attention_gemm_forward_cuda(floatX *out, float *lse, const floatX *qkv, int B, int T, int NH, int NKV, int HS,
                                 void *scratch, cudaStream_t stream);
void attention_gemm_backward_cuda(floatX *dqkv, const floatX *dout, const floatX *qkv, const floatX *out,
                                  const float *lse, int B, int T, int NH, int NKV, int HS, void *scratch,
                                  cudaStream_t stream);

// ---- gelu (tanh approximation) -------------------------------------------------
void gelu_forward_cuda(floatX *out, const floatX *inp, size_t n, cudaStream_t stream);
void gelu_backward_cuda(floatX *dinp, const floatX *inp, const floatX *dout, size_t n, cudaStream_t stream);

// ---- swiglu: inp rows [gate (H) | up (H)], out[N,H] = silu(gate) * up ------------
void swiglu_forward_cuda(floatX *out, const floatX *inp, int N, int H, cudaStream_t stream);
void swiglu_backward_cuda(floatX *dinp, const floatX *inp, const floatX *dout, int N, int H, cudaStream_t stream);

// ---- residual: out = a + b -----------------------------------------------------
void residual_forward_cuda(floatX *out, const floatX *a, const floatX *b, size_t n, cudaStream_t stream);
void residual_backward_cuda(floatX *da, floatX *db, const floatX *dout, size_t n, cudaStream_t stream);

// ---- residual_norm: residual = a + b (rounded to bf16 as residual_forward_cuda rounds
// it), then the norm of that residual, in one kernel; out, mean and rstd are the bits
// layernorm_forward_cuda / rmsnorm_forward_cuda give from the same residual ------------
void residual_layernorm_forward_cuda(floatX *residual, floatX *out, float *mean, float *rstd, const floatX *a,
                                     const floatX *b, const floatX *weight, const floatX *bias, int N, int C,
                                     float eps, cudaStream_t stream);
void residual_rmsnorm_forward_cuda(floatX *residual, floatX *out, float *rstd, const floatX *a, const floatX *b,
                                   const floatX *weight, int N, int C, float eps, cudaStream_t stream);

// ---- classifier: softmax over the first V of Vp logits, cross-entropy, and the
// logits' gradient, fused in one kernel (the CPU twins classifier_forward then
// classifier_backward). losses[n] = -log p[target] (0 where target < 0). With
// backward = 1 the logits are overwritten IN PLACE by
// dlogits = dloss * (p - onehot(target)) for rows with a target and 0 for masked
// rows and padding columns (a fresh gradient: the CPU twin adding into zeros);
// with backward = 0 the logits are left unchanged (evaluation).
void classifier_fused_cuda(float *losses, floatX *logits, const int *targets, float dloss, int N, int V, int Vp,
                           int backward, cudaStream_t stream);
// *acc += the sum of losses[0, N) (masked rows hold 0), in double, the same bits every
// run: the step's loss stays on the device until the host asks for it
void loss_sum_cuda(double *acc, const float *losses, int N, cudaStream_t stream);

// ---- adamw: on fp32 master weights, writing the bf16 params ----------------------
// n elements; grads are multiplied by *grad_scale first when grad_scale != NULL
// (gradient clipping without a host round trip); a NaN *grad_scale (clip_scale_cuda's
// guard) leaves everything unchanged. sr_seed != 0 rounds the new
// params to bf16 stochastically (random bits from splitmix64 of seed and
// index0 + i, so shards and reruns agree); 0 rounds to nearest.
void adamw_update_cuda(floatX *params, float *master, const float *grads, float *m, float *v, size_t n, float lr,
                       float beta1, float beta2, float eps, float weight_decay, int t, const float *grad_scale,
                       uint64_t sr_seed, size_t index0, cudaStream_t stream);
// One step over the range [begin, end) of the flat parameter vector (the whole
// model, or a ZeRO-1 shard) in one launch, each tensor's elements getting what
// optimizer_step gives them (at most 32 tensors): params and
// grads are the whole flat vectors (global indices), master/m/v hold only the
// range (index i - begin). tensor_offsets (host) has ntensors + 1 entries (the
// last is the total); bit i of decay_mask: tensor i gets weight decay.
void adamw_step_cuda(floatX *params, float *master, const float *grads, float *m, float *v, size_t begin,
                     size_t end, const size_t *tensor_offsets, int ntensors, unsigned decay_mask, float lr,
                     float beta1, float beta2, float eps, float weight_decay, int t, const float *grad_scale,
                     uint64_t sr_seed, cudaStream_t stream);

// ---- global_norm: deterministic two-pass sum of squares (fixed partition, partials
// summed in order, fp64 across blocks) ---------------------------------------------
size_t global_norm_scratch_bytes(void);
// *out = sum of x[i]^2 (overwrites)
void global_norm_squared_cuda(double *out, const float *x, size_t n, void *scratch, cudaStream_t stream);
// from the total sum of squares (summed over shards by the caller when sharded):
// *norm = sqrt(sumsq); *scale = max_norm / (norm + 1e-6) when max_norm > 0 and the
// norm exceeds it, else 1 -- clip_gradients' rule, for adamw's grad_scale.
// failed != NULL guards a step the host has not looked at yet: a non-finite norm or
// *loss (loss may be NULL) sets *failed, and while *failed is set *scale is NaN,
// which makes adamw skip its update, so the weights stay those before the bad step.
void clip_scale_cuda(float *scale, float *norm, const double *sumsq, float max_norm, const double *loss, int *failed,
                     cudaStream_t stream);

#ifdef __cplusplus
}
#endif

#endif
