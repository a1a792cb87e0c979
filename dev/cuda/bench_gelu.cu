// GELU forward and backward on GPT-2 124M's MLP activations (B=16, T=1024, 4C=3072).
#include "bench.h"

int main(int argc, char **argv) {
    bench_init("bench_gelu");
    size_t n = (size_t)16 * 1024 * 3072;
    floatX *inp = random_bf16(n + 8, 3), *out = random_bf16(n + 8, 1), *dout = random_bf16(n + 8, 1);
    floatX *dinp = random_bf16(n + 8, 1);
    for_versions(argc, argv, 2, ALIGNMENT_VERSIONS, [&](int v) {
        int off = v - 1;
        report_bandwidth("gelu_forward", time_ms([&] { gelu_forward_cuda(out + off, inp + off, n, 0); }), 2.0 * n * 2);
        // reads inp, dout, dinp; writes dinp
        report_bandwidth("gelu_backward",
                         time_ms([&] { gelu_backward_cuda(dinp + off, inp + off, dout + off, n, 0); }), 4.0 * n * 2);
    });
    return 0;
}
