// The MPI backend (CPU ranks). Vectors go in buckets of c->bucket_elems: every
// bucket's non-blocking collective is started, then all are awaited, so the buckets
// pipeline with each other on the wire. Nothing here overlaps the backward pass: the
// CPU model's backward is one call, and Open MPI progresses non-blocking collectives
// only inside MPI calls (no progress thread), so starting them earlier would not
// move bytes while backward computes.
//
// A rank that dies or exits with an error ends the job: mpirun (and srun with
// --kill-on-bad-exit) kill the other ranks, and MPI errors are fatal (the default
// MPI_ERRORS_ARE_FATAL handler), so no rank waits forever in a collective.
#include <limits.h>
#include <mpi.h>
#include <stdlib.h>
#include <string.h>
#include "comm_impl.h"
#include "util.h"

typedef struct {
    MPI_Request *requests;
    int *counts, *displs;      // per bucket: world entries each
    size_t capacity;           // buckets the arrays hold
    MPI_Request *piece_requests;
    size_t piece_capacity;     // requests piece_requests holds
} MpiComm;

static int mpi_init(Comm *c, int *argc, char ***argv) {
    int launched_rank = c->rank, launched_world = c->world, provided, initialized;
    MPI_Initialized(&initialized);
    // OpenMP threads compute; only the main thread calls MPI
    if (!initialized && MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
        scpt_set_error("comm: MPI_Init failed");
        return -1;
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &c->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &c->world);
    if (strcmp(c->launcher, "single") != 0 && (c->rank != launched_rank || c->world != launched_world)) {
        scpt_set_error("comm: MPI says rank %d of %d, the %s environment says %d of %d (srun needs --mpi=pmix "
                       "for Open MPI)",
                       c->rank, c->world, c->launcher, launched_rank, launched_world);
        return -1;
    }
    // the local rank: the rank among the processes that share this node's memory
    MPI_Comm node;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, c->rank, MPI_INFO_NULL, &node);
    MPI_Comm_rank(node, &c->local_rank);
    MPI_Comm_free(&node);
    if (c->bucket_elems > INT_MAX) c->bucket_elems = INT_MAX;   // MPI counts are int
    c->impl = xcalloc(1, sizeof(MpiComm));
    return 0;
}

static void mpi_finalize(Comm *c) {
    MpiComm *m = c->impl;
    if (m) {
        free(m->requests);
        free(m->counts);
        free(m->displs);
        free(m->piece_requests);
        free(m);
    }
    c->impl = NULL;
    MPI_Finalize();
}

// room for the requests and per-rank counts of n elements' buckets; returns the bucket count
static size_t reserve_buckets(Comm *c, size_t n) {
    MpiComm *m = c->impl;
    size_t buckets = (n + c->bucket_elems - 1) / c->bucket_elems;
    if (buckets > m->capacity) {
        free(m->requests);
        free(m->counts);
        free(m->displs);
        m->requests = xmalloc(buckets * sizeof(MPI_Request));
        m->counts = xmalloc(buckets * c->world * sizeof(int));
        m->displs = xmalloc(buckets * c->world * sizeof(int));
        m->capacity = buckets;
    }
    return buckets;
}

static void wait_all(Comm *c, size_t buckets) {
    MpiComm *m = c->impl;
    MPI_Waitall((int)buckets, m->requests, MPI_STATUSES_IGNORE);
}

static void scale(float *x, size_t n, float s) {
#pragma omp parallel for
    for (size_t i = 0; i < n; i++) x[i] *= s;
}

// For bucket [lo, hi): how many of its elements fall in each rank's shard, and where
// (relative to lo) they start.
static void bucket_split(const Comm *c, size_t n, size_t lo, size_t hi, int *counts, int *displs) {
    for (int r = 0; r < c->world; r++) {
        size_t sb, se;
        comm_shard_of(c, r, n, &sb, &se);
        size_t a = sb > lo ? sb : lo, e = se < hi ? se : hi;
        counts[r] = a < e ? (int)(e - a) : 0;
        displs[r] = a < e ? (int)(a - lo) : 0;
    }
}

// elements of any size as one contiguous MPI type, so counts and displacements stay in
// elements (an int) whatever the element size
static void mpi_all_gather(Comm *c, void *x, size_t n, size_t elem_size) {
    MpiComm *m = c->impl;
    MPI_Datatype elem;
    MPI_Type_contiguous((int)elem_size, MPI_BYTE, &elem);
    MPI_Type_commit(&elem);
    size_t buckets = reserve_buckets(c, n);
    for (size_t b = 0; b < buckets; b++) {
        size_t lo = b * c->bucket_elems, hi = n - lo < c->bucket_elems ? n : lo + c->bucket_elems;
        int *counts = m->counts + b * c->world, *displs = m->displs + b * c->world;
        bucket_split(c, n, lo, hi, counts, displs);
        MPI_Iallgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, (char *)x + lo * elem_size, counts, displs, elem,
                        MPI_COMM_WORLD, &m->requests[b]);
    }
    wait_all(c, buckets);
    MPI_Type_free(&elem);
}

static void mpi_broadcast(Comm *c, void *buf, size_t bytes, int root) {
    for (size_t done = 0; done < bytes;) {
        size_t len = bytes - done < INT_MAX ? bytes - done : INT_MAX;
        MPI_Bcast((char *)buf + done, (int)len, MPI_BYTE, root, MPI_COMM_WORLD);
        done += len;
    }
}

// ---- the bucket collectives (include/buckets.h): each piece in chunks of at most
// c->bucket_elems elements (an MPI count is an int), all started, then awaited

// room for the requests of pieces' chunks; returns their count
static size_t reserve_pieces(Comm *c, const BucketPiece *pieces, size_t count) {
    MpiComm *m = c->impl;
    size_t chunks = 0;
    for (size_t i = 0; i < count; i++) chunks += (pieces[i].hi - pieces[i].lo + c->bucket_elems - 1) / c->bucket_elems;
    if (chunks > m->piece_capacity) {
        free(m->piece_requests);
        m->piece_requests = xmalloc(chunks * sizeof(MPI_Request));
        m->piece_capacity = chunks;
    }
    return chunks;
}

// the MPI sum goes into the owner (to_owner) or every rank; then the ranks that hold
// a mean scale their sums
static void mpi_reduce_pieces(Comm *c, const BucketPiece *pieces, size_t count, float *x, int to_owner) {
    MpiComm *m = c->impl;
    size_t chunks = reserve_pieces(c, pieces, count), r = 0;
    for (size_t i = 0; i < count; i++) {
        int root = pieces[i].owner, mine = root == c->rank;
        for (size_t lo = pieces[i].lo; lo < pieces[i].hi; lo += c->bucket_elems) {
            int len = (int)(pieces[i].hi - lo < c->bucket_elems ? pieces[i].hi - lo : c->bucket_elems);
            if (!to_owner)
                MPI_Iallreduce(MPI_IN_PLACE, x + lo, len, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &m->piece_requests[r++]);
            else
                MPI_Ireduce(mine ? MPI_IN_PLACE : x + lo, mine ? x + lo : NULL, len, MPI_FLOAT, MPI_SUM, root,
                            MPI_COMM_WORLD, &m->piece_requests[r++]);
        }
    }
    MPI_Waitall((int)chunks, m->piece_requests, MPI_STATUSES_IGNORE);
    for (size_t i = 0; i < count; i++)
        if (!to_owner || pieces[i].owner == c->rank) scale(x + pieces[i].lo, pieces[i].hi - pieces[i].lo, 1.0f / c->world);
}

static void mpi_broadcast_pieces(Comm *c, const BucketPiece *pieces, size_t count, void *x, size_t elem_size) {
    MpiComm *m = c->impl;
    MPI_Datatype elem;
    MPI_Type_contiguous((int)elem_size, MPI_BYTE, &elem);
    MPI_Type_commit(&elem);
    size_t chunks = reserve_pieces(c, pieces, count), r = 0;
    for (size_t i = 0; i < count; i++)
        for (size_t lo = pieces[i].lo; lo < pieces[i].hi; lo += c->bucket_elems) {
            int len = (int)(pieces[i].hi - lo < c->bucket_elems ? pieces[i].hi - lo : c->bucket_elems);
            MPI_Ibcast((char *)x + lo * elem_size, len, elem, pieces[i].owner, MPI_COMM_WORLD, &m->piece_requests[r++]);
        }
    MPI_Waitall((int)chunks, m->piece_requests, MPI_STATUSES_IGNORE);
    MPI_Type_free(&elem);
}

static void mpi_sum_in_place(Comm *c, double *x, size_t n) {
    MPI_Allreduce(MPI_IN_PLACE, x, (int)n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
}

static void mpi_barrier(Comm *c) { MPI_Barrier(MPI_COMM_WORLD); }

static double mpi_sum(Comm *c, double x) {
    double total;
    MPI_Allreduce(&x, &total, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    return total;
}

const CommOps comm_mpi_ops = {
    .name = "mpi", .init = mpi_init, .finalize = mpi_finalize, .all_gather = mpi_all_gather, .broadcast = mpi_broadcast,
    .barrier = mpi_barrier, .sum = mpi_sum, .reduce_pieces = mpi_reduce_pieces,
    .broadcast_pieces = mpi_broadcast_pieces, .sum_in_place = mpi_sum_in_place,
};
