// The attention kernels on the GPU, each of forward out, lse, dQ, dK and dV
// separately: the tensor-core kernels (kernels/flash_attention.cu), the cuBLAS
// ones (kernels/attention_gemm.cu) and the fp32 reference kernels
// (kernels/attention.cu) against the CPU reference within the bound derived in
// test/attention_check.h; the tensor-core kernels against the CPU
// model of their algorithm (src/model/flash_attention.c), whose dQ order is the
// deterministic backward's; that backward's same bits twice. The flash backward
// runs in both modes (deterministic = 1: dQ added in key-block order; 0: fp32
// atomics), each against the reference and the model. Odd T, GQA (Llama 3's 4:1
// groups), HS 64 and 128. Without a CUDA device it
// prints one SKIP line and the summary and exits 0 (fails under SCPT_REQUIRE_GPU=1);
// `--probe` only says (by exit status) whether a device is visible.
//
// Kernel vs model: both round the same fp32 values to bf16, except where the mma's
// internal summation order moves a value across a rounding boundary; such a flip
// changes that value by one bf16 ulp (2^-7 relative). Hence outputs within 2^-7
// relative, plus 2^-8 of the tensor's largest value for the sums that a flipped P or
// dS term enters (a heuristic allowance: a wrong tile, mask or fragment index gives
// errors the size of the values themselves).
#include "cuda_test.cuh"
#include "kernels.h"
#include "attention_check.h"

typedef enum { FLASH, FLASH_ATOMIC, FP32, GEMM } Kernels;

typedef struct {
    float *out, *lse, *dqkv;
} Results;

// forward, then backward into zeros, on the device; results on the host
static Results run(Kernels k, const AttShape *s, const floatX *qkv, const floatX *dout) {
    int B = s->B, T = s->T, NH = s->NH, NKV = s->NKV, HS = s->HS;
    size_t N = (size_t)B * T, C = (size_t)NH * HS, row = (size_t)(NH + 2 * NKV) * HS;
    size_t scratch_bytes = k == GEMM   ? attention_gemm_scratch_bytes(B, T, NH, NKV, HS)
                           : k == FP32 ? attention_backward_scratch_bytes(B, T, NH)
                                       : flash_attention_backward_scratch_bytes(B, T, NH, HS);
    floatX *out, *dqkv;
    float *lse;
    void *scratch;
    CUDA_CHECK(cudaMalloc(&out, N * C * sizeof(floatX)));
    CUDA_CHECK(cudaMalloc(&dqkv, N * row * sizeof(floatX)));
    CUDA_CHECK(cudaMalloc(&lse, N * NH * sizeof(float)));
    CUDA_CHECK(cudaMalloc(&scratch, scratch_bytes));
    CUDA_CHECK(cudaMemset(dqkv, 0, N * row * sizeof(floatX)));
    if (k == FLASH || k == FLASH_ATOMIC) {
        flash_attention_forward_cuda(out, lse, qkv, B, T, NH, NKV, HS, 0);
        flash_attention_backward_cuda(dqkv, dout, qkv, out, lse, B, T, NH, NKV, HS, k == FLASH, scratch, 0);
    } else if (k == FP32) {
        attention_forward_cuda(out, lse, qkv, B, T, NH, NKV, HS, 0);
        attention_backward_cuda(dqkv, dout, qkv, out, lse, B, T, NH, NKV, HS, scratch, 0);
    } else {
        attention_gemm_forward_cuda(out, lse, qkv, B, T, NH, NKV, HS, scratch, 0);
        attention_gemm_backward_cuda(dqkv, dout, qkv, out, lse, B, T, NH, NKV, HS, scratch, 0);
    }
    CUDA_CHECK(cudaDeviceSynchronize());
    Results r = {download_bf16(out, N * C), download(lse, N * NH), download_bf16(dqkv, N * row)};
    cudaFree(out), cudaFree(dqkv), cudaFree(lse), cudaFree(scratch);
    return r;
}

static void results_free(Results *r) { free(r->out), free(r->lse), free(r->dqkv); }

// |got - want| <= 2^-7 |want| + 2^-8 max|want| over rows of len values at off
static void close_to_model(const char *what, const float *got, const float *want, size_t rows, size_t stride,
                           size_t off, size_t len) {
    double maxw = 0;
    for (size_t r = 0; r < rows; r++)
        for (size_t d = 0; d < len; d++) maxw = fmax(maxw, fabs(want[r * stride + off + d]));
    size_t bad = 0, worst = off;
    double worst_excess = -INFINITY;
    for (size_t r = 0; r < rows; r++)
        for (size_t d = 0; d < len; d++) {
            size_t x = r * stride + off + d;
            double excess = fabs((double)got[x] - want[x]) - (fabs(want[x]) / 128 + maxw / 256);
            if (!(excess <= 0)) bad++;
            if (!(excess <= worst_excess)) worst_excess = excess, worst = x;
        }
    CHECK(bad == 0, "flash vs model %s: %zu elements differ, worst %.7g vs %.7g", what, bad, got[worst], want[worst]);
}

static void attention_case(int B, int T, int NH, int NKV, int HS) {
    AttShape s = {B, T, NH, NKV, HS};
    size_t N = (size_t)B * T, C = (size_t)NH * HS, row = (size_t)(NH + 2 * NKV) * HS, KV = (size_t)NKV * HS;
    AttReference ref = att_reference(&s, &rng_state);
    floatX *qkv = upload_bf16(ref.qkv, N * row), *dout = upload_bf16(ref.dout, N * C);   // already bf16 values

    Results flash = run(FLASH, &s, qkv, dout), atomic = run(FLASH_ATOMIC, &s, qkv, dout);
    Results fp32 = run(FP32, &s, qkv, dout), gemm = run(GEMM, &s, qkv, dout);
    att_check("flash", &s, &ref, flash.out, flash.lse, flash.dqkv);
    att_check("flash atomic", &s, &ref, atomic.out, NULL, atomic.dqkv);
    att_check("fp32 ", &s, &ref, fp32.out, fp32.lse, fp32.dqkv);
    att_check("cublas", &s, &ref, gemm.out, gemm.lse, gemm.dqkv);

    float *out = (float *)xmalloc(N * C * sizeof(float)), *lse = (float *)xmalloc(N * NH * sizeof(float));
    float *dqkv = (float *)xcalloc(N * row, sizeof(float));
    flash_model_forward(out, lse, ref.qkv, B, T, NH, NKV, HS);
    flash_model_backward(dqkv, ref.dout, ref.qkv, out, lse, B, T, NH, NKV, HS);
    close_to_model("out", flash.out, out, N, C, 0, C);
    close_to_model("dQ", flash.dqkv, dqkv, N, row, 0, C);
    close_to_model("dK", flash.dqkv, dqkv, N, row, C, KV);
    close_to_model("dV", flash.dqkv, dqkv, N, row, C + KV, KV);
    close_to_model("dQ (atomic)", atomic.dqkv, dqkv, N, row, 0, C);
    close_to_model("dK (atomic)", atomic.dqkv, dqkv, N, row, C, KV);
    close_to_model("dV (atomic)", atomic.dqkv, dqkv, N, row, C + KV, KV);
    double lse_diff = 0;
    for (size_t i = 0; i < N * NH; i++) lse_diff = fmax(lse_diff, fabs(flash.lse[i] - lse[i]) / (1 + fabs(lse[i])));
    CHECK(lse_diff <= 1e-5, "flash vs model lse: relative difference %.3g (fp32 exp2/log2 and order: ~1e-6)", lse_diff);

    Results again = run(FLASH, &s, qkv, dout);
    CHECK(memcmp(again.dqkv, flash.dqkv, N * row * sizeof(float)) == 0 && memcmp(again.out, flash.out, N * C * 4) == 0,
          "flash deterministic: two runs differ");
    // dK and dV do not depend on the mode: same bits as the deterministic run
    size_t kv_differ = 0;
    for (size_t t = 0; t < N; t++)
        kv_differ += memcmp(atomic.dqkv + t * row + C, flash.dqkv + t * row + C, 2 * KV * sizeof(float)) != 0;
    CHECK(kv_differ == 0, "flash atomic: dK/dV of %zu tokens differ from the deterministic run's", kv_differ);

    results_free(&flash), results_free(&atomic), results_free(&fp32), results_free(&gemm), results_free(&again);
    free(out), free(lse), free(dqkv);
    att_reference_free(&ref);
    cudaFree(qkv), cudaFree(dout);
}

static void test_attention_small(void) {
    attention_case(1, 1, 2, 1, 64);       // a single token
    attention_case(2, 37, 4, 2, 64);      // odd T inside one tile, GQA 2:1
    attention_case(1, 130, 6, 1, 64);     // multi-query, T past two blocks
    attention_case(2, 45, 2, 2, 128);     // HS 128, no grouping
    attention_case(1, 64, 4, 1, 128);     // exactly one block
}

static void test_attention_llama(void) {
    attention_case(1, 333, 32, 8, 64);    // Llama 3's 32/8 groups
    attention_case(2, 515, 8, 2, 128);    // 8/2 groups, HS 128, T one past 8 blocks + 3
    attention_case(1, 1024, 8, 2, 128);   // T a multiple of every tile
}

int main(int argc, char **argv) {
    int devices = 0;
    cudaError_t err = cudaGetDeviceCount(&devices);
    if (argc > 1 && strcmp(argv[1], "--probe") == 0) return err == cudaSuccess && devices > 0 ? 0 : 1;
    if (err != cudaSuccess || devices == 0)   // a failure under SCPT_REQUIRE_GPU=1
        return test_no_gpu(err != cudaSuccess ? cudaGetErrorString(err) : "none visible");
    cudaDeviceProp prop;
    CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
    printf("device: %s (sm_%d%d)\n", prop.name, prop.major, prop.minor);
    if (argc > 1) test_filter = argv[1];   // `test_attention_gpu small` under racecheck
    RUN_TEST(test_attention_small);
    RUN_TEST(test_attention_llama);
    return test_summary();
}
