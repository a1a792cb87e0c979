// The NCCL backend (GPU ranks): buffers are device memory, one GPU per rank chosen
// by the local rank. The NCCL unique id is bootstrapped by MPI under mpirun/srun,
// or by a TCP rendezvous on MASTER_ADDR/MASTER_PORT under torchrun. Collectives run
// on the backend's stream and wait for it before returning, so callers see finished
// results. The bucket
// collectives and comm_sum_in_place are the exception: they are enqueued on that
// stream and return at once (the GPU model's overlap, include/buckets.h).
#include <cuda_runtime_api.h>
#include <nccl.h>
#include <stdlib.h>
#include <string.h>
#include "comm_impl.h"
#include "rendezvous.h"
#include "util.h"

typedef struct {
    ncclComm_t comm;
    cudaStream_t stream;
    double *scalar;      // device scratch for comm_sum
    Comm boot;           // the MPI bootstrap communicator, when MPI launched us
} NcclComm;

#define NCCL_CHECK(call)                                                                        \
    do {                                                                                        \
        ncclResult_t r_ = (call);                                                               \
        if (r_ != ncclSuccess) die("comm: %s failed: %s", #call, ncclGetErrorString(r_));      \
    } while (0)
#define CUDA_CHECK(call)                                                                        \
    do {                                                                                        \
        cudaError_t e_ = (call);                                                                \
        if (e_ != cudaSuccess) die("comm: %s failed: %s", #call, cudaGetErrorString(e_));      \
    } while (0)

static int nccl_init(Comm *c, int *argc, char ***argv) {
    int devices = 0;
    cudaError_t err = cudaGetDeviceCount(&devices);
    if (err != cudaSuccess || devices == 0) {
        scpt_set_error("comm: the nccl backend needs a GPU, and CUDA finds none (%s)",
                       err != cudaSuccess ? cudaGetErrorString(err) : "none visible");
        return -1;
    }
    NcclComm *n = xcalloc(1, sizeof *n);
    ncclUniqueId id;
    if (strcmp(c->launcher, "mpirun") == 0 || strcmp(c->launcher, "slurm") == 0) {
        if (!&comm_mpi_ops) {
            scpt_set_error("comm: NCCL under %s needs the MPI backend to share its id (rebuild with Open MPI), "
                           "or launch torchrun-style with MASTER_ADDR/MASTER_PORT",
                           c->launcher);
            free(n);
            return -1;
        }
        n->boot = *c;
        n->boot.ops = &comm_mpi_ops;
        if (comm_mpi_ops.init(&n->boot, argc, argv) != 0) {
            free(n);
            return -1;
        }
        c->rank = n->boot.rank, c->world = n->boot.world, c->local_rank = n->boot.local_rank;
        if (c->rank == 0) NCCL_CHECK(ncclGetUniqueId(&id));
        comm_mpi_ops.broadcast(&n->boot, &id, sizeof id, 0);
    } else if (c->world > 1) {
        if (c->rank == 0) NCCL_CHECK(ncclGetUniqueId(&id));
        if (rendezvous_share(getenv("MASTER_ADDR"), getenv("MASTER_PORT"), c->rank, c->world, &id, sizeof id,
                             300) != 0) {
            free(n);
            return -1;
        }
    } else {
        NCCL_CHECK(ncclGetUniqueId(&id));
    }
    CUDA_CHECK(cudaSetDevice(c->local_rank % devices));
    CUDA_CHECK(cudaStreamCreateWithFlags(&n->stream, cudaStreamNonBlocking));
    CUDA_CHECK(cudaMalloc((void **)&n->scalar, sizeof(double)));
    NCCL_CHECK(ncclCommInitRank(&n->comm, c->world, id, c->rank));
    c->impl = n;
    return 0;
}

static void nccl_finalize(Comm *c) {
    NcclComm *n = c->impl;
    if (!n) return;
    ncclCommDestroy(n->comm);
    cudaFree(n->scalar);
    cudaStreamDestroy(n->stream);
    if (n->boot.ops) comm_mpi_ops.finalize(&n->boot);
    free(n);
    c->impl = NULL;
}

static void sync_stream(Comm *c) { CUDA_CHECK(cudaStreamSynchronize(((NcclComm *)c->impl)->stream)); }

// NCCL's all-gather needs equal parts: the CUDA path allocates its flat vectors
// padded to a multiple of the world size (comm_shard then gives every rank
// ceil(n/world) elements, the padding stays zero). One call over the whole vector:
// NCCL pipelines it in chunks itself.
static size_t equal_part(const Comm *c, size_t count) {
    size_t per = count / c->world;
    if (per * c->world != count)
        die("comm: nccl all-gather of %zu elements over %d ranks: pad to a multiple of the world", count, c->world);
    return per;
}

// any element size, as bytes
static void nccl_all_gather(Comm *c, void *x, size_t count, size_t elem_size) {
    NcclComm *n = c->impl;
    size_t part = equal_part(c, count) * elem_size;
    char *bytes = x;
    NCCL_CHECK(ncclAllGather(bytes + (size_t)c->rank * part, bytes, part, ncclUint8, n->comm, n->stream));
    sync_stream(c);
}

static void nccl_broadcast(Comm *c, void *buf, size_t bytes, int root) {
    NcclComm *n = c->impl;
    NCCL_CHECK(ncclBroadcast(buf, buf, bytes, ncclChar, root, n->comm, n->stream));
    sync_stream(c);
}

static double nccl_sum(Comm *c, double x) {
    NcclComm *n = c->impl;
    // A host scalar goes over MPI when MPI launched the ranks: through NCCL it would
    // wait on the host for every collective queued before it on the stream (the
    // gradient buckets, the parameter broadcasts), and the host could not enqueue
    // the next forward meanwhile. Under torchrun there is no MPI: it takes the stream.
    if (n->boot.ops) return comm_mpi_ops.sum(&n->boot, x);
    // copy in, reduce and copy out in order on the one (non-blocking) stream: a plain
    // cudaMemcpy runs on the legacy stream, which that stream does not wait for, and
    // from pageable memory it may return before the copy has reached the device
    CUDA_CHECK(cudaMemcpyAsync(n->scalar, &x, sizeof x, cudaMemcpyHostToDevice, n->stream));
    NCCL_CHECK(ncclAllReduce(n->scalar, n->scalar, 1, ncclDouble, ncclSum, n->comm, n->stream));
    CUDA_CHECK(cudaMemcpyAsync(&x, n->scalar, sizeof x, cudaMemcpyDeviceToHost, n->stream));
    sync_stream(c);
    return x;
}

static void nccl_barrier(Comm *c) { nccl_sum(c, 0); }

// ---- enqueued on the backend's stream, no wait: the caller orders its streams
// against it with events (include/buckets.h)

// each piece's reduce (or all-reduce), averaged by NCCL, in one group; in place
static void nccl_reduce_pieces(Comm *c, const BucketPiece *pieces, size_t count, float *x, int to_owner) {
    NcclComm *n = c->impl;
    NCCL_CHECK(ncclGroupStart());
    for (size_t i = 0; i < count; i++) {
        float *at = x + pieces[i].lo;
        size_t len = pieces[i].hi - pieces[i].lo;
        if (to_owner) NCCL_CHECK(ncclReduce(at, at, len, ncclFloat, ncclAvg, pieces[i].owner, n->comm, n->stream));
        else NCCL_CHECK(ncclAllReduce(at, at, len, ncclFloat, ncclAvg, n->comm, n->stream));
    }
    NCCL_CHECK(ncclGroupEnd());
}

static void nccl_broadcast_pieces(Comm *c, const BucketPiece *pieces, size_t count, void *x, size_t elem_size) {
    NcclComm *n = c->impl;
    NCCL_CHECK(ncclGroupStart());
    for (size_t i = 0; i < count; i++) {
        char *at = (char *)x + pieces[i].lo * elem_size;
        NCCL_CHECK(ncclBroadcast(at, at, (pieces[i].hi - pieces[i].lo) * elem_size, ncclUint8, pieces[i].owner,
                                 n->comm, n->stream));
    }
    NCCL_CHECK(ncclGroupEnd());
}

static void nccl_sum_in_place(Comm *c, double *x, size_t count) {
    NcclComm *n = c->impl;
    NCCL_CHECK(ncclAllReduce(x, x, count, ncclDouble, ncclSum, n->comm, n->stream));
}

static void *nccl_stream(Comm *c) { return ((NcclComm *)c->impl)->stream; }

const CommOps comm_nccl_ops = {
    .name = "nccl", .device_buffers = 1, .init = nccl_init, .finalize = nccl_finalize,
    .all_gather = nccl_all_gather, .broadcast = nccl_broadcast, .barrier = nccl_barrier, .sum = nccl_sum,
    .reduce_pieces = nccl_reduce_pieces, .broadcast_pieces = nccl_broadcast_pieces,
    .sum_in_place = nccl_sum_in_place, .stream = nccl_stream,
};
