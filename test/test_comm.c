// Tests of include/comm.h: launch discovery, sharding, backend errors, the TCP
// rendezvous, and the collectives (include/buckets.h's included) of whatever
// backend this process gets. Run alone it checks the single-process backend; test/test_dp.sh runs it again under
// `mpirun -np 2` (and 3), where the same checks exercise the MPI backend with tiny
// buckets that cut across shard boundaries.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include "buckets.h"
#include "comm.h"
#include "rendezvous.h"
#include "test.h"

static Comm comm;

static void clear_launch_env(void) {
    const char *names[] = {"RANK", "WORLD_SIZE", "LOCAL_RANK", "SLURM_PROCID", "SLURM_NTASKS",
                           "SLURM_STEP_NUM_TASKS", "SLURM_LOCALID"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) unsetenv(names[i]);
}

static void test_discover(void) {
    if (strcmp(comm.launcher, "single") != 0) SKIP_TEST("runs only outside a launcher");
    int r, w, l;
    const char *launcher;
    CHECK(comm_discover(&r, &w, &l, &launcher) == 0 && r == 0 && w == 1 && l == 0, "single process");
    setenv("RANK", "3", 1), setenv("WORLD_SIZE", "8", 1), setenv("LOCAL_RANK", "3", 1);
    CHECK(comm_discover(&r, &w, &l, &launcher) == 0 && r == 3 && w == 8 && l == 3 &&
              strcmp(launcher, "torchrun") == 0,
          "torchrun env: %d %d %d %s", r, w, l, launcher);
    // Slurm wins over torchrun; the step's task count over the job's
    setenv("SLURM_PROCID", "9", 1), setenv("SLURM_NTASKS", "32", 1), setenv("SLURM_LOCALID", "1", 1);
    CHECK(comm_discover(&r, &w, &l, &launcher) == 0 && r == 9 && w == 32 && l == 1 && strcmp(launcher, "slurm") == 0,
          "slurm env: %d %d %d %s", r, w, l, launcher);
    setenv("SLURM_STEP_NUM_TASKS", "16", 1);
    CHECK(comm_discover(&r, &w, &l, &launcher) == 0 && w == 16, "srun step size: %d", w);
    setenv("SLURM_PROCID", "16", 1);
    CHECK(comm_discover(&r, &w, &l, &launcher) == -1 && strstr(scpt_error(), "rank 16 of world size 16"),
          "rank past world: %s", scpt_error());
    setenv("SLURM_PROCID", "2x", 1);
    CHECK(comm_discover(&r, &w, &l, &launcher) == -1 && strstr(scpt_error(), "SLURM_PROCID='2x'"),
          "malformed rank: %s", scpt_error());
    clear_launch_env();
}

static void test_backend_errors(void) {
    if (strcmp(comm.launcher, "single") != 0) SKIP_TEST("runs only outside a launcher");
    Comm c;
    CHECK(comm_init(&c, "bogus", NULL, NULL) == -1 && strstr(scpt_error(), "unknown backend 'bogus'"), "%s",
          scpt_error());
    CHECK(comm_init(&c, "nccl", NULL, NULL) == -1 && strstr(scpt_error(), "not built"), "%s", scpt_error());
    setenv("RANK", "1", 1), setenv("WORLD_SIZE", "2", 1);
    CHECK(comm_init(&c, "none", NULL, NULL) == -1 && strstr(scpt_error(), "rank 1 of 2"), "%s", scpt_error());
    CHECK(comm_init(&c, "auto", NULL, NULL) == -1 && strstr(scpt_error(), "--comm nccl"), "%s", scpt_error());
    clear_launch_env();
}

// the backend train picks for GPU or CPU ranks under each launcher, and the pairings refused
static void test_choose_backend(void) {
    if (strcmp(comm.launcher, "single") != 0) SKIP_TEST("runs only outside a launcher");
    struct {
        const char *env[2][2];   // launch variables: name, value
        const char *backend;
        int gpu;
        const char *want;        // the chosen backend, or a phrase of the error
        int ok;
    } cases[] = {
        // one process: nothing to exchange, on either device
        {{{NULL}}, "auto", 0, "none", 1},
        {{{NULL}}, "auto", 1, "none", 1},
        {{{NULL}}, "nccl", 1, "nccl", 1},
        {{{NULL}}, "mpi", 1, "mpi", 1},
        {{{NULL}}, "nccl", 0, "CPU ranks use --comm mpi", 0},
        // srun of 2 ranks
        {{{"SLURM_PROCID", "1"}, {"SLURM_NTASKS", "2"}}, "auto", 0, "mpi", 1},
        {{{"SLURM_PROCID", "1"}, {"SLURM_NTASKS", "2"}}, "auto", 1, "nccl", 1},
        {{{"SLURM_PROCID", "1"}, {"SLURM_NTASKS", "2"}}, "mpi", 1, "2 GPU ranks exchange gradients", 0},
        {{{"SLURM_PROCID", "1"}, {"SLURM_NTASKS", "2"}}, "none", 1, "takes --comm nccl", 0},
        {{{"SLURM_PROCID", "1"}, {"SLURM_NTASKS", "2"}}, "nccl", 0, "this run trains on the CPU", 0},
        // torchrun of 2 ranks, and of 1 (a launched job of one keeps its launcher's backend)
        {{{"RANK", "1"}, {"WORLD_SIZE", "2"}}, "auto", 1, "nccl", 1},
        {{{"RANK", "1"}, {"WORLD_SIZE", "2"}}, "auto", 0, "launch CPU ranks with mpirun or srun", 0},
        {{{"RANK", "0"}, {"WORLD_SIZE", "1"}}, "auto", 1, "nccl", 1},
        {{{"RANK", "0"}, {"WORLD_SIZE", "1"}}, "auto", 0, "none", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (int k = 0; k < 2; k++)
            if (cases[i].env[k][0]) setenv(cases[i].env[k][0], cases[i].env[k][1], 1);
        const char *chosen = NULL;
        int rc = comm_choose_backend(cases[i].backend, cases[i].gpu, &chosen);
        if (cases[i].ok)
            CHECK(rc == 0 && strcmp(chosen, cases[i].want) == 0, "case %zu: --comm %s, gpu %d: %s", i,
                  cases[i].backend, cases[i].gpu, rc == 0 ? chosen : scpt_error());
        else
            CHECK(rc == -1 && strstr(scpt_error(), cases[i].want), "case %zu: --comm %s, gpu %d: %s", i,
                  cases[i].backend, cases[i].gpu, rc == 0 ? chosen : scpt_error());
        clear_launch_env();
    }
}

static void test_shard(void) {
    Comm c = comm;
    size_t sizes[] = {0, 1, 2, 10, 101, 4096};
    for (int world = 1; world <= 5; world++) {
        for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
            size_t n = sizes[k], next = 0, per = (n + world - 1) / world;
            c.world = world;
            for (c.rank = 0; c.rank < world; c.rank++) {
                size_t b, e;
                comm_shard(&c, n, &b, &e);
                // contiguous, in rank order, no gap, no overlap, none larger than ceil(n/world)
                CHECK(b == next && e >= b && e - b <= per, "n %zu world %d rank %d: [%zu, %zu)", n, world, c.rank,
                      b, e);
                next = e;
            }
            CHECK(next == n, "n %zu world %d: shards end at %zu", n, world, next);
        }
    }
}

// x[i] on rank r is r * 1000 + i, so the mean over ranks is (world - 1) * 500 + i
static float value(int rank, size_t i) { return (float)(rank * 1000 + i); }
static float mean_value(int world, size_t i) { return (float)((world - 1) * 500.0 + i); }

static void test_collectives(void) {
    // 7-element buckets: every bucket boundary falls inside a shard somewhere
    comm.bucket_elems = 7;
    size_t sizes[] = {1, 2, 101};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t n = sizes[k], b, e;
        float *x = xmalloc(n * sizeof(float));
        comm_shard(&comm, n, &b, &e);
        for (size_t i = 0; i < n; i++) x[i] = i >= b && i < e ? (float)(i * 3) : -1.0f;
        comm_all_gather(&comm, x, n);
        int bad = 0;
        for (size_t i = 0; i < n; i++) bad += x[i] != (float)(i * 3);
        CHECK(bad == 0, "all-gather of %zu: %d wrong", n, bad);
        free(x);
    }
    char msg[32];
    snprintf(msg, sizeof msg, "from %d", comm.rank);
    comm_broadcast(&comm, msg, sizeof msg, comm.world - 1);
    char want[32];
    snprintf(want, sizeof want, "from %d", comm.world - 1);
    CHECK(strcmp(msg, want) == 0, "broadcast: '%s'", msg);
    CHECK_NEAR(comm_sum(&comm, comm.rank + 1), comm.world * (comm.world + 1) / 2.0, 0, "sum of rank + 1");
    comm_barrier(&comm);
}

// the bucket collectives (include/buckets.h) over a plan whose buckets are out of
// memory order and whose pieces cut across shard edges
static void test_bucket_collectives(void) {
    comm.bucket_elems = 7;   // MPI sends pieces in chunks of this many
    size_t n = 101, b, e;
    // ranges of 6 (the last shorter), completed in a scrambled order: groups 0..16
    GradRange ranges[17];
    for (int i = 0; i < 17; i++)
        ranges[i] = (GradRange){(size_t)i * 6, i == 16 ? n : (size_t)(i + 1) * 6, (i * 7) % 17};
    BucketPlan p;
    CHECK(bucket_plan_build(&p, ranges, 17, n, &comm, 20) == 0, "%s", scpt_error());
    CHECK(p.num_buckets == 5, "%d buckets of >= 20 elements", p.num_buckets);
    comm_shard(&comm, n, &b, &e);
    float *x = xmalloc(n * sizeof(float));
    // ZeRO-1: the owner's pieces hold the mean, the others are untouched
    for (size_t i = 0; i < n; i++) x[i] = value(comm.rank, i);
    for (int k = 0; k < p.num_buckets; k++) comm_bucket_reduce_mean(&comm, &p, k, x, 1);
    int bad = 0;
    for (size_t i = 0; i < n; i++) bad += x[i] != (i >= b && i < e ? mean_value(comm.world, i) : value(comm.rank, i));
    CHECK(bad == 0, "reduce into owners, rank %d [%zu, %zu): %d wrong", comm.rank, b, e, bad);
    // ZeRO-0: every rank gets every mean
    for (size_t i = 0; i < n; i++) x[i] = value(comm.rank, i);
    for (int k = 0; k < p.num_buckets; k++) comm_bucket_reduce_mean(&comm, &p, k, x, 0);
    bad = 0;
    for (size_t i = 0; i < n; i++) bad += x[i] != mean_value(comm.world, i);
    CHECK(bad == 0, "all-reduce of the pieces: %d wrong", bad);
    // the owners' values reach every rank, in the reverse order of the buckets, as floats and as 2-byte elements
    for (size_t i = 0; i < n; i++) x[i] = i >= b && i < e ? (float)(i * 3) : -1.0f;
    for (int k = p.num_buckets - 1; k >= 0; k--) comm_bucket_broadcast(&comm, &p, k, x, sizeof(float));
    bad = 0;
    for (size_t i = 0; i < n; i++) bad += x[i] != (float)(i * 3);
    CHECK(bad == 0, "broadcast from the owners: %d wrong", bad);
    unsigned short *h = xmalloc(n * sizeof *h);
    for (size_t i = 0; i < n; i++) h[i] = i >= b && i < e ? (unsigned short)(i * 641) : 0;
    for (int k = 0; k < p.num_buckets; k++) comm_bucket_broadcast(&comm, &p, k, h, sizeof *h);
    bad = 0;
    for (size_t i = 0; i < n; i++) bad += h[i] != (unsigned short)(i * 641);
    CHECK(bad == 0, "broadcast of 2-byte elements: %d wrong", bad);
    double sums[2] = {comm.rank + 1, 0.5};
    comm_sum_in_place(&comm, sums, 2);
    CHECK(sums[0] == comm.world * (comm.world + 1) / 2.0 && sums[1] == 0.5 * comm.world, "sum in place: %g %g",
          sums[0], sums[1]);
    CHECK(comm_stream(&comm) == NULL, "a host backend has no stream");
    free(h);
    free(x);
    bucket_plan_free(&p);
}

static void test_rendezvous(void) {
    if (strcmp(comm.launcher, "single") != 0) SKIP_TEST("runs only outside a launcher");
    char port[16];
    snprintf(port, sizeof port, "%d", 20000 + getpid() % 20000);
    unsigned char id[128], got[2][128];
    for (int i = 0; i < 128; i++) id[i] = (unsigned char)(i * 7 + 1);
    int fds[2][2];
    pid_t kids[2];
    // ranks 1 and 2 fetch in children (started before rank 0 listens: they retry),
    // and pipe what they got back
    for (int k = 0; k < 2; k++) {
        CHECK(pipe(fds[k]) == 0, "pipe");
        kids[k] = fork();
        if (kids[k] == 0) {
            unsigned char blob[128] = {0};
            int rc = rendezvous_share("127.0.0.1", port, k + 1, 3, blob, sizeof blob, 10);
            if (write(fds[k][1], blob, sizeof blob) != (ssize_t)sizeof blob) rc = -1;
            _exit(rc == 0 ? 0 : 1);
        }
    }
    usleep(200 * 1000);
    CHECK(rendezvous_share("127.0.0.1", port, 0, 3, id, sizeof id, 10) == 0, "rank 0 serves: %s", scpt_error());
    for (int k = 0; k < 2; k++) {
        int status;
        waitpid(kids[k], &status, 0);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "rank %d fetched", k + 1);
        CHECK(read(fds[k][0], got[k], 128) == 128 && memcmp(got[k], id, 128) == 0, "rank %d got the id", k + 1);
        close(fds[k][0]), close(fds[k][1]);
    }
    // nobody listening: a clear error after the timeout, not a hang
    double t0 = wall_time();
    CHECK(rendezvous_share("127.0.0.1", port, 1, 2, got[0], 128, 0.3) == -1 && strstr(scpt_error(), "in time"),
          "%s", scpt_error());
    CHECK(wall_time() - t0 < 5, "timed out in %.1f s", wall_time() - t0);
    CHECK(rendezvous_share(NULL, port, 1, 2, got[0], 128, 1) == -1 && strstr(scpt_error(), "MASTER_ADDR"), "%s",
          scpt_error());
}

int main(int argc, char **argv) {
    if (comm_init(&comm, "auto", &argc, &argv) != 0) die("%s", scpt_error());
    printf("rank %d of %d (%s)\n", comm.rank, comm.world, comm_backend_name(&comm));
    RUN_TEST(test_discover);
    RUN_TEST(test_backend_errors);
    RUN_TEST(test_choose_backend);
    RUN_TEST(test_shard);
    RUN_TEST(test_collectives);
    RUN_TEST(test_bucket_collectives);
    RUN_TEST(test_rendezvous);
    comm_finalize(&comm);
    return test_summary();
}
