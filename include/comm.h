// Collectives for data-parallel training behind one interface, with backends:
// "none" (one process, every collective a no-op), "mpi" (CPU ranks, Open MPI) and
// "nccl" (GPU ranks; buffers are device memory; built only when the CUDA toolkit
// and NCCL are found). Rank, world size and local rank come from the launcher's
// environment: mpirun (OMPI_COMM_WORLD_*), Slurm srun (SLURM_PROCID/NTASKS/LOCALID)
// or torchrun (RANK/WORLD_SIZE/LOCAL_RANK, MASTER_ADDR/MASTER_PORT).
//
// Shards: a vector of n elements is cut into `world` contiguous shards of
// ceil(n / world) elements (the last ones shorter, possibly empty); comm_shard gives
// a rank's [begin, end). Collectives over a vector are split into buckets of
// bucket_elems, issued together and awaited together.
#ifndef SCPT_COMM_H
#define SCPT_COMM_H

#include <stddef.h>

typedef struct CommOps CommOps;

typedef struct {
    int rank, world, local_rank;
    const char *launcher;      // "single", "mpirun", "slurm", "torchrun"
    const CommOps *ops;
    void *impl;                // the backend's state
    size_t bucket_elems;
    size_t min_bucket_elems;   // the smallest gradient bucket (include/buckets.h)
} Comm;

// what the environment says; -1 with scpt_error() when its variables disagree or are malformed
int comm_discover(int *rank, int *world, int *local_rank, const char **launcher);

// The backend that serves a run whose buffers live on the GPU (gpu = 1) or the host
// (gpu = 0) under this launch. "auto": GPU ranks get nccl under any launcher (none
// for a single process); CPU ranks get mpi under mpirun or srun (none for a single
// process; a torchrun-style launch of several CPU ranks is an error). An explicit
// backend that cannot move those buffers is refused: nccl for CPU ranks, and a host
// backend for several GPU ranks. Other names pass through to comm_init. -1 with
// scpt_error() (which names the flags to change).
int comm_choose_backend(const char *backend, int gpu, const char **chosen);

// backend "auto" (comm_choose_backend for CPU ranks), "none", "mpi" or "nccl". -1
// with scpt_error() when the backend is not built, cannot serve this launch, or
// fails to start.
int comm_init(Comm *c, const char *backend, int *argc, char ***argv);
const char *comm_backend_name(const Comm *c);
int comm_device_buffers(const Comm *c);   // 1: buffers must be device memory (nccl)
void comm_finalize(Comm *c);

void comm_shard(const Comm *c, size_t n, size_t *begin, size_t *end);
// the same for any rank of c's world
void comm_shard_of(const Comm *c, int rank, size_t n, size_t *begin, size_t *end);

// The training step's gradient and parameter exchange is include/buckets.h's.
// x <- every rank's shard of x, in place (each rank's own shard is already in x; the
// nccl backend needs n a multiple of the world size)
void comm_all_gather(Comm *c, float *x, size_t n);
void comm_broadcast(Comm *c, void *buf, size_t bytes, int root);
void comm_barrier(Comm *c);
// host scalars: sum over ranks (for norms and losses)
double comm_sum(Comm *c, double x);
// x[0, n) <- sum over ranks, in place, in the backend's memory: for a device backend
// a device buffer, enqueued on comm_stream() (no host round trip, no wait)
void comm_sum_in_place(Comm *c, double *x, size_t n);
// the stream a device backend runs its collectives on, in issue order (a
// cudaStream_t); NULL for host backends. One stream for every collective of the
// communicator: NCCL does not promise that two of them on different streams progress
// concurrently, so their order must be the issue order on every rank.
void *comm_stream(Comm *c);

#endif
