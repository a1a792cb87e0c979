// The model on the GPU: the same ModelConfig and flat parameter layout (P_*) as
// model.h, so checkpoints are shared. Precision:
//   - parameters and activations bf16 (floatX); every matmul and reduction
//     accumulates in fp32;
//   - master weights, AdamW moments and parameter GRADIENTS fp32: gradient
//     accumulation over micro-batches adds into fp32, so it loses nothing to bf16
//     rounding however many micro-batches there are (costs 2 bytes/parameter more
//     than bf16 grads);
//   - the checkpoint holds the fp32 master weights (gpu_model_download).
// Plain C interface; without nvcc the build links src/model_cuda_stub.c instead,
// where gpu_device_probe() says so and nothing else can be reached.
#ifndef SCPT_MODEL_CUDA_H
#define SCPT_MODEL_CUDA_H

#include <stddef.h>
#include "model.h"
#include "optim.h"

typedef struct {
    int deterministic;   // 1: bitwise reproducible (sorted embedding backward); 0: atomics there
    int recompute;       // 1: keep one layer's norm outputs and MLP activation, recompute them in backward
    int fuse_gelu;       // 1: GPT-2's GELU in the cuBLASLt epilogue (forward and backward)
} GpuOptions;

typedef struct GpuModel GpuModel;

// 1 when a CUDA device is visible; 0 with the reason in why otherwise
int gpu_device_probe(char *why, size_t n);

// Copies the model's fp32 weights (and opt's moments when opt is not NULL) to the
// device and allocates activations for B x T. Returns NULL with scpt_error() when
// the shape cannot run on the GPU (e.g. a head size the attention kernel lacks)
// or does not fit in device memory.
GpuModel *gpu_model_create(const Model *m, const OptimizerState *opt, int B, int T, const GpuOptions *o);
// bytes allocated on the device (parameters, optimizer, activations, workspaces)
size_t gpu_model_bytes(const GpuModel *g);
// one line per memory class, for the start of a run
void gpu_model_print_memory(const GpuModel *g);

// Forward over host inputs/targets (B x T, B and T at most the reserved ones).
// loss_scale > 0 prepares backward of loss_scale * mean loss (the fused classifier
// writes the logits' gradient in the forward, as llm.c does); 0 evaluates only.
// Returns the mean loss over positions with a target >= 0 (0 without targets).
float gpu_model_forward(GpuModel *g, const int *inputs, const int *targets, int B, int T, float loss_scale);
void gpu_model_backward(GpuModel *g);    // adds into the fp32 gradients
void gpu_model_zero_grad(GpuModel *g);
// clip to max_norm (0: off) and one AdamW step (t 1-based) over the whole model;
// returns the gradient norm before clipping, as clip_gradients does
float gpu_model_update(GpuModel *g, const AdamWConfig *cfg, float lr, int t, float max_norm);
// master weights (and moments when opt is not NULL) and gradients back into m
void gpu_model_download(GpuModel *g, Model *m, OptimizerState *opt);
void gpu_model_free(GpuModel *g);

// train's device choice: "cpu", "cuda" (dies when no device can run the model) or
// "auto" (the GPU when one is visible and can run it, else the CPU, saying why).
// Returns NULL for the CPU path.
GpuModel *gpu_model_select(const char *device, const Model *m, const OptimizerState *opt, int B, int T,
                           const GpuOptions *o);

#endif
