// Token + position embedding forward and backward on GPT-2 124M (B=16, T=1024,
// C=768, V=50257). Versions are the backward's two paths for dwte.
#include "bench.h"

int main(int argc, char **argv) {
    bench_init("bench_encoder");
    int B = 16, T = 1024, C = 768, V = 50257, N = B * T;
    size_t n = (size_t)N * C;
    int *tokens_h = (int *)malloc(N * sizeof(int)), *tokens;
    for (int i = 0; i < N; i++) tokens_h[i] = (int)((i * 2654435761u) % 1000 * 50);   // repeats, like text
    CUDA_CHECK(cudaMalloc(&tokens, N * sizeof(int)));
    CUDA_CHECK(cudaMemcpy(tokens, tokens_h, N * sizeof(int), cudaMemcpyHostToDevice));
    floatX *wte = random_bf16((size_t)V * C, 1), *wpe = random_bf16((size_t)T * C, 1), *out = random_bf16(n, 1);
    float *dwte = (float *)zeros((size_t)V * C * sizeof(float)), *dwpe = (float *)zeros((size_t)T * C * sizeof(float));
    void *scratch = zeros(encoder_backward_scratch_bytes(B, T));
    // forward reads a row of wte and wpe per position and writes out
    report_bandwidth("encoder_forward", time_ms([&] { encoder_forward_cuda(out, tokens, wte, wpe, B, T, C, 0); }),
                     3.0 * n * 2);
    static const char *const names[] = {"deterministic backward (sorted by token)", "atomic backward"};
    for_versions(argc, argv, 2, names, [&](int v) {
        // at least: reads dout, read-modify-writes dwpe and the touched rows of dwte
        report_bandwidth("encoder_backward", time_ms([&] {
                             encoder_backward_cuda(dwte, dwpe, out, tokens, B, T, C, v == 1, scratch, 0);
                         }),
                         n * 2.0 + 2.0 * 2 * T * C * 4);
    });
    return 0;
}
