// Fused causal attention, forward and backward, at GPT-2 124M (B=16, T=1024,
// NH=12, HS=64) and Llama 3.2 1B (B=4, T=2048, NH=32, NKV=8, HS=64) shapes.
// FLOPs counted as the matmuls a causal flash attention does: forward
// 2 x 2 B NH T^2 HS / 2 (QK^T and PV, half the square), backward 2.5x that
// (five matmuls to the forward's two; this backward recomputes QK^T once more).
// Version 2 times the tensor-core forward of attention_wmma.cuh (dev only) and
// checks its output against version 1's.
#include "bench.h"
#include "attention_wmma.cuh"

// version 1: the library's kernels; version 2: the WMMA forward, checked against them
static void run(int version, const char *label, int B, int T, int NH, int NKV, int HS) {
    size_t n = (size_t)B * T * (NH + 2 * NKV) * HS, no = (size_t)B * T * NH * HS, nl = (size_t)B * NH * T;
    floatX *qkv = random_bf16(n, 1), *out = random_bf16(no, 1), *dout = random_bf16(no, 1), *dqkv = random_bf16(n, 1);
    float *lse = (float *)zeros(nl * sizeof(float));
    double flops = 2.0 * B * NH * (double)T * T * HS;
    char what[96];
    snprintf(what, sizeof what, "forward, %s", label);
    if (version == 1) {
        void *scratch = zeros(attention_backward_scratch_bytes(B, T, NH));
        report_flops(what, time_ms([&] { attention_forward_cuda(out, lse, qkv, B, T, NH, NKV, HS, 0); }, 5), flops);
        snprintf(what, sizeof what, "backward, %s", label);
        report_flops(what, time_ms([&] {
                         attention_backward_cuda(dqkv, dout, qkv, out, lse, B, T, NH, NKV, HS, scratch, 0);
                     }, 5),
                     2.5 * flops);
        CUDA_CHECK(cudaFree(scratch));
    } else {
        floatX *out2 = random_bf16(no, 1);
        float *lse2 = (float *)zeros(nl * sizeof(float));
        report_flops(what, time_ms([&] { wmma_attention::forward<64>(out2, lse2, qkv, B, T, NH, NKV, 0); }, 5), flops);
        attention_forward_cuda(out, lse, qkv, B, T, NH, NKV, HS, 0);
        // P is rounded to bf16 before P V, so outputs differ by about 2^-8 relative
        float *a = (float *)malloc(no * sizeof(float)), *b = (float *)malloc(no * sizeof(float));
        floatX *ha = (floatX *)malloc(no * sizeof(floatX)), *hb = (floatX *)malloc(no * sizeof(floatX));
        CUDA_CHECK(cudaMemcpy(ha, out, no * sizeof(floatX), cudaMemcpyDeviceToHost));
        CUDA_CHECK(cudaMemcpy(hb, out2, no * sizeof(floatX), cudaMemcpyDeviceToHost));
        double max_diff = 0, max_ref = 0;
        for (size_t i = 0; i < no; i++) {
            a[i] = __bfloat162float(ha[i]), b[i] = __bfloat162float(hb[i]);
            max_diff = fmax(max_diff, fabs(a[i] - b[i]));
            max_ref = fmax(max_ref, fabs(a[i]));
        }
        printf("  output vs version 1: max |diff| %.3g of max |out| %.3g: %s\n", max_diff, max_ref,
               max_diff <= max_ref / 64 ? "ok" : "MISMATCH");
        free(a), free(b), free(ha), free(hb);
        CUDA_CHECK(cudaFree(out2));
        CUDA_CHECK(cudaFree(lse2));
    }
    CUDA_CHECK(cudaFree(qkv));
    CUDA_CHECK(cudaFree(out));
    CUDA_CHECK(cudaFree(dout));
    CUDA_CHECK(cudaFree(dqkv));
    CUDA_CHECK(cudaFree(lse));
}

int main(int argc, char **argv) {
    bench_init("bench_attention");
    static const char *const names[] = {"fp32 CUDA-core tiles, online softmax (kernels/attention.cu)",
                                        "bf16 WMMA tensor-core forward (dev/cuda/attention_wmma.cuh)"};
    for_versions(argc, argv, 2, names, [&](int v) {
        run(v, "gpt2-124M B=16 T=1024", 16, 1024, 12, 12, 64);
        run(v, "llama3.2-1B B=4 T=2048", 4, 2048, 32, 8, 64);
    });
    return 0;
}
