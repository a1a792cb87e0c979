// Tests of the gradient bucket plan (include/buckets.h, include/grad_buckets.h) on
// the presets' parameter layouts, world sizes 1..8, with and without the GPU's
// padding to a multiple of the world size: the pieces of all buckets tile the vector
// exactly once, each lies in its owner's shard, the buckets follow the order the
// backward completes the gradients, and each holds at least the minimum but the last.
// The collectives over the pieces are tested in test_comm (MPI, 2 and 3 ranks).
#include "grad_buckets.h"
#include "test.h"

static int by_lo(const void *a, const void *b) {
    const BucketPiece *x = a, *y = b;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

// the group of element i, derived from the layout alone: which tensor holds it and,
// for a layer tensor, which layer (backward completes layer L-1 first)
static int group_of(const ModelConfig *c, const ParamTensor *t, size_t i) {
    for (int k = 0; k < NUM_PARAM_TENSORS; k++) {
        if (i < t[k].offset || i >= t[k].offset + t[k].size) continue;
        if (k == P_WTE || k == P_WPE) return c->n_layer + 1;
        if (k == P_LNFW || k == P_LNFB || k == P_LMHEAD) return 0;
        return c->n_layer - (int)((i - t[k].offset) / (t[k].size / c->n_layer));
    }
    return c->n_layer + 1;   // the padding
}

// every property of one plan; returns the failures (each printed once)
static int check_plan(const BucketPlan *p, const Comm *comm, const ModelConfig *c, const ParamTensor *t,
                      size_t padded, size_t min_elems, const char *what) {
    int bad = test_had_failure;
    test_had_failure = 0;
    size_t count = p->piece_start[p->num_buckets];
    CHECK(p->num_groups == c->n_layer + 2, "%s: %d groups", what, p->num_groups);
    // buckets hold consecutive groups from 0 to the last, the minimum but in the last
    int next = 0;
    for (int k = 0; k < p->num_buckets && !test_had_failure; k++) {
        int first, last;
        bucket_groups(p, k, &first, &last);
        CHECK(first == next && last >= first, "%s: bucket %d holds groups %d..%d, expected from %d", what, k, first,
              last, next);
        next = last + 1;
        for (int g = first; g <= last; g++) CHECK(bucket_closes(p, g) == (g == last), "%s: group %d closes", what, g);
        CHECK(k == p->num_buckets - 1 || bucket_elems(p, k) >= min_elems, "%s: bucket %d of %zu < %zu elements", what,
              k, bucket_elems(p, k), min_elems);
        for (size_t i = p->piece_start[k]; i < p->piece_start[k + 1]; i++) {
            const BucketPiece *x = &p->pieces[i];
            size_t sb, se;
            comm_shard_of(comm, x->owner, padded, &sb, &se);
            CHECK(x->owner >= 0 && x->owner < comm->world && x->lo >= sb && x->hi <= se && x->lo < x->hi,
                  "%s: piece [%zu, %zu) of rank %d, whose shard is [%zu, %zu)", what, x->lo, x->hi, x->owner, sb, se);
            // within a piece the group is monotone (one tensor, layers in order): its ends bound it
            int g0 = group_of(c, t, x->lo), g1 = group_of(c, t, x->hi - 1);
            CHECK(g0 >= first && g0 <= last && g1 >= first && g1 <= last,
                  "%s: piece [%zu, %zu) has groups %d, %d, its bucket %d holds %d..%d", what, x->lo, x->hi, g0, g1, k,
                  first, last);
            CHECK(i == p->piece_start[k] || x->lo > p->pieces[i - 1].lo, "%s: bucket %d's pieces out of order", what, k);
        }
    }
    CHECK(next == p->num_groups, "%s: the buckets end at group %d of %d", what, next, p->num_groups);
    // together, the pieces tile [0, padded) exactly once
    BucketPiece *sorted = xmalloc((count + 1) * sizeof *sorted);
    memcpy(sorted, p->pieces, count * sizeof *sorted);
    qsort(sorted, count, sizeof *sorted, by_lo);
    size_t at = 0;
    for (size_t i = 0; i < count && !test_had_failure; i++) {
        CHECK(sorted[i].lo == at, "%s: piece [%zu, %zu) after element %zu", what, sorted[i].lo, sorted[i].hi, at);
        at = sorted[i].hi;
    }
    CHECK(at == padded, "%s: the pieces end at %zu of %zu", what, at, padded);
    free(sorted);
    int failed = test_had_failure;
    test_had_failure = bad || failed;
    return failed;
}

static void test_presets(void) {
    const char *names[] = {"gpt2-124m", "gpt2-1558m", "llama3.2-1b", "llama3-8b", "tiny-gpt2", "tiny-llama",
                           "tiny-llama3-vocab"};
    Comm comm = {0};
    int plans = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        ModelConfig c;
        ParamTensor t[NUM_PARAM_TENSORS];
        CHECK(model_preset(&c, names[i]) == 0, "preset %s", names[i]);
        size_t n = model_param_layout(t, &c);
        // the default 32 MiB, a bucket per few tensors' layers, and everything in one bucket
        size_t mins[] = {(size_t)(BUCKET_DEFAULT_MIB * (1 << 20)) / 4, n / 50 + 1, 1000, n + 1};
        for (comm.world = 1; comm.world <= 8; comm.world++) {
            size_t per = (n + comm.world - 1) / comm.world, paddings[] = {n, per * comm.world};
            for (int pad = 0; pad < 2; pad++)
                for (size_t k = 0; k < sizeof mins / sizeof mins[0]; k++) {
                    BucketPlan p;
                    char what[128];
                    snprintf(what, sizeof what, "%s, world %d, %s, buckets >= %zu", names[i], comm.world,
                             pad ? "padded" : "unpadded", mins[k]);
                    CHECK(grad_bucket_plan(&p, &c, t, n, paddings[pad], &comm, mins[k]) == 0, "%s: %s", what,
                          scpt_error());
                    check_plan(&p, &comm, &c, t, paddings[pad], mins[k], what);
                    if (k == 3) CHECK(p.num_buckets == 1, "%s: %d buckets", what, p.num_buckets);
                    // no bucket left small but the last: at most one bucket per min plus one
                    CHECK((size_t)p.num_buckets <= paddings[pad] / mins[k] + 1, "%s: %d buckets", what, p.num_buckets);
                    bucket_plan_free(&p);
                    plans++;
                }
        }
    }
    // the default for GPT-2 124M: 8M-element buckets over layers of 7.09M each: the final
    // norm with layers 11 and 10, then pairs of layers down to layer 0 (6 buckets), and
    // the embeddings (39.4M) alone
    ModelConfig c;
    ParamTensor t[NUM_PARAM_TENSORS];
    model_preset(&c, "gpt2-124m");
    size_t n = model_param_layout(t, &c);
    BucketPlan p;
    comm.world = 8;
    grad_bucket_plan(&p, &c, t, n, n, &comm, (size_t)(BUCKET_DEFAULT_MIB * (1 << 20)) / 4);
    printf("  %d plans checked; gpt2-124m at 8 ranks, 32 MiB: %d buckets, %zu pieces\n", plans, p.num_buckets,
           p.piece_start[p.num_buckets]);
    CHECK(p.num_buckets == 7, "gpt2-124m: %d buckets", p.num_buckets);
    bucket_plan_free(&p);
}

// a vector smaller than the world: ranks with empty shards own no piece
static void test_empty_shards(void) {
    Comm comm = {.world = 8};
    // 10 elements over 8 ranks: shards of 2, ranks 5..7 empty; groups out of order in memory
    GradRange r[] = {{0, 3, 2}, {3, 4, 0}, {4, 9, 1}, {9, 10, 2}};
    BucketPlan p;
    CHECK(bucket_plan_build(&p, r, 4, 10, &comm, 1) == 0, "%s", scpt_error());
    CHECK(p.num_buckets == 3, "%d buckets", p.num_buckets);
    // bucket 0: [3, 4) of rank 1; bucket 1: [4, 9) cut at 6 and 8; bucket 2: [0, 3) and [9, 10)
    BucketPiece want[] = {{3, 4, 1}, {4, 6, 2}, {6, 8, 3}, {8, 9, 4}, {0, 2, 0}, {2, 3, 1}, {9, 10, 4}};
    size_t starts[] = {0, 1, 4, 7};
    CHECK(p.piece_start[3] == 7, "%zu pieces", p.piece_start[3]);
    for (int k = 0; k <= 3; k++) CHECK(p.piece_start[k] == starts[k], "bucket %d starts at %zu", k, p.piece_start[k]);
    for (size_t i = 0; i < 7 && i < p.piece_start[3]; i++)
        CHECK(p.pieces[i].lo == want[i].lo && p.pieces[i].hi == want[i].hi && p.pieces[i].owner == want[i].owner,
              "piece %zu: [%zu, %zu) of %d", i, p.pieces[i].lo, p.pieces[i].hi, p.pieces[i].owner);
    bucket_plan_free(&p);
    // one bucket of everything: adjacent ranges merge before the cut
    CHECK(bucket_plan_build(&p, r, 4, 10, &comm, 100) == 0 && p.num_buckets == 1 && p.piece_start[1] == 5,
          "one bucket: %d buckets, %zu pieces", p.num_buckets, p.piece_start[1]);
    bucket_plan_free(&p);
}

static void test_bad_ranges(void) {
    Comm comm = {.world = 2};
    BucketPlan p;
    GradRange gap[] = {{0, 3, 0}, {4, 10, 1}}, overlap[] = {{0, 5, 0}, {4, 10, 1}}, negative[] = {{0, 10, -1}};
    CHECK(bucket_plan_build(&p, gap, 2, 10, &comm, 1) == -1 && strstr(scpt_error(), "gap"), "%s", scpt_error());
    CHECK(bucket_plan_build(&p, overlap, 2, 10, &comm, 1) == -1 && strstr(scpt_error(), "overlaps"), "%s",
          scpt_error());
    CHECK(bucket_plan_build(&p, gap, 1, 3, &comm, 0) == -1 && strstr(scpt_error(), "at least one"), "%s",
          scpt_error());
    CHECK(bucket_plan_build(&p, negative, 1, 10, &comm, 1) == -1 && strstr(scpt_error(), "group -1"), "%s",
          scpt_error());
    CHECK(bucket_plan_build(&p, gap, 1, 10, &comm, 1) == -1 && strstr(scpt_error(), "cover [0, 3)"), "%s",
          scpt_error());
}

int main(void) {
    RUN_TEST(test_presets);
    RUN_TEST(test_empty_shards);
    RUN_TEST(test_bad_ranges);
    return test_summary();
}
