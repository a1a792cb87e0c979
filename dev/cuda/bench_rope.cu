// RoPE on Llama 3.2 1B's qkv (B=4, T=2048, NH=32, NKV=8, HS=64), in place.
extern "C" {
#include "layers.h"
}
#include "bench.h"

int main(int argc, char **argv) {
    bench_init("bench_rope");
    int B = 4, T = 2048, NH = 32, NKV = 8, HS = 64;
    size_t n = (size_t)B * T * (NH + 2 * NKV) * HS, rotated = (size_t)B * T * (NH + NKV) * HS;
    floatX *qkv = random_bf16(n, 1);
    size_t table = (size_t)T * HS / 2;
    float *cos_h = (float *)malloc(table * sizeof(float)), *sin_h = (float *)malloc(table * sizeof(float));
    rope_tables(cos_h, sin_h, T, HS, 500000.0, 32.0, 1.0, 4.0, 8192);
    float *cos_t = (float *)zeros(table * sizeof(float)), *sin_t = (float *)zeros(table * sizeof(float));
    CUDA_CHECK(cudaMemcpy(cos_t, cos_h, table * sizeof(float), cudaMemcpyHostToDevice));
    CUDA_CHECK(cudaMemcpy(sin_t, sin_h, table * sizeof(float), cudaMemcpyHostToDevice));
    static const char *const names[] = {"one thread per pair, bf16x2 accesses"};
    for_versions(argc, argv, 1, names, [&](int v) {
        // reads and writes the q and k heads
        double bytes = 2.0 * rotated * 2;
        report_bandwidth("rope_forward", time_ms([&] { rope_forward_cuda(qkv, cos_t, sin_t, B, T, NH, NKV, HS, 0); }),
                         bytes);
        report_bandwidth("rope_backward", time_ms([&] { rope_backward_cuda(qkv, cos_t, sin_t, B, T, NH, NKV, HS, 0); }),
                         bytes);
    });
    return 0;
}
