// The NCCL backend at world size 1 (on a machine with a GPU; skipped without one):
// the same collectives as test_comm, on device buffers. Under mpirun -np N on a
// multi-GPU node it checks N ranks the same way.
#include <cuda_runtime_api.h>
#include "comm.h"
#include "test.h"

static Comm comm;
static int have_gpu;

// x[i] on rank r is r * 1000 + i; the mean over ranks is (world - 1) * 500 + i
static void test_nccl_collectives(void) {
    if (!have_gpu) SKIP_TEST("no GPU: %s", scpt_error());
    // a multiple of the world size, as the NCCL backend's reduce-scatter needs
    size_t n = 1000 * (size_t)comm.world, b, e;
    comm.bucket_elems = 300;
    float *host = xmalloc(n * sizeof(float)), *x, *shard;
    CHECK(cudaMalloc((void **)&x, n * sizeof(float)) == cudaSuccess, "cudaMalloc");
    CHECK(cudaMalloc((void **)&shard, n * sizeof(float)) == cudaSuccess, "cudaMalloc");
    for (size_t i = 0; i < n; i++) host[i] = (float)(comm.rank * 1000 + i);
    cudaMemcpy(x, host, n * sizeof(float), cudaMemcpyHostToDevice);
    comm_all_reduce_mean(&comm, x, n);
    cudaMemcpy(host, x, n * sizeof(float), cudaMemcpyDeviceToHost);
    int bad = 0;
    for (size_t i = 0; i < n; i++) bad += host[i] != (float)((comm.world - 1) * 500.0 + i);
    CHECK(bad == 0, "all-reduce mean: %d wrong", bad);

    for (size_t i = 0; i < n; i++) host[i] = (float)(comm.rank * 1000 + i);
    cudaMemcpy(x, host, n * sizeof(float), cudaMemcpyHostToDevice);
    comm_shard(&comm, n, &b, &e);
    comm_reduce_scatter_mean(&comm, x, shard, n);
    cudaMemcpy(host, shard, (e - b) * sizeof(float), cudaMemcpyDeviceToHost);
    bad = 0;
    for (size_t i = b; i < e; i++) bad += host[i - b] != (float)((comm.world - 1) * 500.0 + i);
    CHECK(bad == 0, "reduce-scatter: %d wrong", bad);

    // in place (shard == x + begin), as the GPU model's ZeRO-1 step does it
    for (size_t i = 0; i < n; i++) host[i] = (float)(comm.rank * 1000 + i);
    cudaMemcpy(x, host, n * sizeof(float), cudaMemcpyHostToDevice);
    comm_reduce_scatter_mean(&comm, x, x + b, n);
    cudaMemcpy(host, x + b, (e - b) * sizeof(float), cudaMemcpyDeviceToHost);
    bad = 0;
    for (size_t i = b; i < e; i++) bad += host[i - b] != (float)((comm.world - 1) * 500.0 + i);
    CHECK(bad == 0, "reduce-scatter in place: %d wrong", bad);

    for (size_t i = 0; i < n; i++) host[i] = i >= b && i < e ? (float)(3 * i) : -1.0f;
    cudaMemcpy(x, host, n * sizeof(float), cudaMemcpyHostToDevice);
    comm_all_gather(&comm, x, n);
    cudaMemcpy(host, x, n * sizeof(float), cudaMemcpyDeviceToHost);
    bad = 0;
    for (size_t i = 0; i < n; i++) bad += host[i] != (float)(3 * i);
    CHECK(bad == 0, "all-gather: %d wrong", bad);

    // 2-byte elements (the bf16 parameters), as bytes
    unsigned short *h16 = xmalloc(n * sizeof *h16);
    for (size_t i = 0; i < n; i++) h16[i] = i >= b && i < e ? (unsigned short)(i * 7 + 1) : 0;
    cudaMemcpy(x, h16, n * sizeof *h16, cudaMemcpyHostToDevice);
    comm_all_gather_elems(&comm, x, n, sizeof *h16);
    cudaMemcpy(h16, x, n * sizeof *h16, cudaMemcpyDeviceToHost);
    bad = 0;
    for (size_t i = 0; i < n; i++) bad += h16[i] != (unsigned short)(i * 7 + 1);
    CHECK(bad == 0, "all-gather of 2-byte elements: %d wrong", bad);
    free(h16);

    int root = comm.world - 1, value = comm.rank == root ? 42 : 0;
    int *dv;
    cudaMalloc((void **)&dv, sizeof(int));
    cudaMemcpy(dv, &value, sizeof(int), cudaMemcpyHostToDevice);
    comm_broadcast(&comm, dv, sizeof(int), root);
    cudaMemcpy(&value, dv, sizeof(int), cudaMemcpyDeviceToHost);
    CHECK(value == 42, "broadcast: %d", value);
    CHECK_NEAR(comm_sum(&comm, comm.rank + 1), comm.world * (comm.world + 1) / 2.0, 0, "sum of rank + 1");
    comm_barrier(&comm);
    cudaFree(dv);
    cudaFree(x);
    cudaFree(shard);
    free(host);
}

int main(int argc, char **argv) {
    have_gpu = comm_init(&comm, "nccl", &argc, &argv) == 0;
    RUN_TEST(test_nccl_collectives);
    if (have_gpu) comm_finalize(&comm);
    return test_summary();
}
