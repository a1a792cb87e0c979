// Shared by the GPU tests that compare CUDA code with its CPU twin (test_kernels_gpu,
// test_matmul_gpu, test_attention_gpu): random inputs rounded to bf16 on both sides,
// uploads and downloads, and the element-wise comparison with a stated tolerance.
#ifndef SCPT_CUDA_TEST_CUH
#define SCPT_CUDA_TEST_CUH

extern "C" {
#include "layers.h"
#include "rng.h"
#include "util.h"
}
#include "cuda_common.h"
#include "test.h"

// bf16 outputs: round-to-nearest to 8 significant bits moves a value by at most
// 2^-8 of itself, plus 2^-16 (256 fp32 ulp) for fp32 differences before that
// rounding (summation order, library expf/tanhf) where nothing cancels
#define BF16_RTOL (1.0 / 256 + 1.0 / 65536)
// fp32 outputs: sums of up to ~10^4 terms in another order
#define FP32_RTOL 1e-4

static uint64_t rng_state = 42;

// ---- host <-> device helpers ------------------------------------------------------
static float *random_floats(size_t n, float scale) {
    float *x = (float *)xmalloc(n * sizeof(float) + 1);
    for (size_t i = 0; i < n; i++) x[i] = (float)((2 * rng_uniform(&rng_state) - 1) * scale);
    return x;
}

// rounds x to bf16 values in place (so the CPU twin sees what the GPU sees) and uploads it
static floatX *upload_bf16(float *x, size_t n) {
    floatX *h = (floatX *)xmalloc(n * sizeof(floatX) + 1), *d;
    for (size_t i = 0; i < n; i++) {
        h[i] = __float2bfloat16(x[i]);
        x[i] = __bfloat162float(h[i]);
    }
    CUDA_CHECK(cudaMalloc(&d, n * sizeof(floatX) + 16));
    CUDA_CHECK(cudaMemcpy(d, h, n * sizeof(floatX), cudaMemcpyHostToDevice));
    free(h);
    return d;
}

template <typename T> static T *upload(const T *x, size_t n) {
    T *d;
    CUDA_CHECK(cudaMalloc(&d, n * sizeof(T) + 16));
    CUDA_CHECK(cudaMemcpy(d, x, n * sizeof(T), cudaMemcpyHostToDevice));
    return d;
}

static float *download_bf16(const floatX *d, size_t n) {
    floatX *h = (floatX *)xmalloc(n * sizeof(floatX) + 1);
    float *x = (float *)xmalloc(n * sizeof(float) + 1);
    CUDA_CHECK(cudaMemcpy(h, d, n * sizeof(floatX), cudaMemcpyDeviceToHost));
    for (size_t i = 0; i < n; i++) x[i] = __bfloat162float(h[i]);
    free(h);
    return x;
}

template <typename T> static T *download(const T *d, size_t n) {
    T *x = (T *)xmalloc(n * sizeof(T) + 1);
    CUDA_CHECK(cudaMemcpy(x, d, n * sizeof(T), cudaMemcpyDeviceToHost));
    return x;
}

static void *scratch_of(size_t bytes) {
    void *d;
    CUDA_CHECK(cudaMalloc(&d, bytes + 16));
    return d;
}

// |got - ref| <= rtol |ref| + atol_frac * max|ref| for every element; reports the worst
static void compare(const char *what, const float *got, const float *ref, size_t n, double rtol, double atol_frac) {
    double maxref = 0;
    for (size_t i = 0; i < n; i++) maxref = fmax(maxref, fabs(ref[i]));
    double atol = atol_frac * maxref + 1e-30;
    size_t bad = 0, worst = 0;
    double worst_excess = -1;
    for (size_t i = 0; i < n; i++) {
        double err = fabs((double)got[i] - ref[i]), lim = rtol * fabs(ref[i]) + atol;
        if (!(err <= lim)) bad++;
        if (!(err - lim <= worst_excess)) worst_excess = err - lim, worst = i;
    }
    CHECK(bad == 0, "%s: %zu of %zu differ, worst [%zu] %.7g vs %.7g (rtol %.2g, atol %.2g)", what, bad, n, worst,
          got[worst], ref[worst], rtol, atol);
}

static void check_same(const char *what, const void *a, const void *b, size_t bytes) {
    CHECK(memcmp(a, b, bytes) == 0, "%s: two runs differ", what);
}

#endif
