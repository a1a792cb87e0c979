// The bucket plan and its collectives (include/buckets.h).
#include "buckets.h"

#include <stdlib.h>
#include <string.h>
#include "comm_impl.h"
#include "util.h"

static int by_lo(const void *a, const void *b) {
    const GradRange *x = a, *y = b;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

// the ranges sorted by start must follow each other from 0 to padded
static int check_tiling(const GradRange *sorted, size_t count, size_t padded) {
    size_t at = 0;
    for (size_t i = 0; i < count; i++) {
        if (sorted[i].group < 0) {
            scpt_set_error("buckets: range [%zu, %zu) has group %d", sorted[i].lo, sorted[i].hi, sorted[i].group);
            return -1;
        }
        if (sorted[i].lo != at || sorted[i].hi < sorted[i].lo) {
            scpt_set_error("buckets: range [%zu, %zu) %s element %zu", sorted[i].lo, sorted[i].hi,
                           sorted[i].lo < at ? "overlaps the range before it at" : "leaves a gap before", at);
            return -1;
        }
        at = sorted[i].hi;
    }
    if (at != padded) {
        scpt_set_error("buckets: the ranges cover [0, %zu) of a vector of %zu elements", at, padded);
        return -1;
    }
    return 0;
}

// appends [lo, hi) cut at the shard edges; returns the new piece count
static size_t add_pieces(BucketPiece *out, size_t n, size_t lo, size_t hi, const Comm *c, size_t padded) {
    for (int r = 0; r < c->world && lo < hi; r++) {
        size_t sb, se;
        comm_shard_of(c, r, padded, &sb, &se);
        size_t a = sb > lo ? sb : lo, e = se < hi ? se : hi;
        if (a < e) out[n++] = (BucketPiece){a, e, r};
    }
    return n;
}

int bucket_plan_build(BucketPlan *p, const GradRange *ranges, size_t count, size_t padded, const Comm *c,
                      size_t min_elems) {
    memset(p, 0, sizeof *p);
    if (min_elems == 0) {
        scpt_set_error("buckets: the smallest bucket must hold at least one element");
        return -1;
    }
    // sorted by start, empty ranges dropped
    GradRange *sorted = xmalloc((count + 1) * sizeof *sorted);
    size_t n = 0;
    int groups = 0;
    for (size_t i = 0; i < count; i++) {
        if (ranges[i].hi == ranges[i].lo) continue;
        sorted[n++] = ranges[i];
        if (ranges[i].group >= groups) groups = ranges[i].group + 1;
    }
    qsort(sorted, n, sizeof *sorted, by_lo);
    if (check_tiling(sorted, n, padded) != 0) {
        free(sorted);
        return -1;
    }
    // consecutive groups into buckets of at least min_elems; the last group closes the last
    size_t *group_size = xcalloc(groups + 1, sizeof *group_size), held = 0;
    for (size_t i = 0; i < n; i++) group_size[sorted[i].group] += sorted[i].hi - sorted[i].lo;
    p->padded = padded, p->num_groups = groups;
    p->group_bucket = xmalloc((groups + 1) * sizeof *p->group_bucket);
    for (int g = 0, k = 0; g < groups; g++) {
        p->group_bucket[g] = k;
        held += group_size[g];
        if (held >= min_elems && g < groups - 1) k++, held = 0;
        p->num_buckets = k + 1;
    }
    free(group_size);
    // each bucket's ranges in increasing lo (sorted is), adjacent ones merged, then cut at shard edges;
    // a range yields at most world pieces
    p->piece_start = xmalloc((p->num_buckets + 1) * sizeof *p->piece_start);
    p->pieces = xmalloc((n * c->world + 1) * sizeof *p->pieces);
    size_t pieces = 0;
    for (int k = 0; k < p->num_buckets; k++) {
        p->piece_start[k] = pieces;
        for (size_t i = 0; i < n;) {
            if (p->group_bucket[sorted[i].group] != k) {
                i++;
                continue;
            }
            size_t lo = sorted[i].lo, hi = sorted[i].hi;
            for (i++; i < n && sorted[i].lo == hi && p->group_bucket[sorted[i].group] == k; i++) hi = sorted[i].hi;
            pieces = add_pieces(p->pieces, pieces, lo, hi, c, padded);
        }
    }
    p->piece_start[p->num_buckets] = pieces;
    free(sorted);
    return 0;
}

void bucket_plan_free(BucketPlan *p) {
    free(p->group_bucket);
    free(p->piece_start);
    free(p->pieces);
    memset(p, 0, sizeof *p);
}

void bucket_groups(const BucketPlan *p, int k, int *first, int *last) {
    *first = -1, *last = -1;
    for (int g = 0; g < p->num_groups; g++) {
        if (p->group_bucket[g] != k) continue;
        if (*first < 0) *first = g;
        *last = g;
    }
}

int bucket_closes(const BucketPlan *p, int g) {
    return g == p->num_groups - 1 || p->group_bucket[g + 1] != p->group_bucket[g];
}

size_t bucket_elems(const BucketPlan *p, int k) {
    size_t total = 0;
    for (size_t i = p->piece_start[k]; i < p->piece_start[k + 1]; i++) total += p->pieces[i].hi - p->pieces[i].lo;
    return total;
}

void comm_bucket_reduce_mean(Comm *c, const BucketPlan *p, int k, float *x, int to_owner) {
    c->ops->reduce_pieces(c, p->pieces + p->piece_start[k], p->piece_start[k + 1] - p->piece_start[k], x, to_owner);
}

void comm_bucket_broadcast(Comm *c, const BucketPlan *p, int k, void *x, size_t elem_size) {
    c->ops->broadcast_pieces(c, p->pieces + p->piece_start[k], p->piece_start[k + 1] - p->piece_start[k], x,
                             elem_size);
}
