// Fused softmax + cross-entropy + dlogits on GPT-2's padded vocabulary (N=16384,
// V=50257, Vp=50304) and Llama 3's (N=8192, V=Vp=128256).
#include "bench.h"

static void run(const char *label, int N, int V, int Vp, int off) {
    size_t n = (size_t)N * Vp;
    floatX *logits = random_bf16(n + 8, 4);
    float *losses = (float *)zeros(N * sizeof(float));
    int *targets_h = (int *)malloc(N * sizeof(int)), *targets;
    for (int i = 0; i < N; i++) targets_h[i] = (int)((i * 2654435761u) % V);
    CUDA_CHECK(cudaMalloc(&targets, N * sizeof(int)));
    CUDA_CHECK(cudaMemcpy(targets, targets_h, N * sizeof(int), cudaMemcpyHostToDevice));
    char what[96];
    // the logits are read (twice: the second read mostly from L2) and written once; counted once each
    snprintf(what, sizeof what, "fused, %s", label);
    report_bandwidth(what, time_ms([&] {
                         classifier_fused_cuda(losses, logits + off, targets, 1.0f / N, N, V, Vp, 1, 0);
                     }, 5),
                     2.0 * n * 2);
    snprintf(what, sizeof what, "losses only, %s", label);
    report_bandwidth(what, time_ms([&] {
                         classifier_fused_cuda(losses, logits + off, targets, 1.0f / N, N, V, Vp, 0, 0);
                     }, 5),
                     1.0 * n * 2);
    CUDA_CHECK(cudaFree(logits));
    CUDA_CHECK(cudaFree(losses));
    CUDA_CHECK(cudaFree(targets));
    free(targets_h);
}

int main(int argc, char **argv) {
    bench_init("bench_classifier");
    for_versions(argc, argv, 2, ALIGNMENT_VERSIONS, [&](int v) {
        run("gpt2", 16384, 50257, 50304, v - 1);
        run("llama3", 8192, 128256, 128256, v - 1);
    });
    return 0;
}
