// The NCCL backend at world size 1 (on a machine with a GPU; skipped without one, a
// failure under SCPT_REQUIRE_GPU=1): the same collectives as test_comm, on device
// buffers. Under mpirun -np N on a multi-GPU node it checks N ranks the same way.
#include <cuda_runtime_api.h>
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

// x[i] on rank r is r * 1000 + i; the mean over ranks is (world - 1) * 500 + i
static void test_nccl_collectives(void) {
    // a multiple of the world size, as the NCCL backend's reduce-scatter needs
    size_t n = 1000 * (size_t)comm.world, b, e;
    comm.bucket_elems = 300;
    float *host = xmalloc(n * sizeof(float)), *x, *shard;
    CHECK(cudaMalloc((void **)&x, n * sizeof(float)) == cudaSuccess, "cudaMalloc");
    CHECK(cudaMalloc((void **)&shard, n * sizeof(float)) == cudaSuccess, "cudaMalloc");
    for (size_t i = 0; i < n; i++) host[i] = (float)(comm.rank * 1000 + i);
    copy(x, host, n * sizeof(float), cudaMemcpyHostToDevice);
    comm_all_reduce_mean(&comm, x, n);
    copy(host, x, n * sizeof(float), cudaMemcpyDeviceToHost);
    int bad = 0;
    for (size_t i = 0; i < n; i++) bad += host[i] != (float)((comm.world - 1) * 500.0 + i);
    CHECK(bad == 0, "all-reduce mean: %d wrong", bad);

    for (size_t i = 0; i < n; i++) host[i] = (float)(comm.rank * 1000 + i);
    copy(x, host, n * sizeof(float), cudaMemcpyHostToDevice);
    comm_shard(&comm, n, &b, &e);
    comm_reduce_scatter_mean(&comm, x, shard, n);
    copy(host, shard, (e - b) * sizeof(float), cudaMemcpyDeviceToHost);
    bad = 0;
    for (size_t i = b; i < e; i++) bad += host[i - b] != (float)((comm.world - 1) * 500.0 + i);
    CHECK(bad == 0, "reduce-scatter: %d wrong", bad);

    // in place (shard == x + begin), as the GPU model's ZeRO-1 step does it
    for (size_t i = 0; i < n; i++) host[i] = (float)(comm.rank * 1000 + i);
    copy(x, host, n * sizeof(float), cudaMemcpyHostToDevice);
    comm_reduce_scatter_mean(&comm, x, x + b, n);
    copy(host, x + b, (e - b) * sizeof(float), cudaMemcpyDeviceToHost);
    bad = 0;
    for (size_t i = b; i < e; i++) bad += host[i - b] != (float)((comm.world - 1) * 500.0 + i);
    CHECK(bad == 0, "reduce-scatter in place: %d wrong", bad);

    for (size_t i = 0; i < n; i++) host[i] = i >= b && i < e ? (float)(3 * i) : -1.0f;
    copy(x, host, n * sizeof(float), cudaMemcpyHostToDevice);
    comm_all_gather(&comm, x, n);
    copy(host, x, n * sizeof(float), cudaMemcpyDeviceToHost);
    bad = 0;
    for (size_t i = 0; i < n; i++) bad += host[i] != (float)(3 * i);
    CHECK(bad == 0, "all-gather: %d wrong", bad);

    // 2-byte elements (the bf16 parameters), as bytes
    unsigned short *h16 = xmalloc(n * sizeof *h16);
    for (size_t i = 0; i < n; i++) h16[i] = i >= b && i < e ? (unsigned short)(i * 7 + 1) : 0;
    copy(x, h16, n * sizeof *h16, cudaMemcpyHostToDevice);
    comm_all_gather_elems(&comm, x, n, sizeof *h16);
    copy(h16, x, n * sizeof *h16, cudaMemcpyDeviceToHost);
    bad = 0;
    for (size_t i = 0; i < n; i++) bad += h16[i] != (unsigned short)(i * 7 + 1);
    CHECK(bad == 0, "all-gather of 2-byte elements: %d wrong", bad);
    free(h16);

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
    cudaFree(shard);
    free(host);
}

int main(int argc, char **argv) {
    if (comm_init(&comm, "nccl", &argc, &argv) != 0) return test_no_gpu(scpt_error());
    RUN_TEST(test_nccl_collectives);
    comm_finalize(&comm);
    return test_summary();
}
