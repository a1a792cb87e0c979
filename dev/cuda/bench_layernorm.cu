// LayerNorm forward and backward on GPT-2 124M (B=16, T=1024, C=768).
#include "bench.h"

int main(int argc, char **argv) {
    bench_init("bench_layernorm");
    int N = 16 * 1024, C = 768;
    size_t n = (size_t)N * C;
    floatX *inp = random_bf16(n + 8, 2), *out = random_bf16(n + 8, 1), *dout = random_bf16(n + 8, 1);
    floatX *dinp = random_bf16(n + 8, 1), *w = random_bf16(C + 8, 1), *b = random_bf16(C + 8, 1);
    float *mean = (float *)zeros(N * sizeof(float)), *rstd = (float *)zeros(N * sizeof(float));
    float *dw = (float *)zeros(C * sizeof(float)), *db = (float *)zeros(C * sizeof(float));
    void *scratch = zeros(layernorm_backward_scratch_bytes(N, C));
    layernorm_forward_cuda(out, mean, rstd, inp, w, b, N, C, 1e-5f, 0);   // sane statistics for backward
    for_versions(argc, argv, 2, ALIGNMENT_VERSIONS, [&](int v) {
        int off = v - 1;
        report_bandwidth("layernorm_forward", time_ms([&] {
                             layernorm_forward_cuda(out + off, mean, rstd, inp + off, w + off, b + off, N, C, 1e-5f, 0);
                         }),
                         2.0 * n * 2);
        // at least: reads inp, dout, dinp; writes dinp
        report_bandwidth("layernorm_backward", time_ms([&] {
                             layernorm_backward_cuda(dinp + off, dw, db, dout + off, inp + off, w + off, mean, rstd, N,
                                                     C, scratch, 0);
                         }),
                         4.0 * n * 2);
    });
    return 0;
}
