// Deterministic sum of squares over Llama 3.2 1B's gradient (fp32).
#include "bench.h"

int main(int argc, char **argv) {
    bench_init("bench_global_norm");
    size_t n = 1235814400;
    float *grads = (float *)zeros(n * sizeof(float));
    double *out = (double *)zeros(sizeof(double));
    void *scratch = zeros(global_norm_scratch_bytes());
    static const char *const names[] = {"fixed grid, fp64 partials"};
    for_versions(argc, argv, 1, names, [&](int v) {
        report_bandwidth("global_norm_squared",
                         time_ms([&] { global_norm_squared_cuda(out, grads, n, scratch, 0); }, 5), n * 4.0);
    });
    return 0;
}
