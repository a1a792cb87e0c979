// Fused causal attention, forward and backward, at GPT-2 124M (B=16, T=1024,
// NH=12, HS=64) and Llama 3.2 1B (B=4, T=2048, NH=32, NKV=8, HS=64) shapes.
// FLOPs counted as the matmuls a causal flash attention does: forward
// 2 x 2 B NH T^2 HS / 2 (QK^T and PV, half the square), backward 2.5x that
// (five matmuls to the forward's two; this backward recomputes QK^T once more).
#include "bench.h"

static void run(const char *label, int B, int T, int NH, int NKV, int HS) {
    size_t n = (size_t)B * T * (NH + 2 * NKV) * HS, no = (size_t)B * T * NH * HS;
    floatX *qkv = random_bf16(n, 1), *out = random_bf16(no, 1), *dout = random_bf16(no, 1), *dqkv = random_bf16(n, 1);
    float *lse = (float *)zeros((size_t)B * NH * T * sizeof(float));
    void *scratch = zeros(attention_backward_scratch_bytes(B, T, NH));
    double flops = 2.0 * B * NH * (double)T * T * HS;
    char what[96];
    snprintf(what, sizeof what, "forward, %s", label);
    report_flops(what, time_ms([&] { attention_forward_cuda(out, lse, qkv, B, T, NH, NKV, HS, 0); }, 5), flops);
    snprintf(what, sizeof what, "backward, %s", label);
    report_flops(what, time_ms([&] {
                     attention_backward_cuda(dqkv, dout, qkv, out, lse, B, T, NH, NKV, HS, scratch, 0);
                 }, 5),
                 2.5 * flops);
    CUDA_CHECK(cudaFree(qkv));
    CUDA_CHECK(cudaFree(out));
    CUDA_CHECK(cudaFree(dout));
    CUDA_CHECK(cudaFree(dqkv));
    CUDA_CHECK(cudaFree(lse));
    CUDA_CHECK(cudaFree(scratch));
}

int main(int argc, char **argv) {
    bench_init("bench_attention");
    static const char *const names[] = {"fp32 CUDA-core tiles, online softmax (kernels/attention.cu)"};
    for_versions(argc, argv, 1, names, [&](int v) {
        run("gpt2-124M B=16 T=1024", 16, 1024, 12, 12, 64);
        run("llama3.2-1B B=4 T=2048", 4, 2048, 32, 8, 64);
    });
    return 0;
}
