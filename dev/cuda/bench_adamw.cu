// AdamW over GPT-2 124M's and Llama 3.2 1B's parameter counts.
#include "bench.h"

static void run(const char *label, size_t n, uint64_t sr_seed) {
    floatX *params = random_bf16(n, 1);
    float *master = (float *)zeros(n * sizeof(float)), *grads = (float *)zeros(n * sizeof(float));
    float *m = (float *)zeros(n * sizeof(float)), *v = (float *)zeros(n * sizeof(float));
    char what[96];
    snprintf(what, sizeof what, "adamw_update, %s", label);
    // reads grads, master, m, v; writes master, m, v (fp32) and params (bf16)
    report_bandwidth(what, time_ms([&] {
                         adamw_update_cuda(params, master, grads, m, v, n, 1e-4f, 0.9f, 0.95f, 1e-8f, 0.1f, 1, NULL,
                                           sr_seed, 0, 0);
                     }, 5),
                     n * (7.0 * 4 + 2));
    CUDA_CHECK(cudaFree(params));
    CUDA_CHECK(cudaFree(master));
    CUDA_CHECK(cudaFree(grads));
    CUDA_CHECK(cudaFree(m));
    CUDA_CHECK(cudaFree(v));
}

int main(int argc, char **argv) {
    bench_init("bench_adamw");
    static const char *const names[] = {"round to nearest", "stochastic rounding"};
    for_versions(argc, argv, 2, names, [&](int v) {
        run("124M params", 124475904, v == 2 ? 1234 : 0);
        run("1.24B params", 1235814400, v == 2 ? 1234 : 0);
    });
    return 0;
}
