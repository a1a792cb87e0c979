// ZeRO-0 / ZeRO-1 data parallelism for the CPU training step (include/zero.h).
#include "zero.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "grad_buckets.h"
#include "util.h"

_Static_assert(sizeof(real) == sizeof(float), "the collectives move float buffers");

int dp_init(DataParallel *dp, Comm *comm, int stage, const Model *m) {
    memset(dp, 0, sizeof *dp);
    if (stage != 0 && stage != 1) {
        scpt_set_error("--zero %d: this engine has ZeRO stages 0 (all-reduce) and 1 (sharded optimizer)", stage);
        return -1;
    }
    dp->comm = comm, dp->stage = stage, dp->num_params = m->num_params;
    dp->begin = 0, dp->end = m->num_params;
    if (stage == 1) comm_shard(comm, m->num_params, &dp->begin, &dp->end);
    // a device backend serves the GPU model, which has its own plan (over its padded vectors)
    if (comm->world > 1 && !comm_device_buffers(comm))
        return grad_bucket_plan(&dp->plan, &m->config, m->tensors, m->num_params, m->num_params, comm,
                                comm->min_bucket_elems);
    return 0;
}

void dp_free(DataParallel *dp) { bucket_plan_free(&dp->plan); }

float dp_reduce_gradients(DataParallel *dp, Model *m, float max_norm) {
    size_t n = dp->end - dp->begin;
    real *mine = m->grads + dp->begin;
    // in the order the GPU step overlaps them with backward (here backward has finished);
    // ZeRO-1 reduces each piece into its owner's shard, in place
    for (int k = 0; k < dp->plan.num_buckets; k++) comm_bucket_reduce_mean(dp->comm, &dp->plan, k, m->grads, dp->stage);
    // ZeRO-0: every rank holds the same averaged gradients, so its own sum is global
    double sq = sum_squares(mine, n);
    float norm = (float)sqrt(dp->stage == 0 ? sq : comm_sum(dp->comm, sq));
    clip_to_norm(mine, n, norm, max_norm);
    return norm;
}

void dp_share_parameters(DataParallel *dp, Model *m) {
    // in the order the next forward reads them: the last bucket holds the embeddings
    for (int k = dp->plan.num_buckets - 1; k >= 0 && dp->stage == 1; k--)
        comm_bucket_broadcast(dp->comm, &dp->plan, k, m->params, sizeof(real));
}

// the whole optimizer state, or NULL when this rank already holds it (ZeRO-0)
static OptimizerState *whole_state(DataParallel *dp, OptimizerState *whole) {
    if (dp->stage == 0) return NULL;
    optimizer_init(whole, 0, dp->num_params);
    return whole;
}

int dp_checkpoint_save(DataParallel *dp, const char *path, const Model *m, const OptimizerState *opt,
                       const TrainState *st) {
    OptimizerState whole;
    const OptimizerState *saved = opt;
    if (whole_state(dp, &whole)) {
        size_t n = dp->end - dp->begin;
        memcpy(whole.m + dp->begin, opt->m, n * sizeof(real));
        memcpy(whole.v + dp->begin, opt->v, n * sizeof(real));
        comm_all_gather(dp->comm, whole.m, dp->num_params);
        comm_all_gather(dp->comm, whole.v, dp->num_params);
        saved = &whole;
    }
    int rc = dp->comm->rank == 0 ? checkpoint_save(path, m, saved, st) : 0;
    if (saved != opt) optimizer_free(&whole);
    return rc;
}

int dp_checkpoint_save_gpu(DataParallel *dp, const char *path, GpuModel *g, Model *m, OptimizerState *opt,
                           const TrainState *st) {
    OptimizerState whole;
    OptimizerState *saved = dp->comm->rank == 0 && whole_state(dp, &whole) ? &whole : opt;
    gpu_model_download(g, m, saved);   // ZeRO-1: all-gathers the shards on the device
    int rc = dp->comm->rank == 0 ? checkpoint_save(path, m, saved, st) : 0;
    if (saved != opt) optimizer_free(&whole);
    return rc;
}

int dp_checkpoint_load(DataParallel *dp, const char *path, Model *m, OptimizerState *opt, TrainState *st) {
    OptimizerState whole;
    if (!whole_state(dp, &whole)) return checkpoint_load(path, m, opt, st);
    int rc = checkpoint_load(path, m, &whole, st);
    if (rc == 0) {
        size_t n = dp->end - dp->begin;
        memcpy(opt->m, whole.m + dp->begin, n * sizeof(real));
        memcpy(opt->v, whole.v + dp->begin, n * sizeof(real));
    }
    optimizer_free(&whole);
    return rc;
}

void dp_print_memory(const DataParallel *dp, const Model *m) {
    const double MiB = 1 << 20, f = sizeof(real);
    if (dp->plan.num_buckets)
        printf("gradient buckets: %d of >= %.3g MiB (the last may be smaller), %zu pieces across the shards\n",
               dp->plan.num_buckets, dp->comm->min_bucket_elems * f / MiB, dp->plan.piece_start[dp->plan.num_buckets]);
    for (int r = 0; r < dp->comm->world; r++) {
        size_t b = 0, e = dp->num_params;
        if (dp->stage == 1) comm_shard_of(dp->comm, r, dp->num_params, &b, &e);
        double params = m->num_params * f / MiB, grads = params, moments = 2 * (e - b) * f / MiB;
        double acts = 2 * m->act_count * f / MiB;
        printf("memory rank %d (ZeRO-%d): params %.1f + grads %.1f + adam m,v %.1f (params [%zu, %zu)) + "
               "activations %.1f = %.1f MiB\n",
               r, dp->stage, params, grads, moments, b, e, acts, params + grads + moments + acts);
    }
}
