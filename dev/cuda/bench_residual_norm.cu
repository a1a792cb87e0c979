// The fused residual + norm forward against the two kernels it replaces (residual_forward_cuda,
// then the plain norm on its output), on GPT-2 124M's (B=64, T=1024, C=768, LayerNorm) and
// Llama 3.2 1B's (B=8, T=2048, C=2048, RMSNorm) residual streams. GB/s counts the bytes
// the fused kernel must move (read a and b, write residual and out); the unfused pair
// moves 1.5x that (it writes the residual, then reads it back).
#include "bench.h"

static void bench_shape(const char *name, int N, int C, int rms, int off) {
    size_t n = (size_t)N * C;
    floatX *a = random_bf16(n + 8, 1), *b = random_bf16(n + 8, 1), *res = random_bf16(n + 8, 1);
    floatX *out = random_bf16(n + 8, 1), *w = random_bf16(C + 8, 1), *bias = random_bf16(C + 8, 1);
    float *mean = (float *)zeros(N * sizeof(float)), *rstd = (float *)zeros(N * sizeof(float));
    a += off, b += off, res += off, out += off, w += off, bias += off;
    float fused = time_ms([&] {
        if (rms) residual_rmsnorm_forward_cuda(res, out, rstd, a, b, w, N, C, 1e-5f, 0);
        else residual_layernorm_forward_cuda(res, out, mean, rstd, a, b, w, bias, N, C, 1e-5f, 0);
    });
    float pair = time_ms([&] {
        residual_forward_cuda(res, a, b, n, 0);
        if (rms) rmsnorm_forward_cuda(out, rstd, res, w, N, C, 1e-5f, 0);
        else layernorm_forward_cuda(out, mean, rstd, res, w, bias, N, C, 1e-5f, 0);
    });
    char what[96];
    printf(" %s: N = %d, C = %d\n", name, N, C);
    snprintf(what, sizeof what, "residual_%s_forward (fused)", rms ? "rmsnorm" : "layernorm");
    report_bandwidth(what, fused, 4.0 * n * 2);
    report_bandwidth("residual_forward + norm_forward", pair, 4.0 * n * 2);
    printf("  fused is %.2fx as fast as the pair\n", pair / fused);
    void *bufs[] = {a - off, b - off, res - off, out - off, w - off, bias - off, mean, rstd};
    for (void *p : bufs) CUDA_CHECK(cudaFree(p));
}

int main(int argc, char **argv) {
    bench_init("bench_residual_norm");
    for_versions(argc, argv, 2, ALIGNMENT_VERSIONS, [&](int v) {
        bench_shape("GPT-2 124M, LayerNorm", 64 * 1024, 768, 0, v - 1);
        bench_shape("Llama 3.2 1B, RMSNorm", 8 * 2048, 2048, 1, v - 1);
    });
    return 0;
}
