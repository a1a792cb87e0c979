// Training checkpoints: a safetensors file holding the fp32 weights, the AdamW
// moments, and in its metadata the model config, the step, the seed and the
// data-loader position (format in doc/formats.md). The same file serves the CPU
// and the GPU path. Written atomically.
#ifndef SCPT_CHECKPOINT_H
#define SCPT_CHECKPOINT_H

#include "loader.h"
#include "model.h"
#include "optim.h"

typedef struct {
    int step;                 // optimizer steps completed
    uint64_t seed;            // every random stream derives from it (init, shuffle, mix)
    LoaderState loader;
    // the run shape the data order depends on; a resume must use the same
    int batch, seq_len, grad_accum, world;
    float replay_frac;
    int total_steps;          // --steps of the run that saved it (0: unknown, an older checkpoint)
} TrainState;

// opt may be NULL (weights only, e.g. an exported model); state may be NULL then too
int checkpoint_save(const char *path, const Model *m, const OptimizerState *opt, const TrainState *state);
// reads only the config, to create a model of the right shape
int checkpoint_read_config(const char *path, ModelConfig *cfg);
// Loads weights (and, when opt/state are not NULL, the optimizer moments and the
// train state, which must be present). The model must have the checkpoint's config.
// Refuses non-finite values (and negative ones in AdamW second moments) anywhere in
// the file, naming the file and tensor.
int checkpoint_load(const char *path, Model *m, OptimizerState *opt, TrainState *state);

// -1, with a message naming `path` and tensor `name` and counting the bad values,
// when x[0, n) holds a NaN or an infinity (or, with nonnegative, a value below 0)
int tensor_check_values(const real *x, size_t n, int nonnegative, const char *path, const char *name);

#endif
