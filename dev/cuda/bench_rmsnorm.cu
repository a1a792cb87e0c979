// RMSNorm forward and backward on Llama 3.2 1B (B=4, T=2048, C=2048).
#include "bench.h"

int main(int argc, char **argv) {
    bench_init("bench_rmsnorm");
    int N = 4 * 2048, C = 2048;
    size_t n = (size_t)N * C;
    floatX *inp = random_bf16(n + 8, 2), *out = random_bf16(n + 8, 1), *dout = random_bf16(n + 8, 1);
    floatX *dinp = random_bf16(n + 8, 1), *w = random_bf16(C + 8, 1);
    float *rstd = (float *)zeros(N * sizeof(float)), *dw = (float *)zeros(C * sizeof(float));
    void *scratch = zeros(rmsnorm_backward_scratch_bytes(N, C));
    rmsnorm_forward_cuda(out, rstd, inp, w, N, C, 1e-5f, 0);
    for_versions(argc, argv, 2, ALIGNMENT_VERSIONS, [&](int v) {
        int off = v - 1;
        report_bandwidth("rmsnorm_forward",
                         time_ms([&] { rmsnorm_forward_cuda(out + off, rstd, inp + off, w + off, N, C, 1e-5f, 0); }),
                         2.0 * n * 2);
        report_bandwidth("rmsnorm_backward", time_ms([&] {
                             rmsnorm_backward_cuda(dinp + off, dw, dout + off, inp + off, w + off, rstd, N, C, scratch,
                                                   0);
                         }),
                         4.0 * n * 2);
    });
    return 0;
}
