// Causal attention, forward and backward, at T = 1024, 2048, 4096 and 8192 with
// 16K tokens per call: HS 64 with GPT-2's 12 heads, HS 128 with Llama 3 8B's 32/8.
// FLOPs counted as FlashAttention's papers do, so figures compare with theirs:
// forward 2 x 2 B NH T^2 HS / 2 (QK^T and PV over the causal half), backward 2.5x
// that (five matmuls; the deterministic backwards here do seven, so their real
// throughput is 7/5 of the reported one; the cuBLAS one multiplies the whole
// square, 2x the causal work). Versions 2 and 3 also check their forward output
// against version 1's ("ok" or "MISMATCH"); test/test_attention_gpu.cu is the test.
#include "bench.h"

static void *scratch;   // sized for the version being run

// version 1: fp32 kernels, 2: tensor-core flash kernels, 3: cuBLAS GEMMs + softmax
static void forward(int version, floatX *out, float *lse, const floatX *qkv, int B, int T, int NH, int NKV, int HS) {
    if (version == 1) attention_forward_cuda(out, lse, qkv, B, T, NH, NKV, HS, 0);
    else if (version == 2) flash_attention_forward_cuda(out, lse, qkv, B, T, NH, NKV, HS, 0);
    else attention_gemm_forward_cuda(out, lse, qkv, B, T, NH, NKV, HS, scratch, 0);
}

static void backward(int version, floatX *dqkv, const floatX *dout, const floatX *qkv, const floatX *out,
                     const float *lse, int B, int T, int NH, int NKV, int HS) {
    if (version == 1) attention_backward_cuda(dqkv, dout, qkv, out, lse, B, T, NH, NKV, HS, scratch, 0);
    else if (version == 2) flash_attention_backward_cuda(dqkv, dout, qkv, out, lse, B, T, NH, NKV, HS, scratch, 0);
    else attention_gemm_backward_cuda(dqkv, dout, qkv, out, lse, B, T, NH, NKV, HS, scratch, 0);
}

// max |a - b| over n bf16 values of two device buffers, and max |a|
static void max_diff(const floatX *a, const floatX *b, size_t n, double *diff, double *ref) {
    floatX *ha = (floatX *)malloc(n * sizeof(floatX)), *hb = (floatX *)malloc(n * sizeof(floatX));
    CUDA_CHECK(cudaMemcpy(ha, a, n * sizeof(floatX), cudaMemcpyDeviceToHost));
    CUDA_CHECK(cudaMemcpy(hb, b, n * sizeof(floatX), cudaMemcpyDeviceToHost));
    *diff = *ref = 0;
    for (size_t i = 0; i < n; i++) {
        double x = __bfloat162float(ha[i]), y = __bfloat162float(hb[i]);
        *diff = fmax(*diff, fabs(x - y)), *ref = fmax(*ref, fabs(x));
    }
    free(ha), free(hb);
}

static void run(int version, int T, int NH, int NKV, int HS) {
    int B = 16384 / T;
    size_t n = (size_t)B * T * (NH + 2 * NKV) * HS, no = (size_t)B * T * NH * HS, nl = (size_t)B * NH * T;
    floatX *qkv = random_bf16(n, 1), *out = random_bf16(no, 1), *dout = random_bf16(no, 1), *dqkv = random_bf16(n, 1);
    float *lse = (float *)zeros(nl * sizeof(float));
    scratch = zeros(version == 3 ? attention_gemm_scratch_bytes(B, T, NH, NKV, HS)
                                 : attention_backward_scratch_bytes(B, T, NH));
    double flops = 2.0 * B * NH * (double)T * T * HS;
    char what[96];
    snprintf(what, sizeof what, "forward,  B=%d T=%d NH=%d/%d HS=%d", B, T, NH, NKV, HS);
    report_flops(what, time_ms([&] { forward(version, out, lse, qkv, B, T, NH, NKV, HS); }, 5), flops);
    snprintf(what, sizeof what, "backward, B=%d T=%d NH=%d/%d HS=%d", B, T, NH, NKV, HS);
    report_flops(what, time_ms([&] { backward(version, dqkv, dout, qkv, out, lse, B, T, NH, NKV, HS); }, 5),
                 2.5 * flops);
    if (version > 1) {
        // P is rounded to bf16 before P V: outputs differ by about 2^-8 relative
        floatX *ref = random_bf16(no, 1);
        attention_forward_cuda(ref, lse, qkv, B, T, NH, NKV, HS, 0);
        forward(version, out, lse, qkv, B, T, NH, NKV, HS);
        double diff, mag;
        max_diff(ref, out, no, &diff, &mag);
        printf("  output vs version 1: max |diff| %.3g of max |out| %.3g: %s\n", diff, mag,
               diff <= mag / 64 ? "ok" : "MISMATCH");
        CUDA_CHECK(cudaFree(ref));
    }
    CUDA_CHECK(cudaFree(qkv));
    CUDA_CHECK(cudaFree(out));
    CUDA_CHECK(cudaFree(dout));
    CUDA_CHECK(cudaFree(dqkv));
    CUDA_CHECK(cudaFree(lse));
    CUDA_CHECK(cudaFree(scratch));
}

int main(int argc, char **argv) {
    bench_init("bench_attention");
    static const char *const names[] = {"fp32 CUDA-core tiles, online softmax (kernels/attention.cu)",
                                        "bf16 mma.sync, FlashAttention-2 tiles (kernels/flash_attention.cu)",
                                        "cuBLAS batched bf16 GEMMs + causal softmax (kernels/attention_gemm.cu)"};
    for_versions(argc, argv, 3, names, [&](int v) {
        for (int T = 1024; T <= 8192; T *= 2) {
            run(v, T, 12, 12, 64);
            run(v, T, 32, 8, 128);
        }
    });
    return 0;
}
