// Token and learned-position embeddings on the GPU (CPU twin: src/model/encoder.c).
#include <cub/device/device_radix_sort.cuh>
#include "common.cuh"

// one thread per 8 channels of one position
__global__ void encoder_forward_kernel(floatX *out, const int *tokens, const floatX *wte, const floatX *wpe, int N,
                                       int T, int C, bool vec) {
    int per_row = ceil_div(C, 8);
    size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (size_t)N * per_row) return;
    int n = idx / per_row, c = idx % per_row * 8;
    float e[8], p[8] = {0};
    load8(e, wte + (size_t)tokens[n] * C, c, C, vec);
    if (wpe) load8(p, wpe + (size_t)(n % T) * C, c, C, vec);
    for (int k = 0; k < 8; k++) e[k] += p[k];
    store8(out + (size_t)n * C, e, c, C, vec);
}

void encoder_forward_cuda(floatX *out, const int *tokens, const floatX *wte, const floatX *wpe, int B, int T, int C,
                          cudaStream_t stream) {
    bool vec = C % 8 == 0 && aligned16(out) && aligned16(wte) && (!wpe || aligned16(wpe));
    size_t threads = (size_t)B * T * ceil_div(C, 8);
    encoder_forward_kernel<<<ceil_div(threads, 256), 256, 0, stream>>>(out, tokens, wte, wpe, B * T, T, C, vec);
    CUDA_CHECK_LAUNCH();
}

// dwpe[t,c] += sum over b, in order: one thread per (t, c), no collisions
__global__ void encoder_backward_wpe_kernel(float *dwpe, const floatX *dout, int B, int T, int C) {
    size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (size_t)T * C) return;
    float s = 0;
    for (int b = 0; b < B; b++) s += __bfloat162float(dout[(size_t)b * T * C + idx]);
    dwpe[idx] += s;
}

// fast path: every position adds its row with fp32 atomics (order varies run to run)
__global__ void encoder_backward_wte_atomic_kernel(float *dwte, const floatX *dout, const int *tokens, int N, int C) {
    size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (size_t)N * C) return;
    int n = idx / C, c = idx % C;
    atomicAdd(&dwte[(size_t)tokens[n] * C + c], __bfloat162float(dout[idx]));
}

__global__ void iota_kernel(int *x, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) x[i] = i;
}

// deterministic path: positions sorted by token (stably, so each token's positions
// are in increasing order); the warp at the first position of each token's run
// sums the run channel by channel and adds it once into that token's row
__global__ void encoder_backward_wte_sorted_kernel(float *dwte, const floatX *dout, const int *sorted_tokens,
                                                   const int *sorted_pos, int N, int C) {
    int i = (blockIdx.x * blockDim.x + threadIdx.x) / WARP_SIZE, lane = threadIdx.x % WARP_SIZE;
    if (i >= N || (i > 0 && sorted_tokens[i] == sorted_tokens[i - 1])) return;
    int tok = sorted_tokens[i];
    for (int c = lane; c < C; c += WARP_SIZE) {
        float s = 0;
        for (int j = i; j < N && sorted_tokens[j] == tok; j++)
            s += __bfloat162float(dout[(size_t)sorted_pos[j] * C + c]);
        dwte[(size_t)tok * C + c] += s;
    }
}

// scratch layout: sorted tokens, positions, sorted positions (N ints each, 256-byte
// aligned), then cub's temporary storage
static size_t align256(size_t x) { return (x + 255) & ~(size_t)255; }

static size_t cub_sort_bytes(int N) {
    size_t bytes = 0;
    CUDA_CHECK(cub::DeviceRadixSort::SortPairs(NULL, bytes, (const int *)NULL, (int *)NULL, (const int *)NULL,
                                               (int *)NULL, N));
    return bytes;
}

size_t encoder_backward_scratch_bytes(int B, int T) {
    int N = B * T;
    return 3 * align256(N * sizeof(int)) + cub_sort_bytes(N);
}

void encoder_backward_cuda(float *dwte, float *dwpe, const floatX *dout, const int *tokens, int B, int T, int C,
                           int deterministic, void *scratch, cudaStream_t stream) {
    int N = B * T;
    if (dwpe) {
        encoder_backward_wpe_kernel<<<ceil_div((size_t)T * C, 256), 256, 0, stream>>>(dwpe, dout, B, T, C);
        CUDA_CHECK_LAUNCH();
    }
    if (!deterministic) {
        encoder_backward_wte_atomic_kernel<<<ceil_div((size_t)N * C, 256), 256, 0, stream>>>(dwte, dout, tokens, N, C);
        CUDA_CHECK_LAUNCH();
        return;
    }
    char *s = (char *)scratch;
    int *sorted_tokens = (int *)s, *pos = (int *)(s + align256(N * sizeof(int)));
    int *sorted_pos = (int *)(s + 2 * align256(N * sizeof(int)));
    void *cub_temp = s + 3 * align256(N * sizeof(int));
    size_t cub_bytes = cub_sort_bytes(N);
    iota_kernel<<<ceil_div(N, 256), 256, 0, stream>>>(pos, N);
    CUDA_CHECK_LAUNCH();
    CUDA_CHECK(cub::DeviceRadixSort::SortPairs(cub_temp, cub_bytes, tokens, sorted_tokens, pos, sorted_pos, N, 0,
                                               (int)(8 * sizeof(int)), stream));
    encoder_backward_wte_sorted_kernel<<<ceil_div((size_t)N * WARP_SIZE, 256), 256, 0, stream>>>(
        dwte, dout, sorted_tokens, sorted_pos, N, C);
    CUDA_CHECK_LAUNCH();
}
