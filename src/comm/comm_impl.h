// The backend table behind include/comm.h. A backend that is not built leaves its
// (weak) table undefined, so comm.c can say so instead of failing to link.
#ifndef SCPT_COMM_IMPL_H
#define SCPT_COMM_IMPL_H

#include "buckets.h"
#include "comm.h"

struct CommOps {
    const char *name;
    int device_buffers;
    // sets c->rank/world/local_rank/impl from the runtime; -1 with scpt_error()
    int (*init)(Comm *c, int *argc, char ***argv);
    void (*finalize)(Comm *c);
    void (*all_gather)(Comm *c, void *x, size_t n, size_t elem_size);
    void (*broadcast)(Comm *c, void *buf, size_t bytes, int root);
    void (*barrier)(Comm *c);
    double (*sum)(Comm *c, double x);
    // include/buckets.h's collectives over one bucket's pieces, and comm_sum_in_place;
    // a device backend enqueues them on its stream (the stream op's) and returns
    void (*reduce_pieces)(Comm *c, const BucketPiece *pieces, size_t count, float *x, int to_owner);
    void (*broadcast_pieces)(Comm *c, const BucketPiece *pieces, size_t count, void *x, size_t elem_size);
    void (*sum_in_place)(Comm *c, double *x, size_t n);
    void *(*stream)(Comm *c);   // NULL for host backends
};

extern const CommOps comm_mpi_ops __attribute__((weak));
extern const CommOps comm_nccl_ops __attribute__((weak));

#endif
