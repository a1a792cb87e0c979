// Training-loop math around AdamW: the learning-rate schedule, global-norm
// gradient clipping, which tensors decay, and the optimizer state.
#ifndef SCPT_OPTIM_H
#define SCPT_OPTIM_H

#include "model.h"

typedef enum { SCHEDULE_COSINE, SCHEDULE_LINEAR, SCHEDULE_CONSTANT } ScheduleKind;

typedef struct {
    ScheduleKind kind;
    float lr;               // peak
    float min_lr_frac;      // floor as a fraction of lr, reached at total_steps
    int warmup_steps;       // linear from lr/warmup up to lr
    int total_steps;
} LRSchedule;

float lr_at(const LRSchedule *s, int step);   // step counts from 0
int schedule_parse(const char *name, ScheduleKind *kind);

typedef struct {
    float beta1, beta2, eps, weight_decay;
    unsigned decay_mask;    // bit i: tensor i (P_*) gets weight decay
} AdamWConfig;

// "matrices" (every 2-D+ weight, embeddings included, as nanoGPT and llm.c do),
// "matrices-no-embed", "all", "none", or a comma-separated list of tensor names.
int decay_mask_parse(const char *spec, unsigned *mask);

// AdamW moments for the parameter range [begin, end) of the flat vector (the whole
// model, or one rank's shard under ZeRO-1).
typedef struct {
    size_t begin, end;
    real *m, *v;
} OptimizerState;

void optimizer_init(OptimizerState *o, size_t begin, size_t end);
void optimizer_free(OptimizerState *o);
// One AdamW step (t = 1-based step) over the state's range of params/grads, each
// tensor with or without decay as the mask says.
void optimizer_step(const Model *m, OptimizerState *o, const AdamWConfig *cfg, float lr, int t);

// Global L2 norm of the gradients; when max_norm > 0 and the norm exceeds it,
// scales them to max_norm. Returns the norm before clipping.
float clip_gradients(real *grads, size_t n, float max_norm);
// The scaling step alone, for a norm computed elsewhere (over all ranks' shards).
void clip_to_norm(real *grads, size_t n, float norm, float max_norm);

#endif
