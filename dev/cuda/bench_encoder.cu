// Token + position embedding forward and backward on GPT-2 124M (B=16, T=1024,
// C=768, V=50257). Versions are the backward's two paths for dwte. Tokens follow
// Zipf's law (frequency of the r-th most common ~ 1/r), as words in text do: a few
// tokens repeat thousands of times in a batch, which is what the backward's
// sorting or atomics must handle.
#include <algorithm>
#include "bench.h"
#include "rng.h"

// n tokens of a Zipf(1) law over V ids, ranks scattered over the ids
static int *zipf_tokens(int n, int V) {
    double *cdf = (double *)malloc(V * sizeof(double)), sum = 0;
    for (int r = 0; r < V; r++) cdf[r] = sum += 1.0 / (r + 1);
    int *tokens = (int *)malloc(n * sizeof(int));
    uint64_t state = 1;
    for (int i = 0; i < n; i++) {
        int r = (int)(std::lower_bound(cdf, cdf + V, rng_uniform(&state) * sum) - cdf);
        tokens[i] = (int)((r * 2654435761ull) % V);   // a permutation when V is coprime to the multiplier (50257 is)
    }
    free(cdf);
    return tokens;
}

int main(int argc, char **argv) {
    bench_init("bench_encoder");
    int B = 16, T = 1024, C = 768, V = 50257, N = B * T;
    size_t n = (size_t)N * C;
    int *tokens_h = zipf_tokens(N, V), *tokens;
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
