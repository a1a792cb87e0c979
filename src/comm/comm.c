// Launch discovery, backend choice, sharding, and the single-process backend.
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "comm_impl.h"
#include "util.h"

// 16M floats = 64 MiB per bucket: few enough requests for an 8B model (~500),
// large enough that each message runs at link bandwidth
#define DEFAULT_BUCKET_ELEMS ((size_t)1 << 24)

// an environment integer; 0 when unset, -1 with an error when set but not a number >= 0
static int env_int(const char *name, int *out, int *found) {
    const char *s = getenv(name);
    *found = s != NULL;
    if (!s) return 0;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 0 || v > 1 << 24) {
        scpt_set_error("comm: environment variable %s='%s' is not a rank or size", name, s);
        return -1;
    }
    *out = (int)v;
    return 0;
}

int comm_discover(int *rank, int *world, int *local_rank, const char **launcher) {
    // the launchers in order of precedence: mpirun inside a Slurm job sets both
    static const struct {
        const char *launcher, *rank, *world, *world_fallback, *local;
    } envs[] = {
        {"mpirun", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", NULL, "OMPI_COMM_WORLD_LOCAL_RANK"},
        // srun sets SLURM_STEP_NUM_TASKS for its step; SLURM_NTASKS is the job's
        {"slurm", "SLURM_PROCID", "SLURM_STEP_NUM_TASKS", "SLURM_NTASKS", "SLURM_LOCALID"},
        {"torchrun", "RANK", "WORLD_SIZE", NULL, "LOCAL_RANK"},
    };
    *rank = 0, *world = 1, *local_rank = 0, *launcher = "single";
    for (size_t i = 0; i < sizeof envs / sizeof envs[0]; i++) {
        int r = 0, w = 1, l = 0, has_r, has_w, has_l;
        if (env_int(envs[i].rank, &r, &has_r) || env_int(envs[i].world, &w, &has_w)) return -1;
        if (!has_w && envs[i].world_fallback && env_int(envs[i].world_fallback, &w, &has_w)) return -1;
        if (env_int(envs[i].local, &l, &has_l)) return -1;
        if (!has_r || !has_w) continue;
        if (w < 1 || r >= w) {
            scpt_set_error("comm: %s launch with rank %d of world size %d (%s, %s)", envs[i].launcher, r, w,
                           envs[i].rank, envs[i].world);
            return -1;
        }
        *rank = r, *world = w, *local_rank = has_l ? l : 0, *launcher = envs[i].launcher;
        return 0;
    }
    return 0;
}

// ---- the single-process backend: every collective leaves the data as it is --------
static int none_init(Comm *c, int *argc, char ***argv) { return 0; }
static void none_void(Comm *c) {}
static void none_gather(Comm *c, void *x, size_t n, size_t elem_size) {}
static void none_broadcast(Comm *c, void *buf, size_t bytes, int root) {}
static double none_sum(Comm *c, double x) { return x; }
static void none_pieces(Comm *c, const BucketPiece *pieces, size_t count, float *x, int to_owner) {}
static void none_broadcast_pieces(Comm *c, const BucketPiece *pieces, size_t count, void *x, size_t elem_size) {}
static void none_sum_in_place(Comm *c, double *x, size_t n) {}

static const CommOps none_ops = {
    .name = "none", .init = none_init, .finalize = none_void, .all_gather = none_gather, .broadcast = none_broadcast,
    .barrier = none_void, .sum = none_sum, .reduce_pieces = none_pieces, .broadcast_pieces = none_broadcast_pieces,
    .sum_in_place = none_sum_in_place,
};

int comm_choose_backend(const char *backend, int gpu, const char **chosen) {
    int rank, world, local;
    const char *launcher;
    if (comm_discover(&rank, &world, &local, &launcher) != 0) return -1;
    int launched = strcmp(launcher, "single") != 0, torchrun = strcmp(launcher, "torchrun") == 0;
    *chosen = backend;
    if (strcmp(backend, "auto") == 0) {
        if (!gpu && torchrun && world > 1) {
            scpt_set_error("comm: a torchrun-style launch (RANK/WORLD_SIZE) of %d ranks needs --comm nccl (GPU "
                           "ranks); launch CPU ranks with mpirun or srun",
                           world);
            return -1;
        }
        // a launched job of one rank still gets its launcher's backend, so it behaves like a job of many
        *chosen = !launched ? "none" : gpu ? "nccl" : torchrun ? "none" : "mpi";
    } else if (!gpu && strcmp(backend, "nccl") == 0) {
        scpt_set_error("--comm nccl moves GPU buffers, but this run trains on the CPU: CPU ranks use --comm mpi "
                       "(or auto); NCCL needs --device cuda (or auto with a GPU the model runs on)");
        return -1;
    } else if (gpu && world > 1 && (strcmp(backend, "mpi") == 0 || strcmp(backend, "none") == 0)) {
        scpt_set_error("--comm %s: %d GPU ranks exchange gradients in device memory, which takes --comm nccl "
                       "(or auto); for CPU ranks over MPI add --device cpu",
                       backend, world);
        return -1;
    }
    return 0;
}

int comm_init(Comm *c, const char *backend, int *argc, char ***argv) {
    memset(c, 0, sizeof *c);
    c->bucket_elems = DEFAULT_BUCKET_ELEMS;
    c->min_bucket_elems = (size_t)(BUCKET_DEFAULT_MIB * (1 << 20)) / sizeof(float);
    if (comm_discover(&c->rank, &c->world, &c->local_rank, &c->launcher) != 0) return -1;
    if (strcmp(backend, "auto") == 0 && comm_choose_backend(backend, 0, &backend) != 0) return -1;
    if (strcmp(backend, "none") == 0) {
        if (c->world > 1) {
            scpt_set_error("comm: --comm none, but the %s environment says this is rank %d of %d", c->launcher,
                           c->rank, c->world);
            return -1;
        }
        c->ops = &none_ops;
    } else if (strcmp(backend, "mpi") == 0 || strcmp(backend, "nccl") == 0) {
        int mpi = backend[0] == 'm';
        c->ops = mpi ? &comm_mpi_ops : &comm_nccl_ops;
        if (!c->ops) {
            scpt_set_error("comm: the %s backend is not built into this program (%s)", backend,
                           mpi ? "Open MPI was not found at build time: install libopenmpi-dev and rebuild"
                               : "NCCL is only built with the CUDA path, when nvcc and nccl.h are found");
            return -1;
        }
    } else {
        scpt_set_error("comm: unknown backend '%s' (auto, none, mpi, nccl)", backend);
        return -1;
    }
    return c->ops->init(c, argc, argv);
}

const char *comm_backend_name(const Comm *c) { return c->ops->name; }
int comm_device_buffers(const Comm *c) { return c->ops->device_buffers; }

void comm_finalize(Comm *c) {
    if (c->ops) c->ops->finalize(c);
    c->ops = NULL;
}

void comm_shard_of(const Comm *c, int rank, size_t n, size_t *begin, size_t *end) {
    size_t per = (n + c->world - 1) / c->world;
    size_t b = per * rank, e = b + per;
    *begin = b < n ? b : n;
    *end = e < n ? e : n;
}

void comm_shard(const Comm *c, size_t n, size_t *begin, size_t *end) { comm_shard_of(c, c->rank, n, begin, end); }

void comm_all_gather(Comm *c, float *x, size_t n) { c->ops->all_gather(c, x, n, sizeof(float)); }
void comm_broadcast(Comm *c, void *buf, size_t bytes, int root) { c->ops->broadcast(c, buf, bytes, root); }
void comm_barrier(Comm *c) { c->ops->barrier(c); }
double comm_sum(Comm *c, double x) { return c->ops->sum(c, x); }
void comm_sum_in_place(Comm *c, double *x, size_t n) { c->ops->sum_in_place(c, x, n); }
void *comm_stream(Comm *c) { return c->ops->stream ? c->ops->stream(c) : NULL; }
