// Shared by the kernel benchmarks in dev/cuda (llm.c's dev/cuda in spirit): device
// query and peaks, random device buffers, timing with CUDA events, and one report
// line per measurement: time, achieved GB/s or TFLOP/s, % of the card's peak, and
// the ratio to a reference measured in the same run (a device-to-device copy of
// the same number of bytes for memory-bound kernels).
#ifndef SCPT_DEV_CUDA_BENCH_H
#define SCPT_DEV_CUDA_BENCH_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kernels.h"
#include "common.cuh"

static double peak_bytes_per_s, peak_bf16_flops;

// Peak bandwidth from the memory clock and bus width (two transfers per clock).
// Dense bf16 tensor-core peak: NVIDIA's figures for the Hopper parts (989.4
// TFLOP/s for H100 SXM and H200, both 132 SMs at a 1830 MHz boost; 756 for H100
// PCIe, 114 SMs at 1755 MHz), else SMs x clock x dense bf16 FLOP per SM per clock
// (2048 for sm_80: A100's 312 TFLOP/s = 108 x 1410 MHz x 2048; 4096 for sm_90).
static void bench_init(const char *name) {
    int devices = 0;
    cudaError_t err = cudaGetDeviceCount(&devices);
    if (err != cudaSuccess || devices == 0) {
        fprintf(stderr, "%s: no CUDA device (%s): nothing to measure\n", name,
                err != cudaSuccess ? cudaGetErrorString(err) : "none visible");
        exit(1);
    }
    cudaDeviceProp prop;
    int mem_khz, bus_bits, sm_khz;
    CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
    CUDA_CHECK(cudaDeviceGetAttribute(&mem_khz, cudaDevAttrMemoryClockRate, 0));
    CUDA_CHECK(cudaDeviceGetAttribute(&bus_bits, cudaDevAttrGlobalMemoryBusWidth, 0));
    CUDA_CHECK(cudaDeviceGetAttribute(&sm_khz, cudaDevAttrClockRate, 0));
    peak_bytes_per_s = 2.0 * mem_khz * 1e3 * bus_bits / 8;
    int sms = prop.multiProcessorCount;
    if (prop.major == 9 && sms == 132) peak_bf16_flops = 989.4e12;
    else if (prop.major == 9 && sms == 114) peak_bf16_flops = 756.0e12;
    else peak_bf16_flops = (double)sms * sm_khz * 1e3 * (prop.major >= 9 ? 4096 : 2048);
    printf("%s on %s (sm_%d%d, %d SMs): peak %.0f GB/s, %.0f TFLOP/s bf16 dense\n", name, prop.name, prop.major,
           prop.minor, sms, peak_bytes_per_s / 1e9, peak_bf16_flops / 1e12);
}

// Runs body(v) for the version given as the first argument (llm.c style), or for
// every version 1..count when there is none; names[v - 1] says what v is.
template <typename F> static void for_versions(int argc, char **argv, int count, const char *const *names, F body) {
    int chosen = argc > 1 ? atoi(argv[1]) : 0;
    if (chosen < 0 || chosen > count) {
        fprintf(stderr, "usage: %s [version 1..%d, default all]\n", argv[0], count);
        exit(1);
    }
    for (int v = 1; v <= count; v++) {
        if (chosen && v != chosen) continue;
        printf("version %d: %s\n", v, names[v - 1]);
        body(v);
    }
}

__global__ void fill_random_kernel(floatX *x, size_t n, float scale, uint32_t seed) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    uint32_t h = (uint32_t)(i * 2654435761u) ^ seed;   // a cheap hash: benchmarks need noise, not quality
    h ^= h >> 16, h *= 0x7feb352du, h ^= h >> 15;
    x[i] = __float2bfloat16(scale * ((h & 0xffffff) / 8388608.0f - 1.0f));
}

static floatX *random_bf16(size_t n, float scale) {
    static uint32_t seed = 1;
    floatX *d;
    CUDA_CHECK(cudaMalloc(&d, n * sizeof(floatX) + 16));
    fill_random_kernel<<<ceil_div(n, 256), 256>>>(d, n, scale, seed++);
    CUDA_CHECK_LAUNCH();
    return d;
}

static void *zeros(size_t bytes) {
    void *d;
    CUDA_CHECK(cudaMalloc(&d, bytes + 16));
    CUDA_CHECK(cudaMemset(d, 0, bytes + 16));
    return d;
}

// milliseconds per call of f(), averaged over `repeats` calls after one warm-up
// The memory-bound benchmarks' versions: 1 = the launchers as the model calls them,
// 2 = every pointer one element off alignment (body adds v - 1 to each), which
// measures the scalar fallback that odd shapes take.
static const char *const ALIGNMENT_VERSIONS[] = {"128-bit loads", "misaligned by one element: scalar fallback"};

template <typename F> static float time_ms(F f, int repeats = 20) {
    cudaEvent_t start, stop;
    CUDA_CHECK(cudaEventCreate(&start));
    CUDA_CHECK(cudaEventCreate(&stop));
    f();
    CUDA_CHECK(cudaEventRecord(start));
    for (int i = 0; i < repeats; i++) f();
    CUDA_CHECK(cudaEventRecord(stop));
    CUDA_CHECK(cudaEventSynchronize(stop));
    float ms;
    CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
    CUDA_CHECK(cudaEventDestroy(start));
    CUDA_CHECK(cudaEventDestroy(stop));
    return ms / repeats;
}

// time of a device-to-device copy moving `bytes` in total (bytes/2 read, bytes/2 written)
static float copy_ms(size_t bytes) {
    void *a = zeros(bytes / 2), *b = zeros(bytes / 2);
    float ms = time_ms([&] { CUDA_CHECK(cudaMemcpyAsync(b, a, bytes / 2, cudaMemcpyDeviceToDevice)); });
    CUDA_CHECK(cudaFree(a));
    CUDA_CHECK(cudaFree(b));
    return ms;
}

// a memory-bound kernel: bytes it must move at least, against the copy of as many
static void report_bandwidth(const char *what, float ms, double bytes) {
    double gbs = bytes / (ms * 1e-3) / 1e9;
    printf("  %-40s %9.4f ms %8.1f GB/s %5.1f%% of peak, %.2fx the time of a copy\n", what, ms, gbs,
           100 * gbs * 1e9 / peak_bytes_per_s, ms / copy_ms((size_t)bytes));
}

static void report_flops(const char *what, float ms, double flops) {
    double tf = flops / (ms * 1e-3) / 1e12;
    printf("  %-40s %9.4f ms %8.1f TFLOP/s %5.1f%% of bf16 peak\n", what, ms, tf, 100 * tf * 1e12 / peak_bf16_flops);
}

#endif
