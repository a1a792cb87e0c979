// Every CUDA kernel family against its CPU twin (include/layers.h) on random
// inputs, at several shapes including odd sizes (which take the scalar, not the
// 128-bit, paths), plus same-result-twice checks for the deterministic paths.
// Without a CUDA device it prints one SKIP line and the summary, and exits 0 (with
// SCPT_REQUIRE_GPU=1 it fails instead); `--probe` only says (by exit status) whether
// a device is visible; any other argument runs only the tests whose name contains it.
//
// Tolerances. The CPU twin is fed exactly the bf16-rounded inputs the GPU sees, so
// the only differences are (a) fp32 arithmetic in another order, with or without
// fused multiply-adds, and fp32 library functions (expf, tanhf): a few fp32 ulp of
// each term, and (b) the final rounding of bf16 outputs: at most 2^-8 of the value
// (8 significant bits, round to nearest). Hence (test/cuda_test.cuh):
//   - bf16 outputs: |gpu - cpu| <= BF16_RTOL |cpu| + atol, BF16_RTOL = 2^-8 for (b)
//     plus 2^-16 for (a) where the terms do not cancel;
//   - fp32 outputs: FP32_RTOL = 1e-4 relative (sums of up to ~10^4 terms in another
//     order: n u = 10^4 x 6e-8 worst case);
//   - atol is a fraction of the largest |cpu| value of the tensor, for outputs that
//     can be small differences of large terms, where (a) is relative to the terms,
//     not to the result; each call states its own below.
// Run one family alone with a filter: `test_kernels_gpu rope` (e.g. under racecheck).
#include "kernels.h"
#include "cuda_test.cuh"

// ---- encoder --------------------------------------------------------------------------
static void encoder_case(int B, int T, int C, int V, int learned_pos) {
    int N = B * T;
    int *tok = (int *)xmalloc(N * sizeof(int));
    for (int i = 0; i < N; i++) tok[i] = (int)(rng_next(&rng_state) % V);   // small V: many repeats
    float *wte = random_floats((size_t)V * C, 1), *wpe = random_floats((size_t)T * C, 1);
    float *dout = random_floats((size_t)N * C, 1), *out = (float *)xmalloc((size_t)N * C * sizeof(float));
    int *d_tok = upload(tok, N);
    floatX *d_wte = upload_bf16(wte, (size_t)V * C), *d_wpe = upload_bf16(wpe, (size_t)T * C);
    floatX *d_dout = upload_bf16(dout, (size_t)N * C), *d_out;
    CUDA_CHECK(cudaMalloc(&d_out, (size_t)N * C * sizeof(floatX)));

    encoder_forward(out, tok, wte, learned_pos ? wpe : NULL, B, T, C);
    encoder_forward_cuda(d_out, d_tok, d_wte, learned_pos ? d_wpe : NULL, B, T, C, 0);
    float *got = download_bf16(d_out, (size_t)N * C);
    // wte + wpe: one fp32 addition, the same on both sides, then the bf16 rounding: no atol
    compare("encoder out", got, out, (size_t)N * C, BF16_RTOL, 0);

    // gradients start non-zero: backward must add
    float *dwte = random_floats((size_t)V * C, 1), *dwpe = random_floats((size_t)T * C, 1);
    float *d_dwte0 = upload(dwte, (size_t)V * C), *d_dwpe = upload(dwpe, (size_t)T * C);
    float *d_dwte = upload(dwte, (size_t)V * C);
    void *scratch = scratch_of(encoder_backward_scratch_bytes(B, T));
    encoder_backward(dwte, learned_pos ? dwpe : NULL, dout, tok, B, T, C);
    encoder_backward_cuda(d_dwte, learned_pos ? d_dwpe : NULL, d_dout, d_tok, B, T, C, 1, scratch, 0);
    float *g_dwte = download(d_dwte, (size_t)V * C), *g_dwpe = download(d_dwpe, (size_t)T * C);
    // fp32 sums of up to N bf16 terms of both signs in another order: FP32_RTOL, and
    // 1e-6 of the max (n u |terms| for n ~ 10^2 repeats) where a sum cancels to ~0
    compare("encoder dwte (deterministic)", g_dwte, dwte, (size_t)V * C, FP32_RTOL, 1e-6);
    if (learned_pos) compare("encoder dwpe", g_dwpe, dwpe, (size_t)T * C, FP32_RTOL, 1e-6);
    // the deterministic path twice from the same start gives the same bits
    CUDA_CHECK(cudaMemcpy(d_dwte, d_dwte0, (size_t)V * C * sizeof(float), cudaMemcpyDeviceToDevice));
    encoder_backward_cuda(d_dwte, NULL, d_dout, d_tok, B, T, C, 1, scratch, 0);
    float *again = download(d_dwte, (size_t)V * C);
    check_same("encoder dwte", again, g_dwte, (size_t)V * C * sizeof(float));
    // the atomic path agrees within fp32 tolerance
    CUDA_CHECK(cudaMemcpy(d_dwte, d_dwte0, (size_t)V * C * sizeof(float), cudaMemcpyDeviceToDevice));
    encoder_backward_cuda(d_dwte, NULL, d_dout, d_tok, B, T, C, 0, NULL, 0);
    float *atomic = download(d_dwte, (size_t)V * C);
    compare("encoder dwte (atomic)", atomic, dwte, (size_t)V * C, FP32_RTOL, 1e-6);

    cudaFree(d_tok), cudaFree(d_wte), cudaFree(d_wpe), cudaFree(d_dout), cudaFree(d_out), cudaFree(d_dwte0);
    cudaFree(d_dwte), cudaFree(d_dwpe), cudaFree(scratch);
    free(tok), free(wte), free(wpe), free(dout), free(out), free(got), free(dwte), free(dwpe), free(g_dwte);
    free(g_dwpe), free(again), free(atomic);
}

static void test_encoder(void) {
    encoder_case(2, 5, 37, 7, 1);      // odd channels: scalar path
    encoder_case(4, 64, 768, 50, 1);   // GPT-2 width, 128-bit path
    encoder_case(3, 33, 256, 11, 0);   // no position embedding (Llama)
}

// ---- layernorm and rmsnorm ------------------------------------------------------------
static void norm_case(int N, int C, int rms) {
    size_t n = (size_t)N * C;
    float *inp = random_floats(n, 2), *w = random_floats(C, 1), *bias = random_floats(C, 0.5f);
    float *dout = random_floats(n, 1), *dinp = random_floats(n, 0.5f);
    float *dw = random_floats(C, 1), *db = random_floats(C, 1);
    float *out = (float *)xmalloc(n * sizeof(float)), *mean = (float *)xcalloc(N, sizeof(float));
    float *rstd = (float *)xmalloc(N * sizeof(float));
    floatX *d_inp = upload_bf16(inp, n), *d_w = upload_bf16(w, C), *d_b = upload_bf16(bias, C);
    floatX *d_dout = upload_bf16(dout, n), *d_dinp = upload_bf16(dinp, n), *d_out;
    floatX *d_dinp0 = upload_bf16(dinp, n);
    float *d_dw = upload(dw, C), *d_db = upload(db, C), *d_dw0 = upload(dw, C), *d_db0 = upload(db, C);
    float *d_mean, *d_rstd;
    CUDA_CHECK(cudaMalloc(&d_out, n * sizeof(floatX)));
    CUDA_CHECK(cudaMalloc(&d_mean, N * sizeof(float)));
    CUDA_CHECK(cudaMalloc(&d_rstd, N * sizeof(float)));
    size_t scratch_bytes = rms ? rmsnorm_backward_scratch_bytes(N, C) : layernorm_backward_scratch_bytes(N, C);
    void *scratch = scratch_of(scratch_bytes);
    const char *name = rms ? "rmsnorm" : "layernorm";
    char what[64];

    if (rms) {
        rmsnorm_forward(out, rstd, inp, w, N, C, 1e-5f);
        rmsnorm_forward_cuda(d_out, d_rstd, d_inp, d_w, N, C, 1e-5f, 0);
    } else {
        layernorm_forward(out, mean, rstd, inp, w, bias, N, C, 1e-5f);
        layernorm_forward_cuda(d_out, d_mean, d_rstd, d_inp, d_w, d_b, N, C, 1e-5f, 0);
        float *g_mean = download(d_mean, N);
        snprintf(what, sizeof what, "%s mean", name);
        // a mean of C fp32 terms in another order; 1e-6 of the max for means near 0
        compare(what, g_mean, mean, N, FP32_RTOL, 1e-6);
        free(g_mean);
    }
    float *g_out = download_bf16(d_out, n), *g_rstd = download(d_rstd, N);
    // (x - mean) * rstd * w + b: x - mean cancels for x near the mean, so the fp32
    // mean's error (relative to |x| <= max) shows; 2^-9 of the max covers it with room
    snprintf(what, sizeof what, "%s out", name);
    compare(what, g_out, out, n, BF16_RTOL, 1.0 / 512);
    // a sum of squares (no cancellation) and one rsqrt: relative, no atol
    snprintf(what, sizeof what, "%s rstd", name);
    compare(what, g_rstd, rstd, N, FP32_RTOL, 0);

    // backward from the CPU's saved statistics on both sides
    float *d_mean_ref = upload(mean, N), *d_rstd_ref = upload(rstd, N);
    float *results[2][3];   // two runs: dinp, dw, db
    for (int run = 0; run < 2; run++) {
        CUDA_CHECK(cudaMemcpy(d_dinp, d_dinp0, n * sizeof(floatX), cudaMemcpyDeviceToDevice));
        CUDA_CHECK(cudaMemcpy(d_dw, d_dw0, C * sizeof(float), cudaMemcpyDeviceToDevice));
        CUDA_CHECK(cudaMemcpy(d_db, d_db0, C * sizeof(float), cudaMemcpyDeviceToDevice));
        if (rms) rmsnorm_backward_cuda(d_dinp, d_dw, d_dout, d_inp, d_w, d_rstd_ref, N, C, scratch, 0);
        else layernorm_backward_cuda(d_dinp, d_dw, d_db, d_dout, d_inp, d_w, d_mean_ref, d_rstd_ref, N, C, scratch, 0);
        results[run][0] = download_bf16(d_dinp, n);
        results[run][1] = download(d_dw, C);
        results[run][2] = download(d_db, C);
    }
    if (rms) rmsnorm_backward(dinp, dw, dout, inp, w, rstd, N, C);
    else layernorm_backward(dinp, dw, db, dout, inp, w, mean, rstd, N, C);
    // dinp = rstd (dout w - mean(dout w) - xhat mean(dout w xhat)): a difference of
    // terms of the size of the result's max, whose fp32 means differ; 2^-8 of the max
    snprintf(what, sizeof what, "%s dinp", name);
    compare(what, results[0][0], dinp, n, BF16_RTOL, 1.0 / 256);
    // sums over N rows of terms of both signs: FP32_RTOL, 1e-5 of the max near 0
    snprintf(what, sizeof what, "%s dweight", name);
    compare(what, results[0][1], dw, C, FP32_RTOL, 1e-5);
    if (!rms) compare("layernorm dbias", results[0][2], db, C, FP32_RTOL, 1e-5);
    for (int k = 0; k < 3; k++) {
        check_same(name, results[0][k], results[1][k], (k ? C : n) * sizeof(float));
        free(results[0][k]), free(results[1][k]);
    }

    cudaFree(d_inp), cudaFree(d_w), cudaFree(d_b), cudaFree(d_dout), cudaFree(d_dinp), cudaFree(d_dinp0);
    cudaFree(d_out), cudaFree(d_dw), cudaFree(d_db), cudaFree(d_dw0), cudaFree(d_db0), cudaFree(d_mean);
    cudaFree(d_rstd), cudaFree(d_mean_ref), cudaFree(d_rstd_ref), cudaFree(scratch);
    free(inp), free(w), free(bias), free(dout), free(dinp), free(dw), free(db), free(out), free(mean), free(rstd);
    free(g_out), free(g_rstd);
}

static void test_layernorm(void) {
    norm_case(1, 37, 0);
    norm_case(197, 768, 0);
    norm_case(300, 1000, 0);   // rows of 1000: vectorized, 4 loop trips with a partial one
    norm_case(4500, 768, 0);   // more rows than the backward's 512 blocks x 8 warps: warps take several
    norm_case(5, 8200, 0);     // the backward's accumulators of one warp above 48 KiB: more shared memory
}

static void test_rmsnorm(void) {
    norm_case(3, 37, 1);
    norm_case(197, 2048, 1);   // 6 warps per backward block
    norm_case(9, 16400, 1);    // one backward warp above 48 KiB
}

// ---- rope ----------------------------------------------------------------------------
static void rope_case(int B, int T, int NH, int NKV, int HS, double scale_factor) {
    size_t n = (size_t)B * T * (NH + 2 * NKV) * HS, half = HS / 2;
    float *cos_t = (float *)xmalloc(T * half * sizeof(float)), *sin_t = (float *)xmalloc(T * half * sizeof(float));
    rope_tables(cos_t, sin_t, T, HS, 500000.0, scale_factor, 1.0, 4.0, 8192);
    float *qkv = random_floats(n, 1);
    floatX *d_qkv = upload_bf16(qkv, n);
    float *d_cos = upload(cos_t, T * half), *d_sin = upload(sin_t, T * half);
    rope_forward(qkv, cos_t, sin_t, B, T, NH, NKV, HS);
    rope_forward_cuda(d_qkv, d_cos, d_sin, B, T, NH, NKV, HS, 0);
    float *got = download_bf16(d_qkv, n);
    // x cos - y sin: the GPU fuses one product into a multiply-add, the CPU may round
    // both products, so the fp32 results differ by up to ~3 fp32 ulp of |x| + |y|,
    // which for x cos ~ y sin is not small relative to the result. |x|, |y| <= max|in|
    // and a rotation keeps each pair's norm, so max|out| >= max|in| / sqrt(2): the
    // difference is below 3 * 2^-24 * 2 * sqrt(2) max|out| < 2^-20 max|out|.
    compare("rope forward", got, qkv, n, BF16_RTOL, 1.0 / (1 << 20));
    // backward on the (bf16) forward result, on both sides
    floatX *d_back = upload_bf16(got, n);
    rope_backward(got, cos_t, sin_t, B, T, NH, NKV, HS);
    rope_backward_cuda(d_back, d_cos, d_sin, B, T, NH, NKV, HS, 0);
    float *back = download_bf16(d_back, n);
    compare("rope backward", back, got, n, BF16_RTOL, 1.0 / (1 << 20));   // the same rotation, inverted
    cudaFree(d_qkv), cudaFree(d_cos), cudaFree(d_sin), cudaFree(d_back);
    free(cos_t), free(sin_t), free(qkv), free(got), free(back);
}

static void test_rope(void) {
    rope_case(2, 7, 4, 2, 64, 1.0);        // plain RoPE, GQA, odd T
    rope_case(1, 65, 8, 2, 64, 32.0);      // Llama 3.2 scaling
    rope_case(2, 17, 4, 4, 128, 8.0);      // Llama 3.1 scaling, HS 128
}

// ---- attention -------------------------------------------------------------------------
static void attention_case(int B, int T, int NH, int NKV, int HS) {
    size_t n = (size_t)B * T * (NH + 2 * NKV) * HS, no = (size_t)B * T * NH * HS;
    float *qkv = random_floats(n, 2), *dout = random_floats(no, 1), *dqkv = random_floats(n, 0.5f);
    float *out = (float *)xmalloc(no * sizeof(float)), *att = (float *)xmalloc((size_t)B * NH * T * T * sizeof(float));
    floatX *d_qkv = upload_bf16(qkv, n), *d_dout = upload_bf16(dout, no), *d_dqkv0 = upload_bf16(dqkv, n), *d_out;
    floatX *d_dqkv;
    float *d_lse;
    CUDA_CHECK(cudaMalloc(&d_out, no * sizeof(floatX)));
    CUDA_CHECK(cudaMalloc(&d_dqkv, n * sizeof(floatX)));
    CUDA_CHECK(cudaMalloc(&d_lse, (size_t)B * NH * T * sizeof(float)));
    void *scratch = scratch_of(attention_backward_scratch_bytes(B, T, NH));

    attention_forward(out, att, qkv, B, T, NH, NKV, HS);
    attention_forward_cuda(d_out, d_lse, d_qkv, B, T, NH, NKV, HS, 0);
    float *got = download_bf16(d_out, no);
    // softmax-weighted means of v (|v| <= max): the online softmax rescales in another
    // order (fp32, a few ulp of each weight), outputs near 0 are differences of terms
    // of size max|v|: 2^-10 of the max
    compare("attention out", got, out, no, BF16_RTOL, 1.0 / 1024);

    float *runs[2];
    for (int run = 0; run < 2; run++) {
        CUDA_CHECK(cudaMemcpy(d_dqkv, d_dqkv0, n * sizeof(floatX), cudaMemcpyDeviceToDevice));
        attention_backward_cuda(d_dqkv, d_dout, d_qkv, d_out, d_lse, B, T, NH, NKV, HS, scratch, 0);
        runs[run] = download_bf16(d_dqkv, n);
    }
    attention_backward(dqkv, dout, qkv, att, B, T, NH, NKV, HS);
    // the backward uses the bf16-rounded forward output in rowsum(dout * out): one
    // bf16 rounding (2^-8) of terms of the size of the max enters every gradient
    compare("attention dqkv", runs[0], dqkv, n, BF16_RTOL, 1.0 / 256);
    check_same("attention dqkv", runs[0], runs[1], n * sizeof(float));

    cudaFree(d_qkv), cudaFree(d_dout), cudaFree(d_dqkv0), cudaFree(d_out), cudaFree(d_dqkv), cudaFree(d_lse);
    cudaFree(scratch);
    free(qkv), free(dout), free(dqkv), free(out), free(att), free(got), free(runs[0]), free(runs[1]);
}

static void test_attention(void) {
    const char *why;
    CHECK(!attention_supported(4, 2, 96, &why) && why, "head size 96 must be refused");
    CHECK(!attention_supported(6, 4, 64, &why) && why, "6 query heads over 4 kv heads must be refused");
    attention_case(1, 1, 2, 1, 64);       // a single token
    attention_case(2, 37, 4, 2, 64);      // odd T, partial tiles, GQA 2:1
    attention_case(1, 130, 6, 1, 64);     // multi-query, five key tiles
    attention_case(2, 45, 2, 2, 128);     // HS 128, no grouping
}

// ---- elementwise: gelu, swiglu, residual ---------------------------------------------
static void test_gelu(void) {
    size_t sizes[] = {1, 13, 768 * 4 * 3 + 5};
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        size_t n = sizes[s];
        float *inp = random_floats(n, 4), *dout = random_floats(n, 1), *dinp = random_floats(n, 1);
        float *out = (float *)xmalloc(n * sizeof(float));
        floatX *d_inp = upload_bf16(inp, n), *d_dout = upload_bf16(dout, n), *d_dinp = upload_bf16(dinp, n), *d_out;
        CUDA_CHECK(cudaMalloc(&d_out, n * sizeof(floatX)));
        gelu_forward(out, inp, n);
        gelu_forward_cuda(d_out, d_inp, n, 0);
        gelu_backward(dinp, inp, dout, n);
        gelu_backward_cuda(d_dinp, d_inp, d_dout, n, 0);
        float *g_out = download_bf16(d_out, n), *g_dinp = download_bf16(d_dinp, n);
        // gelu(x) for x near -3 is a tiny difference of terms of size |x|: atol 2^-9 of the max
        compare("gelu out", g_out, out, n, BF16_RTOL, 1.0 / 512);
        // gelu'(x) dout: gelu' also a difference of terms near x ~ -1.5; the same 2^-9
        compare("gelu dinp", g_dinp, dinp, n, BF16_RTOL, 1.0 / 512);
        cudaFree(d_inp), cudaFree(d_dout), cudaFree(d_dinp), cudaFree(d_out);
        free(inp), free(dout), free(dinp), free(out), free(g_out), free(g_dinp);
    }
}

static void test_swiglu(void) {
    int shapes[][2] = {{1, 3}, {7, 37}, {33, 512}};
    for (int s = 0; s < 3; s++) {
        int N = shapes[s][0], H = shapes[s][1];
        size_t n = (size_t)N * H;
        float *inp = random_floats(2 * n, 4), *dout = random_floats(n, 1), *dinp = random_floats(2 * n, 1);
        float *out = (float *)xmalloc(n * sizeof(float));
        floatX *d_inp = upload_bf16(inp, 2 * n), *d_dout = upload_bf16(dout, n), *d_dinp = upload_bf16(dinp, 2 * n);
        floatX *d_out;
        CUDA_CHECK(cudaMalloc(&d_out, n * sizeof(floatX)));
        swiglu_forward(out, inp, N, H);
        swiglu_forward_cuda(d_out, d_inp, N, H, 0);
        swiglu_backward(dinp, inp, dout, N, H);
        swiglu_backward_cuda(d_dinp, d_inp, d_dout, N, H, 0);
        float *g_out = download_bf16(d_out, n), *g_dinp = download_bf16(d_dinp, 2 * n);
        // silu(a) b: silu(a) for a near -3 is a difference of terms of size |a| (as gelu)
        compare("swiglu out", g_out, out, n, BF16_RTOL, 1.0 / 512);
        compare("swiglu dinp", g_dinp, dinp, 2 * n, BF16_RTOL, 1.0 / 512);
        cudaFree(d_inp), cudaFree(d_dout), cudaFree(d_dinp), cudaFree(d_out);
        free(inp), free(dout), free(dinp), free(out), free(g_out), free(g_dinp);
    }
}

static void test_residual(void) {
    size_t sizes[] = {3, 4096 + 7};
    for (int s = 0; s < 2; s++) {
        size_t n = sizes[s];
        float *a = random_floats(n, 1), *b = random_floats(n, 1), *dout = random_floats(n, 1);
        float *da = random_floats(n, 1), *db = random_floats(n, 1), *out = (float *)xmalloc(n * sizeof(float));
        floatX *d_a = upload_bf16(a, n), *d_b = upload_bf16(b, n), *d_dout = upload_bf16(dout, n);
        floatX *d_da = upload_bf16(da, n), *d_db = upload_bf16(db, n), *d_out;
        CUDA_CHECK(cudaMalloc(&d_out, n * sizeof(floatX)));
        residual_forward(out, a, b, n);
        residual_forward_cuda(d_out, d_a, d_b, n, 0);
        residual_backward(da, db, dout, n);
        residual_backward_cuda(d_da, d_db, d_dout, n, 0);
        float *g_out = download_bf16(d_out, n), *g_da = download_bf16(d_da, n), *g_db = download_bf16(d_db, n);
        // a sum of two bf16 values, rounded once: exact to the half-ulp, no atol needed
        compare("residual out", g_out, out, n, BF16_RTOL, 0);
        compare("residual da", g_da, da, n, BF16_RTOL, 0);
        compare("residual db", g_db, db, n, BF16_RTOL, 0);
        cudaFree(d_a), cudaFree(d_b), cudaFree(d_dout), cudaFree(d_da), cudaFree(d_db), cudaFree(d_out);
        free(a), free(b), free(dout), free(da), free(db), free(out), free(g_out), free(g_da), free(g_db);
    }
}

// ---- residual + norm, fused ---------------------------------------------------------------
// multiples of 2^-6 below 2 in magnitude have 7 significant bits, so the sum of two has
// at most 8 and is exact in bf16: the CPU twin's fp32 residual is then the GPU's
static float *grid_floats(size_t n) {
    float *x = (float *)xmalloc(n * sizeof(float) + 1);
    for (size_t i = 0; i < n; i++) x[i] = (float)((int)(rng_next(&rng_state) % 255) - 127) / 64;
    return x;
}

// the device outputs of residual + norm (mean unused by rmsnorm)
struct ResidualNormOut {
    floatX *residual, *out;
    float *mean, *rstd;
};

static ResidualNormOut residual_norm_alloc(int N, int C) {
    ResidualNormOut o;
    size_t n = (size_t)N * C;
    CUDA_CHECK(cudaMalloc(&o.residual, n * sizeof(floatX)));
    CUDA_CHECK(cudaMalloc(&o.out, n * sizeof(floatX)));
    CUDA_CHECK(cudaMalloc(&o.mean, N * sizeof(float)));
    CUDA_CHECK(cudaMalloc(&o.rstd, N * sizeof(float)));
    CUDA_CHECK(cudaMemset(o.mean, 0, N * sizeof(float)));
    return o;
}

static void residual_norm_free(ResidualNormOut o) {
    cudaFree(o.residual), cudaFree(o.out), cudaFree(o.mean), cudaFree(o.rstd);
}

// fused = 1: the fused kernel; 0: residual_forward_cuda, then the plain norm on its output
static void residual_norm_run(ResidualNormOut o, const floatX *a, const floatX *b, const floatX *w,
                              const floatX *bias, int N, int C, int rms, int fused) {
    if (fused && rms) residual_rmsnorm_forward_cuda(o.residual, o.out, o.rstd, a, b, w, N, C, 1e-5f, 0);
    else if (fused) residual_layernorm_forward_cuda(o.residual, o.out, o.mean, o.rstd, a, b, w, bias, N, C, 1e-5f, 0);
    else {
        residual_forward_cuda(o.residual, a, b, (size_t)N * C, 0);
        if (rms) rmsnorm_forward_cuda(o.out, o.rstd, o.residual, w, N, C, 1e-5f, 0);
        else layernorm_forward_cuda(o.out, o.mean, o.rstd, o.residual, w, bias, N, C, 1e-5f, 0);
    }
}

static void residual_norm_same(const char *what, ResidualNormOut x, ResidualNormOut y, int N, int C) {
    size_t n = (size_t)N * C;
    const void *bufs[4][2] = {{x.residual, y.residual}, {x.out, y.out}, {x.mean, y.mean}, {x.rstd, y.rstd}};
    size_t bytes[4] = {n * sizeof(floatX), n * sizeof(floatX), N * sizeof(float), N * sizeof(float)};
    for (int k = 0; k < 4; k++) {
        char *hx = download((const char *)bufs[k][0], bytes[k]), *hy = download((const char *)bufs[k][1], bytes[k]);
        check_same(what, hx, hy, bytes[k]);
        free(hx), free(hy);
    }
}

static void residual_norm_case(int N, int C, int rms) {
    size_t n = (size_t)N * C;
    const char *name = rms ? "residual_rmsnorm" : "residual_layernorm";
    char what[96];
    float *a = grid_floats(n), *b = grid_floats(n), *w = random_floats(C, 1), *bias = random_floats(C, 0.5f);
    floatX *d_a = upload_bf16(a, n), *d_b = upload_bf16(b, n), *d_w = upload_bf16(w, C), *d_bias = upload_bf16(bias, C);
    ResidualNormOut fused = residual_norm_alloc(N, C), again = residual_norm_alloc(N, C);
    ResidualNormOut pair = residual_norm_alloc(N, C);

    float *res = (float *)xmalloc(n * sizeof(float)), *out = (float *)xmalloc(n * sizeof(float));
    float *mean = (float *)xcalloc(N, sizeof(float)), *rstd = (float *)xmalloc(N * sizeof(float));
    if (rms) residual_rmsnorm_forward(res, out, rstd, a, b, w, N, C, 1e-5f);
    else residual_layernorm_forward(res, out, mean, rstd, a, b, w, bias, N, C, 1e-5f);
    residual_norm_run(fused, d_a, d_b, d_w, d_bias, N, C, rms, 1);
    float *g_res = download_bf16(fused.residual, n), *g_out = download_bf16(fused.out, n);
    float *g_mean = download(fused.mean, N), *g_rstd = download(fused.rstd, N);
    // on the grid the sum is exact on both sides: no tolerance
    snprintf(what, sizeof what, "%s residual", name);
    compare(what, g_res, res, n, 0, 0);
    // the norm of the same residual: the plain norms' tolerances (norm_case)
    snprintf(what, sizeof what, "%s out", name);
    compare(what, g_out, out, n, BF16_RTOL, 1.0 / 512);
    snprintf(what, sizeof what, "%s rstd", name);
    compare(what, g_rstd, rstd, N, FP32_RTOL, 0);
    if (!rms) compare("residual_layernorm mean", g_mean, mean, N, FP32_RTOL, 1e-6);

    // off the grid the sum is rounded to bf16: the fused kernel still gives the bits of
    // the two kernels it replaces (what the backward's recompute relies on), every time
    cudaFree(d_a), cudaFree(d_b), free(a), free(b);
    a = random_floats(n, 2), b = random_floats(n, 2);
    d_a = upload_bf16(a, n), d_b = upload_bf16(b, n);
    residual_norm_run(fused, d_a, d_b, d_w, d_bias, N, C, rms, 1);
    residual_norm_run(again, d_a, d_b, d_w, d_bias, N, C, rms, 1);
    residual_norm_run(pair, d_a, d_b, d_w, d_bias, N, C, rms, 0);
    snprintf(what, sizeof what, "%s (%d x %d) vs residual then norm", name, N, C);
    residual_norm_same(what, fused, pair, N, C);
    snprintf(what, sizeof what, "%s (%d x %d)", name, N, C);
    residual_norm_same(what, fused, again, N, C);

    residual_norm_free(fused), residual_norm_free(again), residual_norm_free(pair);
    cudaFree(d_a), cudaFree(d_b), cudaFree(d_w), cudaFree(d_bias);
    free(a), free(b), free(w), free(bias), free(res), free(out), free(mean), free(rstd);
    free(g_res), free(g_out), free(g_mean), free(g_rstd);
}

// odd C and C not a multiple of 8 (scalar path), N = 1, GPT-2 and Llama widths, 4096
// channels (6 rows per block), N not a multiple of the rows per block, and rows wider
// than the kernel's shared memory (the two-kernel fallback)
static void test_residual_norm(void) {
    for (int rms = 0; rms <= 1; rms++) {
        residual_norm_case(1, 37, rms);
        residual_norm_case(5, 100, rms);
        residual_norm_case(197, 768, rms);
        residual_norm_case(67, 2048, rms);
        residual_norm_case(13, 4096, rms);
        residual_norm_case(3, 24584, rms);
    }
}

// ---- classifier --------------------------------------------------------------------------
static void classifier_case(int N, int V, int Vp) {
    size_t n = (size_t)N * Vp;
    float *logits = random_floats(n, 6);
    int *targets = (int *)xmalloc(N * sizeof(int));
    for (int i = 0; i < N; i++) targets[i] = i % 4 == 3 ? -1 : (int)(rng_next(&rng_state) % V);
    floatX *d_logits = upload_bf16(logits, n);
    int *d_targets = upload(targets, N);
    float *d_losses, dloss = 1.0f / N;
    CUDA_CHECK(cudaMalloc(&d_losses, N * sizeof(float)));

    // evaluation: losses only, logits untouched
    float *before = download_bf16(d_logits, n);
    classifier_fused_cuda(d_losses, d_logits, d_targets, dloss, N, V, Vp, 0, 0);
    float *after = download_bf16(d_logits, n);
    check_same("classifier logits with backward = 0", before, after, n * sizeof(float));

    float *losses = (float *)xmalloc(N * sizeof(float)), *dlogits = (float *)xcalloc(n, sizeof(float));
    classifier_fused_cuda(d_losses, d_logits, d_targets, dloss, N, V, Vp, 1, 0);
    float *g_losses = download(d_losses, N), *g_dlogits = download_bf16(d_logits, n);
    classifier_forward(losses, logits, targets, N, V, Vp);
    classifier_backward(dlogits, logits, targets, dloss, N, V, Vp);
    // losses are log-sum-exp minus a logit: fp32, absolute error of a few ulp of ~10
    compare("classifier losses", g_losses, losses, N, FP32_RTOL, 1e-5);
    // (softmax - onehot) / N: the softmax part has fp32 exp error relative to itself;
    // softmax - 1 at the target cancels: 1e-6 of the max (~1/N) covers a few ulp of 1/N
    compare("classifier dlogits", g_dlogits, dlogits, n, BF16_RTOL, 1e-6);
    cudaFree(d_logits), cudaFree(d_targets), cudaFree(d_losses);
    free(logits), free(targets), free(before), free(after), free(losses), free(dlogits), free(g_losses);
    free(g_dlogits);
}

static void test_classifier(void) {
    classifier_case(4, 10, 10);
    classifier_case(9, 1001, 1001);    // odd vocabulary, no padding: scalar path
    classifier_case(8, 5000, 5008);    // padded to a multiple of 8
}

// ---- adamw -----------------------------------------------------------------------------
static void test_adamw(void) {
    size_t n = 10007;
    float lr = 1e-3f, b1 = 0.9f, b2 = 0.95f, eps = 1e-8f, wd = 0.1f;
    float *params = random_floats(n, 1), *grads = random_floats(n, 0.1f);
    float *m = random_floats(n, 0.01f), *v = random_floats(n, 0.01f);
    for (size_t i = 0; i < n; i++) v[i] = fabsf(v[i]);
    float *d_master = upload(params, n), *d_grads = upload(grads, n), *d_m = upload(m, n), *d_v = upload(v, n);
    floatX *d_params;
    CUDA_CHECK(cudaMalloc(&d_params, n * sizeof(floatX)));
    adamw_update(params, grads, m, v, n, lr, b1, b2, eps, wd, 7);
    adamw_update_cuda(d_params, d_master, d_grads, d_m, d_v, n, lr, b1, b2, eps, wd, 7, NULL, 0, 0, 0);
    float *g_master = download(d_master, n), *g_m = download(d_m, n), *g_v = download(d_v, n);
    float *g_params = download_bf16(d_params, n);
    // one step of float arithmetic on both sides: a few ulp
    compare("adamw master", g_master, params, n, 1e-6, 1e-7);
    // m can be a small difference of beta1 m and (1 - beta1) g: atol 1e-6 of the max
    compare("adamw m", g_m, m, n, 1e-6, 1e-6);
    compare("adamw v", g_v, v, n, 1e-6, 1e-6);
    size_t wrong = 0;
    for (size_t i = 0; i < n; i++) wrong += g_params[i] != __bfloat162float(__float2bfloat16(g_master[i]));
    CHECK(wrong == 0, "adamw: %zu bf16 params are not the master weights rounded to nearest", wrong);

    // clipping through grad_scale: the same as scaling the gradients first
    float scale = 0.25f, *d_scale = upload(&scale, 1);
    for (size_t i = 0; i < n; i++) grads[i] *= scale;
    adamw_update(params, grads, m, v, n, lr, b1, b2, eps, wd, 8);
    adamw_update_cuda(d_params, d_master, d_grads, d_m, d_v, n, lr, b1, b2, eps, wd, 8, d_scale, 0, 0, 0);
    free(g_master);
    g_master = download(d_master, n);
    compare("adamw master, grad_scale", g_master, params, n, 1e-6, 1e-7);
    cudaFree(d_master), cudaFree(d_grads), cudaFree(d_m), cudaFree(d_v), cudaFree(d_params), cudaFree(d_scale);
    free(params), free(grads), free(m), free(v), free(g_master), free(g_m), free(g_v), free(g_params);
}

// stochastic rounding: each result is one of the two neighbours, up with the
// probability of the distance (1/3 here), and the same seed gives the same bits
static void test_adamw_stochastic_rounding(void) {
    size_t n = 1 << 16;
    float x = 1.0f + 1.0f / 384;   // bf16 spacing at 1 is 1/128: a third of the way up
    float *master = (float *)xmalloc(n * sizeof(float)), *zeros = (float *)xcalloc(n, sizeof(float));
    for (size_t i = 0; i < n; i++) master[i] = x;
    float *runs[2];
    for (int run = 0; run < 2; run++) {
        float *d_master = upload(master, n), *d_zero = upload(zeros, n), *d_m = upload(zeros, n);
        float *d_v = upload(zeros, n);
        floatX *d_params;
        CUDA_CHECK(cudaMalloc(&d_params, n * sizeof(floatX)));
        // zero gradient and lr 0: the master weight stays x, only the rounding acts
        adamw_update_cuda(d_params, d_master, d_zero, d_m, d_v, n, 0.0f, 0.9f, 0.95f, 1e-8f, 0.0f, 1, NULL, 1234, 0, 0);
        runs[run] = download_bf16(d_params, n);
        cudaFree(d_master), cudaFree(d_zero), cudaFree(d_m), cudaFree(d_v), cudaFree(d_params);
    }
    size_t up = 0, other = 0;
    for (size_t i = 0; i < n; i++) {
        if (runs[0][i] == 1.0f + 1.0f / 128) up++;
        else if (runs[0][i] != 1.0f) other++;
    }
    double frac = (double)up / n, sigma = sqrt(1.0 / 3 * 2.0 / 3 / n);
    CHECK(other == 0, "%zu values are neither neighbour", other);
    CHECK(fabs(frac - 1.0 / 3) < 6 * sigma, "rounded up %.4f of the time, expected 1/3 (6 sigma = %.4f)", frac,
          6 * sigma);
    check_same("stochastic rounding", runs[0], runs[1], n * sizeof(float));
    free(master), free(zeros), free(runs[0]), free(runs[1]);
}

// adamw_step_cuda over a ZeRO-like range cutting through tensors, with a decay mask,
// against adamw_update on the same pieces (optimizer_step's loop on the CPU side)
static void test_adamw_step_range(void) {
    size_t offsets[] = {0, 100, 1100, 1133, 3000};
    int ntensors = 4;
    unsigned mask = 0x5;   // tensors 0 and 2 decay
    size_t total = offsets[ntensors], begin = 50, end = 1120;
    float *params = random_floats(total, 1), *grads = random_floats(total, 0.1f);
    float *m = (float *)xcalloc(end - begin, sizeof(float)), *v = (float *)xcalloc(end - begin, sizeof(float));
    floatX *d_params = upload_bf16(params, total);
    float *d_master = upload(params + begin, end - begin), *d_grads = upload(grads, total);
    float *d_m = upload(m, end - begin), *d_v = upload(v, end - begin);
    adamw_step_cuda(d_params, d_master, d_grads, d_m, d_v, begin, end, offsets, ntensors, mask, 1e-2f, 0.9f, 0.95f,
                    1e-8f, 0.1f, 1, NULL, 0, 0);
    float *expect = (float *)xmalloc(total * sizeof(float));
    memcpy(expect, params, total * sizeof(float));
    for (int i = 0; i < ntensors; i++) {
        size_t lo = offsets[i] > begin ? offsets[i] : begin, hi = offsets[i + 1] < end ? offsets[i + 1] : end;
        if (lo < hi)
            adamw_update(expect + lo, grads + lo, m + (lo - begin), v + (lo - begin), hi - lo, 1e-2f, 0.9f, 0.95f,
                         1e-8f, (mask >> i & 1) ? 0.1f : 0.0f, 1);
    }
    float *g_master = download(d_master, end - begin), *g_params = download_bf16(d_params, total);
    compare("adamw_step master", g_master, expect + begin, end - begin, 1e-6, 1e-7);
    size_t touched_outside = 0;
    for (size_t i = 0; i < total; i++)
        if ((i < begin || i >= end) && g_params[i] != params[i]) touched_outside++;
    CHECK(touched_outside == 0, "%zu params outside [%zu, %zu) changed", touched_outside, begin, end);

    // the one launch gives the bits of one adamw_update_cuda launch per tensor piece
    // (stochastic rounding on: its random bits follow the global index)
    floatX *d_params2 = upload_bf16(params, total);
    float *d_master2 = upload(params + begin, end - begin), *d_m2 = upload(m, end - begin);
    float *d_v2 = upload(v, end - begin);
    CUDA_CHECK(cudaMemcpy(d_master, d_master2, (end - begin) * sizeof(float), cudaMemcpyDeviceToDevice));
    CUDA_CHECK(cudaMemcpy(d_m, d_m2, (end - begin) * sizeof(float), cudaMemcpyDeviceToDevice));
    CUDA_CHECK(cudaMemcpy(d_v, d_v2, (end - begin) * sizeof(float), cudaMemcpyDeviceToDevice));
    adamw_step_cuda(d_params, d_master, d_grads, d_m, d_v, begin, end, offsets, ntensors, mask, 1e-2f, 0.9f, 0.95f,
                    1e-8f, 0.1f, 3, NULL, 99, 0);
    for (int i = 0; i < ntensors; i++) {
        size_t lo = offsets[i] > begin ? offsets[i] : begin, hi = offsets[i + 1] < end ? offsets[i + 1] : end;
        if (lo < hi)
            adamw_update_cuda(d_params2 + lo, d_master2 + (lo - begin), d_grads + lo, d_m2 + (lo - begin),
                              d_v2 + (lo - begin), hi - lo, 1e-2f, 0.9f, 0.95f, 1e-8f, (mask >> i & 1) ? 0.1f : 0.0f,
                              3, NULL, 99, lo, 0);
    }
    float *one[2] = {download(d_master, end - begin), download(d_m, end - begin)};
    float *each[2] = {download(d_master2, end - begin), download(d_m2, end - begin)};
    floatX *one_params = download(d_params, total), *each_params = download(d_params2, total);
    check_same("adamw_step master: one launch vs one per tensor", one[0], each[0], (end - begin) * sizeof(float));
    check_same("adamw_step m: one launch vs one per tensor", one[1], each[1], (end - begin) * sizeof(float));
    check_same("adamw_step params: one launch vs one per tensor", one_params, each_params, total * sizeof(floatX));

    cudaFree(d_params), cudaFree(d_master), cudaFree(d_grads), cudaFree(d_m), cudaFree(d_v);
    cudaFree(d_params2), cudaFree(d_master2), cudaFree(d_m2), cudaFree(d_v2);
    free(params), free(grads), free(m), free(v), free(expect), free(g_master), free(g_params);
    free(one[0]), free(one[1]), free(each[0]), free(each[1]), free(one_params), free(each_params);
}

// ---- global norm -----------------------------------------------------------------------
static void test_global_norm(void) {
    size_t sizes[] = {1, 1000, 3 * 512 * 256 + 77};
    void *scratch = scratch_of(global_norm_scratch_bytes());
    double *d_sumsq;
    float *d_scale, *d_norm;
    CUDA_CHECK(cudaMalloc(&d_sumsq, sizeof(double)));
    CUDA_CHECK(cudaMalloc(&d_scale, sizeof(float)));
    CUDA_CHECK(cudaMalloc(&d_norm, sizeof(float)));
    for (int s = 0; s < 3; s++) {
        size_t n = sizes[s];
        float *x = random_floats(n, 1), *d_x = upload(x, n);
        double got[2];
        for (int run = 0; run < 2; run++) {
            global_norm_squared_cuda(d_sumsq, d_x, n, scratch, 0);
            CUDA_CHECK(cudaMemcpy(&got[run], d_sumsq, sizeof(double), cudaMemcpyDeviceToHost));
        }
        double ref = sum_squares(x, n);
        // double sums of the same float squares in another order: ~1e-15 relative
        CHECK(fabs(got[0] - ref) <= 1e-12 * ref, "sum of squares %.17g vs %.17g", got[0], ref);
        check_same("global norm", &got[0], &got[1], sizeof(double));
        // clip: a max_norm of half the norm scales by ~1/2, one above it leaves 1
        float norm = (float)sqrt(ref), scale, g_norm;
        clip_scale_cuda(d_scale, d_norm, d_sumsq, norm / 2, NULL, NULL, 0);
        CUDA_CHECK(cudaMemcpy(&scale, d_scale, sizeof(float), cudaMemcpyDeviceToHost));
        CUDA_CHECK(cudaMemcpy(&g_norm, d_norm, sizeof(float), cudaMemcpyDeviceToHost));
        CHECK_NEAR(g_norm, norm, 1e-6 * norm, "norm");
        CHECK_NEAR(scale, (norm / 2) / (norm + 1e-6f), 1e-6, "clip scale");
        clip_scale_cuda(d_scale, d_norm, d_sumsq, norm * 2, NULL, NULL, 0);
        CUDA_CHECK(cudaMemcpy(&scale, d_scale, sizeof(float), cudaMemcpyDeviceToHost));
        CHECK(scale == 1.0f, "no clipping below max_norm: scale %g", scale);
        cudaFree(d_x);
        free(x);
    }
    cudaFree(scratch), cudaFree(d_sumsq), cudaFree(d_scale), cudaFree(d_norm);
}

// The guard of a step the host has not read back: a non-finite loss or norm sets the
// sticky flag and a NaN scale, adamw then leaves master weights, moments and params
// as they were, and a later finite step stays skipped until the host clears the flag.
static void test_step_guard(void) {
    size_t n = 1000;
    float *w = random_floats(n, 1), *g = random_floats(n, 0.1f), *zeros = (float *)xcalloc(n, sizeof(float));
    floatX *d_params = upload_bf16(w, n);
    float *d_master = upload(w, n), *d_grads = upload(g, n), *d_m = upload(zeros, n), *d_v = upload(zeros, n);
    float *d_scale, *d_norm;
    double *d_sumsq, *d_loss, good = 4.0, bad = NAN, inf = INFINITY;
    int *d_failed, failed = 0;
    CUDA_CHECK(cudaMalloc(&d_scale, sizeof(float)));
    CUDA_CHECK(cudaMalloc(&d_norm, sizeof(float)));
    CUDA_CHECK(cudaMalloc(&d_sumsq, sizeof(double)));
    CUDA_CHECK(cudaMalloc(&d_loss, sizeof(double)));
    CUDA_CHECK(cudaMalloc(&d_failed, sizeof(int)));
    CUDA_CHECK(cudaMemset(d_failed, 0, sizeof(int)));
    size_t offsets[] = {0, n};
    struct { const double *sumsq, *loss; int failed; const char *what; } cases[] = {
        {&good, &good, 0, "finite loss and norm: the step is taken"},
        {&good, &bad, 1, "NaN loss: skipped"},
        {&good, &good, 1, "the flag is sticky: a finite step after a bad one is skipped too"},
        {&inf, &good, 1, "infinite norm: skipped"},
    };
    for (int c = 0; c < 4; c++) {
        if (c == 3) CUDA_CHECK(cudaMemset(d_failed, 0, sizeof(int)));
        CUDA_CHECK(cudaMemcpy(d_sumsq, cases[c].sumsq, sizeof(double), cudaMemcpyHostToDevice));
        CUDA_CHECK(cudaMemcpy(d_loss, cases[c].loss, sizeof(double), cudaMemcpyHostToDevice));
        float *before = download(d_master, n);
        clip_scale_cuda(d_scale, d_norm, d_sumsq, 1.0f, d_loss, d_failed, 0);
        adamw_step_cuda(d_params, d_master, d_grads, d_m, d_v, 0, n, offsets, 1, 1, 1e-2f, 0.9f, 0.95f, 1e-8f, 0.1f,
                        c + 1, d_scale, 0, 0);
        float *after = download(d_master, n), *m = download(d_m, n);
        CUDA_CHECK(cudaMemcpy(&failed, d_failed, sizeof(int), cudaMemcpyDeviceToHost));
        int changed = memcmp(before, after, n * sizeof(float)) != 0, finite = 1;
        for (size_t i = 0; i < n; i++) finite &= isfinite(after[i]) && isfinite(m[i]);
        CHECK(failed == cases[c].failed && changed == !cases[c].failed && finite,
              "%s: failed flag %d, weights %s, all finite %d", cases[c].what, failed, changed ? "moved" : "unchanged",
              finite);
        free(before), free(after), free(m);
    }
    cudaFree(d_params), cudaFree(d_master), cudaFree(d_grads), cudaFree(d_m), cudaFree(d_v);
    cudaFree(d_scale), cudaFree(d_norm), cudaFree(d_sumsq), cudaFree(d_loss), cudaFree(d_failed);
    free(w), free(g), free(zeros);
}

// the loss sum the step keeps on the device: it adds, and gives the same bits twice
static void test_loss_sum(void) {
    int sizes[] = {1, 1000, 64 * 1024 + 3};
    for (int k = 0; k < 3; k++) {
        int N = sizes[k];
        float *losses = random_floats(N, 5), *d_losses = upload(losses, N);
        double start = 1.5, got[2], *d_acc;
        CUDA_CHECK(cudaMalloc(&d_acc, sizeof(double)));
        for (int run = 0; run < 2; run++) {
            CUDA_CHECK(cudaMemcpy(d_acc, &start, sizeof(double), cudaMemcpyHostToDevice));
            loss_sum_cuda(d_acc, d_losses, N, 0);
            CUDA_CHECK(cudaMemcpy(&got[run], d_acc, sizeof(double), cudaMemcpyDeviceToHost));
        }
        double ref = start, mag = start;
        for (int i = 0; i < N; i++) ref += losses[i], mag += fabs(losses[i]);
        // double sums of the same floats in another order: N u_double |terms|
        CHECK(fabs(got[0] - ref) <= 1e-13 * mag, "N = %d: loss sum %.17g vs %.17g", N, got[0], ref);
        check_same("loss sum", &got[0], &got[1], sizeof(double));
        cudaFree(d_losses), cudaFree(d_acc);
        free(losses);
    }
}

int main(int argc, char **argv) {
    int devices = 0;
    cudaError_t err = cudaGetDeviceCount(&devices);
    if (argc > 1 && strcmp(argv[1], "--probe") == 0) return err == cudaSuccess && devices > 0 ? 0 : 1;
    if (err != cudaSuccess || devices == 0)
        return test_no_gpu(err != cudaSuccess ? cudaGetErrorString(err) : "none visible");
    if (argc > 1) test_filter = argv[1];   // e.g. `test_kernels_gpu rope` under racecheck
    cudaDeviceProp prop;
    CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
    printf("device: %s (sm_%d%d)\n", prop.name, prop.major, prop.minor);
    RUN_TEST(test_encoder);
    RUN_TEST(test_layernorm);
    RUN_TEST(test_rmsnorm);
    RUN_TEST(test_rope);
    RUN_TEST(test_attention);
    RUN_TEST(test_gelu);
    RUN_TEST(test_swiglu);
    RUN_TEST(test_residual);
    RUN_TEST(test_residual_norm);
    RUN_TEST(test_classifier);
    RUN_TEST(test_adamw);
    RUN_TEST(test_adamw_stochastic_rounding);
    RUN_TEST(test_adamw_step_range);
    RUN_TEST(test_global_norm);
    RUN_TEST(test_step_guard);
    RUN_TEST(test_loss_sum);
    CUDA_CHECK(cudaDeviceSynchronize());
    return test_summary();
}
