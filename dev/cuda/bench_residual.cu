// Residual add forward and backward on GPT-2 124M's residual stream (B=16, T=1024, C=768).
#include "bench.h"

int main(int argc, char **argv) {
    bench_init("bench_residual");
    size_t n = (size_t)16 * 1024 * 768;
    floatX *a = random_bf16(n + 8, 1), *b = random_bf16(n + 8, 1), *out = random_bf16(n + 8, 1);
    for_versions(argc, argv, 2, ALIGNMENT_VERSIONS, [&](int v) {
        int off = v - 1;
        report_bandwidth("residual_forward", time_ms([&] { residual_forward_cuda(out + off, a + off, b + off, n, 0); }),
                         3.0 * n * 2);
        // reads dout, da, db; writes da, db
        report_bandwidth("residual_backward",
                         time_ms([&] { residual_backward_cuda(a + off, b + off, out + off, n, 0); }), 5.0 * n * 2);
    });
    return 0;
}
