// The NCCL backend at world size 1 (on a machine with a GPU; skipped without one, a
// failure under SCPT_REQUIRE_GPU=1): the same collectives as test_comm, on device
// buffers. Under mpirun -np N on a multi-GPU node it checks N ranks the same way.
#include <cuda_runtime_api.h>
#include "buckets.h"
#include "comm.h"
#include "test.h"

static Comm comm;

// The backend runs on its own non-blocking stream, which does not wait for the legacy
// stream a plain cudaMemcpy uses (and a copy from pageable memory may return before
// it reaches the device): every copy here is complete before a collective starts.
static void copy(void *dst, const void *src, size_t bytes, enum cudaMemcpyKind kind) {
    CHECK(cudaMemcpy(dst, src, bytes, kind) == cudaSuccess, "cudaMemcpy");
    CHECK(cudaDeviceSynchronize() == cudaSuccess, "cudaDeviceSynchronize");
}

// the all-gather (the checkpoint's gather of the optimizer shards), broadcast, sums
static void test_nccl_collectives(void) {
    // a multiple of the world size, as the NCCL backend's all-gather needs
    size_t n = 1000 * (size_t)comm.world, b, e;
    float *host = xmalloc(n * sizeof(float)), *x;
    CHECK(cudaMalloc((void **)&x, n * sizeof(float)) == cudaSuccess, "cudaMalloc");
    comm_shard(&comm, n, &b, &e);
    for (size_t i = 0; i < n; i++) host[i] = i >= b && i < e ? (float)(3 * i) : -1.0f;
    copy(x, host, n * sizeof(float), cudaMemcpyHostToDevice);
    comm_all_gather(&comm, x, n);
    copy(host, x, n * sizeof(float), cudaMemcpyDeviceToHost);
    int bad = 0;
    for (size_t i = 0; i < n; i++) bad += host[i] != (float)(3 * i);
    CHECK(bad == 0, "all-gather: %d wrong", bad);

    int root = comm.world - 1, value = comm.rank == root ? 42 : 0;
    int *dv;
    cudaMalloc((void **)&dv, sizeof(int));
    copy(dv, &value, sizeof(int), cudaMemcpyHostToDevice);
    comm_broadcast(&comm, dv, sizeof(int), root);
    copy(&value, dv, sizeof(int), cudaMemcpyDeviceToHost);
    CHECK(value == 42, "broadcast: %d", value);
    CHECK_NEAR(comm_sum(&comm, comm.rank + 1), comm.world * (comm.world + 1) / 2.0, 0, "sum of rank + 1");
    comm_barrier(&comm);
    cudaFree(dv);
    cudaFree(x);
    free(host);
}

// the bucket collectives, enqueued on the backend's stream: a plan whose buckets are
// out of memory order and whose pieces cut across the shard edges. x[i] on rank r is
// r * 1000 + i; the mean over ranks is (world - 1) * 500 + i
static void test_nccl_bucket_collectives(void) {
    size_t n = 1000 * (size_t)comm.world, b, e;
    GradRange ranges[16];
    for (int i = 0; i < 16; i++)
        ranges[i] = (GradRange){n * i / 16, n * (i + 1) / 16, (i * 5) % 16};
    BucketPlan p;
    CHECK(bucket_plan_build(&p, ranges, 16, n, &comm, n / 5) == 0, "%s", scpt_error());
    comm_shard(&comm, n, &b, &e);
    cudaStream_t stream = (cudaStream_t)comm_stream(&comm);
    CHECK(stream != NULL, "a device backend has a stream");
    float *host = xmalloc(n * sizeof(float)), *x;
    CHECK(cudaMalloc((void **)&x, n * sizeof(float)) == cudaSuccess, "cudaMalloc");
    for (int to_owner = 1; to_owner >= 0; to_owner--) {
        for (size_t i = 0; i < n; i++) host[i] = (float)(comm.rank * 1000 + i);
        copy(x, host, n * sizeof(float), cudaMemcpyHostToDevice);
        for (int k = 0; k < p.num_buckets; k++) comm_bucket_reduce_mean(&comm, &p, k, x, to_owner);
        CHECK(cudaStreamSynchronize(stream) == cudaSuccess, "sync");
        copy(host, x, n * sizeof(float), cudaMemcpyDeviceToHost);
        int bad = 0;
        for (size_t i = 0; i < n; i++) {
            int mean = !to_owner || (i >= b && i < e);
            bad += host[i] != (float)(mean ? (comm.world - 1) * 500.0 + i : comm.rank * 1000 + i);
        }
        CHECK(bad == 0, "%s: %d wrong", to_owner ? "reduce into the owners" : "all-reduce of the pieces", bad);
    }
    // 2-byte elements (bf16 parameters) from their owners
    unsigned short *h16 = xmalloc(n * sizeof *h16);
    for (size_t i = 0; i < n; i++) h16[i] = i >= b && i < e ? (unsigned short)(i * 7 + 1) : 0;
    copy(x, h16, n * sizeof *h16, cudaMemcpyHostToDevice);
    for (int k = p.num_buckets - 1; k >= 0; k--) comm_bucket_broadcast(&comm, &p, k, x, sizeof *h16);
    CHECK(cudaStreamSynchronize(stream) == cudaSuccess, "sync");
    copy(h16, x, n * sizeof *h16, cudaMemcpyDeviceToHost);
    int bad = 0;
    for (size_t i = 0; i < n; i++) bad += h16[i] != (unsigned short)(i * 7 + 1);
    CHECK(bad == 0, "broadcast from the owners: %d wrong", bad);
    // a double summed on the device
    double sum = comm.rank + 1, *dsum;
    CHECK(cudaMalloc((void **)&dsum, sizeof sum) == cudaSuccess, "cudaMalloc");
    copy(dsum, &sum, sizeof sum, cudaMemcpyHostToDevice);
    comm_sum_in_place(&comm, dsum, 1);
    CHECK(cudaStreamSynchronize(stream) == cudaSuccess, "sync");
    copy(&sum, dsum, sizeof sum, cudaMemcpyDeviceToHost);
    CHECK_NEAR(sum, comm.world * (comm.world + 1) / 2.0, 0, "sum in place of rank + 1");
    cudaFree(dsum);
    cudaFree(x);
    free(h16);
    free(host);
    bucket_plan_free(&p);
}

int main(int argc, char **argv) {
    if (comm_init(&comm, "nccl", &argc, &argv) != 0) return test_no_gpu(scpt_error());
    RUN_TEST(test_nccl_collectives);
    RUN_TEST(test_nccl_bucket_collectives);
    comm_finalize(&comm);
    return test_summary();
}
