// Gradient buckets for data parallelism: the flat gradient vector in the order the
// backward pass completes it, cut into buckets that are exchanged as soon as they
// are complete, and each bucket's ranges cut at the ZeRO shard edges into pieces
// that each belong to one rank (the owner of that part of the optimizer state).
//
// The caller (the model: include/grad_buckets.h) describes the vector as ranges,
// each tagged with a group: the groups are numbered in the order the backward
// completes them (group 0 first). Consecutive groups are merged into a bucket until
// it holds at least min_elems elements; the last group closes the last bucket,
// whatever its size. Within a bucket adjacent ranges are merged, so a bucket of
// layers l..l' of a layout stored tensor by tensor is one range per tensor.
//
// The collectives over a bucket's pieces (ZeRO-1: reduce each piece into its owner,
// then broadcast each from its owner; ZeRO-0: all-reduce each piece) are one group
// per bucket. Host backends (mpi, none) return with the data exchanged; a device
// backend (nccl) enqueues them on comm_stream() and returns at once: the caller
// orders its own streams against that one with events.
#ifndef SCPT_BUCKETS_H
#define SCPT_BUCKETS_H

#include <stddef.h>
#include "comm.h"

// the default smallest bucket: 32 MiB of fp32 gradients (train --bucket-mib)
#define BUCKET_DEFAULT_MIB 32.0

typedef struct {
    size_t lo, hi;   // elements [lo, hi) of the flat vector
    int group;       // completion order: 0 is complete first
} GradRange;

typedef struct {
    size_t lo, hi;
    int owner;       // the rank whose shard (comm_shard_of over the padded length) holds [lo, hi)
} BucketPiece;

typedef struct {
    size_t padded;          // the vector's length: the ranges tile [0, padded)
    int num_groups, num_buckets;
    int *group_bucket;      // num_groups: the bucket each group went into (non-decreasing)
    size_t *piece_start;    // num_buckets + 1: bucket k's pieces are pieces[piece_start[k], piece_start[k + 1])
    BucketPiece *pieces;    // each bucket's pieces in increasing lo
} BucketPlan;

// -1 with scpt_error() when the ranges do not tile [0, padded) exactly once, a group
// is negative, or min_elems is 0. Shards are comm_shard_of(c, rank, padded).
int bucket_plan_build(BucketPlan *p, const GradRange *ranges, size_t count, size_t padded, const Comm *c,
                      size_t min_elems);
void bucket_plan_free(BucketPlan *p);
// the first and last group in bucket k
void bucket_groups(const BucketPlan *p, int k, int *first, int *last);
// 1 when group g is the last of its bucket: once it is complete, so is the bucket
int bucket_closes(const BucketPlan *p, int g);
// elements in bucket k
size_t bucket_elems(const BucketPlan *p, int k);

// ZeRO-1 (to_owner 1): each piece of bucket k <- its mean over ranks on the piece's
// owner; the other ranks' copies are left as they were. ZeRO-0 (to_owner 0): every
// rank gets the mean of every piece.
void comm_bucket_reduce_mean(Comm *c, const BucketPlan *p, int k, float *x, int to_owner);
// each piece of bucket k, elements of elem_size bytes (bf16 parameters: 2), from its
// owner to every rank
void comm_bucket_broadcast(Comm *c, const BucketPlan *p, int k, void *x, size_t elem_size);

#endif
