// The model on the GPU: the same ModelConfig and flat parameter layout (P_*) as
// model.h, so checkpoints are shared. Precision:
//   - parameters and activations bf16 (floatX); every matmul and reduction
//     accumulates in fp32;
//   - master weights, AdamW moments and parameter GRADIENTS fp32: gradient
//     accumulation over micro-batches adds into fp32, so it loses nothing to bf16
//     rounding however many micro-batches there are (costs 2 bytes/parameter more
//     than bf16 grads);
//   - the checkpoint holds the fp32 master weights (gpu_model_download).
// Data parallel (include/zero.h's stages, on the device): with a comm of several
// ranks (a device-buffer backend, nccl) the gradients are averaged over the ranks
// in buckets, during the last micro-batch's backward. ZeRO-0: all-reduce, every rank
// updates everything. ZeRO-1: the fp32 master weights and AdamW moments exist only
// for this rank's shard of the parameters; gradients are reduced into their owners,
// the rank updates its shard, and the new bf16 parameters are broadcast from their
// owners during the next forward. The flat parameter and gradient vectors are
// padded to a multiple of the world size (NCCL's equal parts; the padding stays 0).
// Plain C interface; without nvcc the build links src/model/model_cuda_stub.c instead,
// where gpu_device_probe() says so and nothing else can be reached.
#ifndef SCPT_MODEL_CUDA_H
#define SCPT_MODEL_CUDA_H

#include <stddef.h>
#include "comm.h"
#include "model.h"
#include "optim.h"

// which kernels compute attention (doc/kernels.md): the tensor-core FlashAttention
// kernels (the default), the fp32 CUDA-core reference kernels, or cuBLAS batched
// GEMMs around softmax kernels (T x T scores in the kernel scratch)
typedef enum { GPU_ATTENTION_FLASH, GPU_ATTENTION_FP32, GPU_ATTENTION_CUBLAS } GpuAttention;

typedef struct {
    int deterministic;   // 1: bitwise reproducible (sorted embedding backward, ordered flash dQ); 0: atomics there
    int recompute;       // 1: keep one layer's norm outputs and MLP activation, recompute them in backward
    int fuse_gelu;       // 1: GPT-2's GELU in the cuBLASLt epilogue (forward and backward)
    Comm *comm;          // data parallel over these ranks (world > 1: nccl); NULL: one rank
    int zero;            // ZeRO stage with several ranks: 0 or 1 (include/zero.h)
    GpuAttention attention;
} GpuOptions;

typedef struct GpuModel GpuModel;

// 1 when a CUDA device is visible; 0 with the reason in why otherwise
int gpu_device_probe(char *why, size_t n);

// 0 when the GPU model can run this shape at sequence length T; -1 with scpt_error()
// otherwise (e.g. a head size the attention kernel lacks). Needs no device.
int gpu_model_check(const ModelConfig *c, int T);

// Copies the model's fp32 weights (and opt's moments when opt is not NULL) to the
// current device and allocates activations for B x T. This rank's optimizer range
// is the whole model (one rank, or ZeRO-0), or under ZeRO-1 with several ranks its
// comm_shard of the parameters (master weights and moments are allocated for that
// alone); opt must cover exactly that range, or be NULL (zero moments). Returns
// NULL with scpt_error() when gpu_model_check fails, opt's range is another, or the
// model does not fit in device memory.
GpuModel *gpu_model_create(const Model *m, const OptimizerState *opt, int B, int T, const GpuOptions *o);
// bytes allocated on the device (parameters, optimizer, activations, workspaces)
size_t gpu_model_bytes(const GpuModel *g);
// one line per memory class (what this rank allocates), then under data parallelism
// one line per rank with the parameter range its optimizer state covers
void gpu_model_print_memory(const GpuModel *g);

// The step runs without host synchronisation (doc/kernels.md, "The step's streams"):
// forward, backward and update are enqueued on the model's stream and return at once;
// the inputs go through two pinned staging slots and a copy stream (the next
// micro-batch uploads while this one computes); the loss, the gradient norm and the
// clipping factor stay on the device, and each update's statistics come back later
// through gpu_model_step_stats. A forward may wait on the host only for the staging
// slot the forward two calls back used.

// Forward over host inputs/targets (B x T, B and T at most the reserved ones; the
// arrays may be reused when it returns). loss_scale > 0 prepares backward of
// loss_scale * mean loss (the fused classifier writes the logits' gradient in the
// forward, as llm.c does); 0 evaluates only. With targets, the sum of the losses at
// positions with a target >= 0 is added into the device's loss accumulator.
void gpu_model_forward(GpuModel *g, const int *inputs, const int *targets, int B, int T, float loss_scale);
// Waits for the device, returns the loss accumulator and clears it: the sum over the
// forwards since it was last cleared (here, by gpu_model_zero_grad, or by an update,
// which takes the sum into its statistics). For evaluation.
double gpu_model_loss_sum(GpuModel *g);
// Adds into the fp32 gradients. last_micro: 1 for the last backward before
// gpu_model_update: with a device backend it issues each gradient bucket's reduction
// (include/buckets.h) on the comm's stream as soon as the bucket is complete,
// overlapped with the layers still computing. Ranks may differ in which micro-batch
// that is (one whose batch has no targets skips it): each issues the same
// reductions in the same order, at most once per step. With 0 on every backward,
// gpu_model_update issues them all itself.
void gpu_model_backward(GpuModel *g, int last_micro);
// clears the gradients and the loss accumulator (not after a diverged step: see below)
void gpu_model_zero_grad(GpuModel *g);
// Averages the gradients over the ranks (several ranks), clips them to max_norm (0:
// off) by the global norm, and takes one AdamW step (t 1-based) over this rank's
// range; ZeRO-1 then broadcasts each bucket's parameters from their owners, which
// the next forward's layers wait for one bucket at a time. A step whose loss sum or gradient
// norm is not finite is not taken, and neither is any later one (a sticky flag on
// the device): the weights stay those before it, and its gradients stay in place
// (gpu_model_zero_grad leaves them) for the host to inspect once it reads the stats.
// With several ranks it is a collective: every rank calls it. Enqueued, no host
// sync: the comm's stream and the model's wait on each other through events (the
// gradient buckets the last backward did not reduce are reduced here).
void gpu_model_update(GpuModel *g, const AdamWConfig *cfg, float lr, int t, float max_norm);
// what one update computed, as the device left it after the step
typedef struct {
    double loss_sum;   // the losses at kept targets, summed over the step's forwards and all ranks
    float norm;        // the global gradient norm before clipping
    int diverged;      // 1: the loss sum or the norm of this step or an earlier one was not finite: not taken
} GpuStepStats;
// Waits for the oldest update whose statistics have not been read yet and returns 1
// with them; 0 when every update has been read. At most GPU_STATS_PENDING updates
// may wait unread (gpu_model_update dies on another).
enum { GPU_STATS_PENDING = 4 };
int gpu_model_step_stats(GpuModel *g, GpuStepStats *out);
// Gradients, then all master weights into m, and the moments of opt's range (any
// range) into opt when opt is not NULL. Under ZeRO-1 it is a collective (every rank
// calls it, all with or all without opt): the shards are all-gathered on the device
// through the gradient buffer, which then holds no gradients (the next step's
// gpu_model_zero_grad clears it).
void gpu_model_download(GpuModel *g, Model *m, OptimizerState *opt);
void gpu_model_free(GpuModel *g);

// train's device choice, made before the collectives start (the backend depends on
// it): 1 for the GPU, 0 for the CPU. "cpu"; "cuda" (dies when no device is visible
// or gpu_model_check fails); "auto" (the GPU when one is visible and the shape can
// run there, else the CPU, printing why). Whether the model fits in device memory is
// only known at gpu_model_create.
int gpu_model_wanted(const char *device, const ModelConfig *c, int T);

#endif
