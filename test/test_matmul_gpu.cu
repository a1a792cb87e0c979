// The cuBLASLt matmuls (kernels/matmul.cu, include/matmul_cuda.h) against their CPU
// twin (src/model/matmul.c, gelu.c): the three layouts the model uses (forward
// out = inp W^T, dinp = dout W, dweight += dout^T inp), bias, the GELU_AUX(_BIAS)
// forward and DGELU backward epilogues, weight and bias gradients added to what is
// there, the two-pass bias reduction over more than 256 rows, odd shapes and the
// shapes of GPT-2 124M and a Llama 3 layer. Every output tensor's worst error is
// printed, passing or not. Without a CUDA device: one SKIP line (a failure under
// SCPT_REQUIRE_GPU=1); an argument runs only the tests whose name contains it.
//
// Tolerance per element, from the error analysis of a dot product of K terms:
//   |gpu - cpu| <= r |cpu| + e s,   s = sum_k |a_k| |b_k| (+ |bias|, + |initial|)
// Both sides see the same bf16 inputs, whose products are exact in fp32; each side's
// fp32 sum is within (K + 2) u s of the exact one (Higham's gamma_n, + 2 for the bias
// or the accumulated value), with u = 2^-24 on the CPU and 2^-23 on the tensor cores
// (their accumulation may truncate instead of rounding): e = 3 (K + 2) 2^-24. r is
// BF16_RTOL for bf16 outputs (their rounding) and 0 for the fp32 gradients. A GELU
// epilogue multiplies the pre-activation error by at most max|gelu'| = 1.13 and adds
// its own fp32 tanhf error, a few ulp of values <= s: e' = 1.13 e + 2^-20. s comes
// from the CPU twin run on absolute values. A wrong layout, missing bias or missing
// accumulation gives errors of the order of the outputs (~0.3 here), hundreds of
// times e s.
#include "matmul_cuda.h"
#include "cuda_test.cuh"

static float *absolute(const float *x, size_t n) {
    float *a = (float *)xmalloc(n * sizeof(float) + 1);
    for (size_t i = 0; i < n; i++) a[i] = fabsf(x[i]);
    return a;
}

// every element within r |ref| + e s; prints the worst error relative to its bound
// and the tensor's relative L2 error either way
static void compare_bound(const char *what, const float *got, const float *ref, const float *s, size_t n,
                          double r, double e) {
    size_t bad = 0, worst = 0;
    double worst_ratio = -1, diff2 = 0, ref2 = 0;
    for (size_t i = 0; i < n; i++) {
        double err = fabs((double)got[i] - ref[i]), bound = r * fabs(ref[i]) + e * s[i] + 1e-30;
        if (!(err <= bound)) bad++;
        if (!(err / bound <= worst_ratio)) worst_ratio = err / bound, worst = i;
        diff2 += err * err, ref2 += (double)ref[i] * ref[i];
    }
    printf("  %-44s rel L2 %.2e, worst %.3f of its bound\n", what, sqrt(diff2 / (ref2 + 1e-300)), worst_ratio);
    CHECK(bad == 0, "%s: %zu of %zu beyond the bound, worst [%zu] %.7g vs %.7g (bound %.3g)", what, bad, n, worst,
          got[worst], ref[worst], r * fabs(ref[worst]) + e * s[worst]);
}

static double sum_bound(int K) { return 3.0 * (K + 2) / (1 << 24); }
static double gelu_bound(int K) { return 1.13 * sum_bound(K) + 1.0 / (1 << 20); }

typedef struct {
    const char *name;
    int N, C, OC;
    int bias;        // forward with bias, backward with a bias gradient
    int fwd_gelu;    // forward GELU_AUX(_BIAS): out = gelu(pre), pre kept
    int bwd_dgelu;   // backward DGELU: dinp *= gelu'(pre_gelu of the input, N x C)
} Case;

static void run_case(const Case *k) {
    int N = k->N, C = k->C, OC = k->OC;
    size_t nin = (size_t)N * C, nw = (size_t)OC * C, nout = (size_t)N * OC;
    printf("  %s: N %d, C %d, OC %d%s%s%s\n", k->name, N, C, OC, k->bias ? ", bias" : "",
           k->fwd_gelu ? ", GELU_AUX" : "", k->bwd_dgelu ? ", DGELU" : "");
    // weights at a 1/sqrt(C) scale as after init, so outputs are O(1); bias O(1)
    float *inp = random_floats(nin, 1), *w = random_floats(nw, (float)(1 / sqrt(C)));
    float *bias = k->bias ? random_floats(OC, 1) : NULL, *dout = random_floats(nout, 1);
    float *dw0 = random_floats(nw, 0.5f), *db0 = random_floats(OC, 0.5f), *pre_in = random_floats(nin, 3);
    floatX *d_inp = upload_bf16(inp, nin), *d_w = upload_bf16(w, nw), *d_bias = bias ? upload_bf16(bias, OC) : NULL;
    floatX *d_dout = upload_bf16(dout, nout), *d_pre_in = k->bwd_dgelu ? upload_bf16(pre_in, nin) : NULL;
    // outputs start as garbage: forward and dinp must overwrite
    float *garbage = random_floats(nout > nin ? nout : nin, 100);
    floatX *d_out = upload_bf16(garbage, nout), *d_pre = k->fwd_gelu ? upload_bf16(garbage, nout) : NULL;
    floatX *d_dinp = upload_bf16(garbage, nin);
    float *d_dw = upload(dw0, nw), *d_db = upload(db0, OC);
    void *scratch = scratch_of(matmul_backward_scratch_bytes(N, OC));
    char what[96];

    // forward: CPU pre-activation and its absolute-value twin
    float *ref = (float *)xmalloc(nout * sizeof(float)), *s = (float *)xmalloc(nout * sizeof(float));
    float *a_inp = absolute(inp, nin), *a_w = absolute(w, nw), *a_bias = bias ? absolute(bias, OC) : NULL;
    matmul_forward(ref, inp, w, bias, N, C, OC);
    matmul_forward(s, a_inp, a_w, a_bias, N, C, OC);
    matmul_forward_cuda(d_out, d_pre, d_inp, d_w, d_bias, N, C, OC, 0);
    if (k->fwd_gelu) {
        float *g_pre = download_bf16(d_pre, nout), *act = (float *)xmalloc(nout * sizeof(float));
        snprintf(what, sizeof what, "%s forward pre-activation (aux)", k->name);
        compare_bound(what, g_pre, ref, s, nout, BF16_RTOL, sum_bound(C));
        gelu_forward(act, ref, nout);
        float *g_out = download_bf16(d_out, nout);
        snprintf(what, sizeof what, "%s forward gelu(out)", k->name);
        compare_bound(what, g_out, act, s, nout, BF16_RTOL, gelu_bound(C));
        free(g_pre), free(act), free(g_out);
    } else {
        float *g_out = download_bf16(d_out, nout);
        snprintf(what, sizeof what, "%s forward", k->name);
        compare_bound(what, g_out, ref, s, nout, BF16_RTOL, sum_bound(C));
        free(g_out);
    }

    // backward, twice from the same start (the same bits: a fixed algorithm per shape)
    float *runs[2][3];
    for (int run = 0; run < 2; run++) {
        CUDA_CHECK(cudaMemcpy(d_dw, dw0, nw * sizeof(float), cudaMemcpyHostToDevice));
        CUDA_CHECK(cudaMemcpy(d_db, db0, OC * sizeof(float), cudaMemcpyHostToDevice));
        matmul_backward_cuda(d_dinp, d_dw, k->bias ? d_db : NULL, d_dout, d_inp, d_w, d_pre_in, N, C, OC, scratch, 0);
        runs[run][0] = download_bf16(d_dinp, nin);
        runs[run][1] = download(d_dw, nw);
        runs[run][2] = download(d_db, OC);
    }
    float *dinp = (float *)xcalloc(nin, sizeof(float)), *dw = (float *)xmalloc(nw * sizeof(float));
    float *db = (float *)xmalloc(OC * sizeof(float)), *s_dinp = (float *)xcalloc(nin, sizeof(float));
    float *s_dw = absolute(dw0, nw), *s_db = absolute(db0, OC), *a_dout = absolute(dout, nout);
    memcpy(dw, dw0, nw * sizeof(float));
    memcpy(db, db0, OC * sizeof(float));
    matmul_backward(dinp, dw, db, dout, inp, w, N, C, OC);
    matmul_backward(s_dinp, s_dw, s_db, a_dout, a_inp, a_w, N, C, OC);
    if (k->bwd_dgelu) {   // dinp = (dout W) gelu'(pre), as the CPU model does in two steps
        float *dgelu = (float *)xcalloc(nin, sizeof(float));
        gelu_backward(dgelu, pre_in, dinp, nin);
        snprintf(what, sizeof what, "%s dinp (DGELU)", k->name);
        compare_bound(what, runs[0][0], dgelu, s_dinp, nin, BF16_RTOL, gelu_bound(OC));
        free(dgelu);
    } else {
        snprintf(what, sizeof what, "%s dinp", k->name);
        compare_bound(what, runs[0][0], dinp, s_dinp, nin, BF16_RTOL, sum_bound(OC));
    }
    snprintf(what, sizeof what, "%s dweight (added to a random start)", k->name);
    compare_bound(what, runs[0][1], dw, s_dw, nw, 0, sum_bound(N));
    if (k->bias) {
        snprintf(what, sizeof what, "%s dbias (added to a random start)", k->name);
        compare_bound(what, runs[0][2], db, s_db, OC, 0, sum_bound(N));
    } else {
        CHECK(memcmp(runs[0][2], db0, OC * sizeof(float)) == 0, "%s: dbias written without a bias", k->name);
    }
    for (int t = 0; t < 3; t++) {
        size_t n = t == 0 ? nin : t == 1 ? nw : OC;
        CHECK(memcmp(runs[0][t], runs[1][t], n * sizeof(float)) == 0, "%s: backward output %d differs run to run",
              k->name, t);
        free(runs[0][t]), free(runs[1][t]);
    }

    cudaFree(d_inp), cudaFree(d_w), cudaFree(d_bias), cudaFree(d_dout), cudaFree(d_pre_in), cudaFree(d_out);
    cudaFree(d_pre), cudaFree(d_dinp), cudaFree(d_dw), cudaFree(d_db), cudaFree(scratch);
    free(inp), free(w), free(bias), free(dout), free(dw0), free(db0), free(pre_in), free(garbage), free(ref);
    free(s), free(a_inp), free(a_w), free(a_bias), free(dinp), free(dw), free(db), free(s_dinp), free(s_dw);
    free(s_db), free(a_dout);
}

static void run_cases(const Case *cases, int n) {
    for (int i = 0; i < n; i++) run_case(&cases[i]);
}

// odd sizes: no dimension a multiple of 8 (cuBLASLt's unaligned kernels)
static void test_odd_shapes(void) {
    static const Case cases[] = {
        {"odd", 7, 13, 129, 0, 0, 0},
        {"odd with bias", 7, 13, 129, 1, 0, 0},
        {"single row", 1, 33, 65, 1, 0, 0},
    };
    run_cases(cases, 3);
}

// the bias gradient's first pass sums chunks of 256 rows: 600 rows = 2 full + 1 partial
static void test_bias_reduction_rows(void) {
    static const Case cases[] = {
        {"600 rows", 600, 64, 200, 1, 0, 0},
        {"257 rows", 257, 24, 40, 1, 0, 0},
    };
    run_cases(cases, 2);
}

// the epilogues with and without bias (the GELU ones need OC and C multiples of 8,
// as the model's 4C MLP has)
static void test_gelu_epilogues(void) {
    static const Case cases[] = {
        {"GELU_AUX_BIAS", 37, 96, 136, 1, 1, 0},
        {"GELU_AUX", 37, 96, 136, 0, 1, 0},
        {"DGELU with bias", 37, 136, 96, 1, 0, 1},
        {"DGELU", 300, 136, 96, 0, 0, 1},
    };
    run_cases(cases, 4);
}

// GPT-2 124M's four matmuls per layer and its head, on 512 positions; the MLP as the
// model fuses it (GELU after fc, DGELU in fcproj's backward)
static void test_gpt2_shapes(void) {
    static const Case cases[] = {
        {"gpt2 qkv", 512, 768, 2304, 1, 0, 0},
        {"gpt2 attproj", 512, 768, 768, 1, 0, 0},
        {"gpt2 fc", 512, 768, 3072, 1, 1, 0},
        {"gpt2 fcproj", 512, 3072, 768, 1, 0, 1},
        {"gpt2 lm head", 256, 768, 50304, 0, 0, 0},
    };
    run_cases(cases, 5);
}

// Llama 3.2 1B: no biases, GQA qkv (32 + 2 x 8 heads of 64), SwiGLU's 2 x 8192 fc
static void test_llama_shapes(void) {
    static const Case cases[] = {
        {"llama qkv", 256, 2048, 3072, 0, 0, 0},
        {"llama fc", 256, 2048, 16384, 0, 0, 0},
        {"llama fcproj", 256, 8192, 2048, 0, 0, 0},
    };
    run_cases(cases, 3);
}

int main(int argc, char **argv) {
    int devices = 0;
    cudaError_t err = cudaGetDeviceCount(&devices);
    if (err != cudaSuccess || devices == 0)
        return test_no_gpu(err != cudaSuccess ? cudaGetErrorString(err) : "none visible");
    if (argc > 1) test_filter = argv[1];
    // the model's shapes first: where cuBLASLt has no algorithm for a shape it exits
    // (kernels/matmul.cu), and the odd shapes, which the model never uses, are likelier
    RUN_TEST(test_gpt2_shapes);
    RUN_TEST(test_llama_shapes);
    RUN_TEST(test_gelu_epilogues);
    RUN_TEST(test_bias_reduction_rows);
    RUN_TEST(test_odd_shapes);
    matmul_cuda_free();
    CUDA_CHECK(cudaDeviceSynchronize());
    return test_summary();
}
