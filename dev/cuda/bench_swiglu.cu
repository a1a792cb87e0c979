// SwiGLU forward and backward on Llama 3.2 1B's MLP (B=4, T=2048, H=8192).
#include "bench.h"

int main(int argc, char **argv) {
    bench_init("bench_swiglu");
    int N = 4 * 2048, H = 8192;
    size_t n = (size_t)N * H;
    floatX *inp = random_bf16(2 * n + 8, 3), *out = random_bf16(n + 8, 1), *dout = random_bf16(n + 8, 1);
    floatX *dinp = random_bf16(2 * n + 8, 1);
    for_versions(argc, argv, 2, ALIGNMENT_VERSIONS, [&](int v) {
        int off = v - 1;
        report_bandwidth("swiglu_forward", time_ms([&] { swiglu_forward_cuda(out + off, inp + off, N, H, 0); }),
                         3.0 * n * 2);
        // reads inp (2n), dout, dinp (2n); writes dinp (2n)
        report_bandwidth("swiglu_backward",
                         time_ms([&] { swiglu_backward_cuda(dinp + off, inp + off, dout + off, N, H, 0); }),
                         7.0 * n * 2);
    });
    return 0;
}
