// Data-parallel training on top of include/comm.h, ZeRO stage 0 or 1.
//   ZeRO-0: every rank holds the whole optimizer state; gradients are all-reduced
//           (mean) and every rank applies the same AdamW step to all parameters.
//   ZeRO-1: the AdamW moments are sharded: rank r owns the range [begin, end) of the
//           flat parameter vector (comm_shard). Gradients are reduced (mean) into
//           the owner's range, each rank updates its range, and the parameters are
//           broadcast from their owners, bucket by bucket (include/buckets.h). On the CPU the fp32 parameters are the master weights,
//           so only m and v shrink; on GPUs the fp32 master shard is also the owner's.
// Gradient clipping uses the global norm over all ranks' data in both stages.
// The exchange below is the CPU step's (host backends: mpi, none). GPU ranks (the
// nccl backend) exchange inside gpu_model_backward and gpu_model_update (include/
// model_cuda.h); for them DataParallel gives the range, the checkpoint load, and
// dp_checkpoint_save_gpu.
#ifndef SCPT_ZERO_H
#define SCPT_ZERO_H

#include "checkpoint.h"
#include "buckets.h"
#include "comm.h"
#include "model.h"
#include "model_cuda.h"
#include "optim.h"

typedef struct {
    Comm *comm;
    int stage;                 // 0 or 1
    size_t begin, end;         // the parameter range this rank's optimizer updates
    size_t num_params;
    BucketPlan plan;           // host backends with several ranks: the gradient buckets (include/grad_buckets.h)
} DataParallel;

// -1 with scpt_error() for a stage other than 0 or 1
int dp_init(DataParallel *dp, Comm *comm, int stage, const Model *m);
void dp_free(DataParallel *dp);

// After backward: averages the gradients over ranks (ZeRO-1: only this rank's range
// of m->grads is valid afterwards), clips them to max_norm (> 0) by the global norm,
// and returns that norm before clipping.
float dp_reduce_gradients(DataParallel *dp, Model *m, float max_norm);
// After optimizer_step over [begin, end): every rank gets every updated parameter.
void dp_share_parameters(DataParallel *dp, Model *m);

// Checkpoints hold the whole optimizer state whatever the stage and world size:
// save gathers the moments (a collective: every rank calls it; rank 0 writes), load
// reads the whole file on every rank (a shared file system) and keeps its range.
int dp_checkpoint_save(DataParallel *dp, const char *path, const Model *m, const OptimizerState *opt,
                       const TrainState *st);
// the same for the GPU model: rank 0 gathers the whole state from the device (under
// ZeRO-1 a collective of every rank), then writes; m receives the master weights
int dp_checkpoint_save_gpu(DataParallel *dp, const char *path, GpuModel *g, Model *m, OptimizerState *opt,
                           const TrainState *st);
int dp_checkpoint_load(DataParallel *dp, const char *path, Model *m, OptimizerState *opt, TrainState *st);

// one line per rank: parameters, gradients, optimizer moments, activations
void dp_print_memory(const DataParallel *dp, const Model *m);

#endif
