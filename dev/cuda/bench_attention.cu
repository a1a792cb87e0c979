// Causal attention, forward and backward, at T = 1024, 2048, 4096 and 8192 with
// 16K tokens per call: HS 64 with GPT-2's 12 heads, HS 128 with Llama 3 8B's 32/8.
// FLOPs are counted as FlashAttention's papers count them, over the causal half of
// the scores: forward 2 matmuls x 2 B NH T^2 HS / 2 = 2 B NH T^2 HS, backward 5
// matmuls, 2.5x that; so the figures compare with theirs and with PyTorch's. (The
// cuBLAS kernels multiply the whole square, 2x the causal work; the fp32 backward
// recomputes S and dP, 7 matmuls: both are reported at the causal count.)
// Versions 2..4 check their forward output against version 1's ("ok" or
// "MISMATCH"); test/test_attention_gpu.cu is the test.
//
// When `python3` (or $SCPT_PYTHON) imports torch, dev/cuda/bench_attention_sdpa.py
// times torch's scaled_dot_product_attention on the same shapes first, and every
// line gets "x SDPA" (its time over ours: above 1 is faster than PyTorch);
// otherwise a message says why the column is missing.
#include "bench.h"

static void *scratch;   // sized for the version being run

enum { FP32 = 1, FLASH = 2, FLASH_ATOMIC = 3, GEMM = 4, VERSIONS = 4 };

static void forward(int version, floatX *out, float *lse, const floatX *qkv, int B, int T, int NH, int NKV, int HS) {
    if (version == FP32) attention_forward_cuda(out, lse, qkv, B, T, NH, NKV, HS, 0);
    else if (version == GEMM) attention_gemm_forward_cuda(out, lse, qkv, B, T, NH, NKV, HS, scratch, 0);
    else flash_attention_forward_cuda(out, lse, qkv, B, T, NH, NKV, HS, 0);
}

static void backward(int version, floatX *dqkv, const floatX *dout, const floatX *qkv, const floatX *out,
                     const float *lse, int B, int T, int NH, int NKV, int HS) {
    if (version == FP32) attention_backward_cuda(dqkv, dout, qkv, out, lse, B, T, NH, NKV, HS, scratch, 0);
    else if (version == GEMM) attention_gemm_backward_cuda(dqkv, dout, qkv, out, lse, B, T, NH, NKV, HS, scratch, 0);
    else flash_attention_backward_cuda(dqkv, dout, qkv, out, lse, B, T, NH, NKV, HS, version == FLASH, scratch, 0);
}

static size_t scratch_bytes(int version, int B, int T, int NH, int NKV, int HS) {
    if (version == FP32) return attention_backward_scratch_bytes(B, T, NH);
    if (version == GEMM) return attention_gemm_scratch_bytes(B, T, NH, NKV, HS);
    return flash_attention_backward_scratch_bytes(B, T, NH, HS);
}

// PyTorch SDPA's times per shape, from the helper script (count 0: none)
typedef struct {
    int T, NH, NKV, HS;
    double fwd_ms, bwd_ms;
} SdpaTime;
static SdpaTime sdpa[16];
static int sdpa_count;

static void load_sdpa_times(void) {
    const char *python = getenv("SCPT_PYTHON") ? getenv("SCPT_PYTHON") : "python3";
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s -c 'import torch' 2>/dev/null && %s dev/cuda/bench_attention_sdpa.py", python,
             python);
    FILE *f = popen(cmd, "r");
    if (f) {
        SdpaTime t;
        while (sdpa_count < 16 &&
               fscanf(f, "%d %d %d %d %lf %lf", &t.T, &t.NH, &t.NKV, &t.HS, &t.fwd_ms, &t.bwd_ms) == 6)
            sdpa[sdpa_count++] = t;
        pclose(f);
    }
    if (sdpa_count) printf("PyTorch SDPA timed on %d shapes (%s); \"x SDPA\" = its time / ours\n", sdpa_count, python);
    else
        printf("no \"x SDPA\" column: %s with torch and a CUDA device did not run dev/cuda/bench_attention_sdpa.py "
               "(run from the repository root; SCPT_PYTHON picks the interpreter)\n",
               python);
}

static const SdpaTime *sdpa_time(int T, int NH, int NKV, int HS) {
    for (int i = 0; i < sdpa_count; i++)
        if (sdpa[i].T == T && sdpa[i].NH == NH && sdpa[i].NKV == NKV && sdpa[i].HS == HS) return &sdpa[i];
    return NULL;
}

static void report(const char *what, float ms, double flops, double sdpa_ms) {
    report_flops(what, ms, flops);
    if (sdpa_ms > 0) printf("  %-40s %9.2fx SDPA\n", "", sdpa_ms / ms);
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
    scratch = zeros(scratch_bytes(version, B, T, NH, NKV, HS));
    double flops = 2.0 * B * NH * (double)T * T * HS;
    const SdpaTime *ref_t = sdpa_time(T, NH, NKV, HS);
    char what[96];
    snprintf(what, sizeof what, "forward,  B=%d T=%d NH=%d/%d HS=%d", B, T, NH, NKV, HS);
    report(what, time_ms([&] { forward(version, out, lse, qkv, B, T, NH, NKV, HS); }, 5), flops,
           ref_t ? ref_t->fwd_ms : 0);
    snprintf(what, sizeof what, "backward, B=%d T=%d NH=%d/%d HS=%d", B, T, NH, NKV, HS);
    report(what, time_ms([&] { backward(version, dqkv, dout, qkv, out, lse, B, T, NH, NKV, HS); }, 5), 2.5 * flops,
           ref_t ? ref_t->bwd_ms : 0);
    if (version != FP32) {
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
    load_sdpa_times();
    static const char *const names[VERSIONS] = {
        "fp32 CUDA-core tiles, online softmax (kernels/attention.cu)",
        "bf16 mma.sync, FlashAttention-2 tiles, deterministic dQ order (kernels/flash_attention.cu)",
        "bf16 mma.sync, FlashAttention-2 tiles, fp32-atomic dQ (kernels/flash_attention.cu)",
        "cuBLAS batched bf16 GEMMs + causal softmax (kernels/attention_gemm.cu)"};
    for_versions(argc, argv, VERSIONS, names, [&](int v) {
        for (int T = 1024; T <= 8192; T *= 2) {
            run(v, T, 12, 12, 64);
            run(v, T, 32, 8, 128);
        }
    });
    return 0;
}
