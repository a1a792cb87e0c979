// Global gradient norm on the GPU (CPU twins: sum_squares in src/model/global_norm.c,
// clip_gradients in src/model/optim.c). Deterministic: a fixed grid (independent of the
// device) whose blocks sum fixed element sets, then one thread adds the block
// partials in order. Accumulated in double like the CPU twin.
#include "common.cuh"

enum { GN_BLOCKS = 512, GN_THREADS = 256 };

__global__ void global_norm_partial_kernel(double *partial, const float *x, size_t n) {
    __shared__ double acc[GN_THREADS];
    double s = 0;
    for (size_t i = (size_t)blockIdx.x * GN_THREADS + threadIdx.x; i < n; i += (size_t)GN_BLOCKS * GN_THREADS)
        s += (double)x[i] * x[i];
    acc[threadIdx.x] = s;
    __syncthreads();
    for (int stride = GN_THREADS / 2; stride > 0; stride /= 2) {   // fixed tree order
        if (threadIdx.x < stride) acc[threadIdx.x] += acc[threadIdx.x + stride];
        __syncthreads();
    }
    if (threadIdx.x == 0) partial[blockIdx.x] = acc[0];
}

__global__ void global_norm_finish_kernel(double *out, const double *partial) {
    double s = 0;
    for (int b = 0; b < GN_BLOCKS; b++) s += partial[b];
    *out = s;
}

size_t global_norm_scratch_bytes(void) { return GN_BLOCKS * sizeof(double); }

void global_norm_squared_cuda(double *out, const float *x, size_t n, void *scratch, cudaStream_t stream) {
    double *partial = (double *)scratch;
    global_norm_partial_kernel<<<GN_BLOCKS, GN_THREADS, 0, stream>>>(partial, x, n);
    CUDA_CHECK_LAUNCH();
    global_norm_finish_kernel<<<1, 1, 0, stream>>>(out, partial);
    CUDA_CHECK_LAUNCH();
}

__global__ void clip_scale_kernel(float *scale, float *norm, const double *sumsq, float max_norm, const double *loss,
                                  int *failed) {
    float nrm = (float)sqrt(*sumsq);
    *norm = nrm;
    if (failed && (!isfinite(nrm) || (loss && !isfinite(*loss)))) *failed = 1;
    if (failed && *failed) *scale = NAN;
    else *scale = max_norm > 0 && nrm > max_norm ? max_norm / (nrm + 1e-6f) : 1.0f;
}

void clip_scale_cuda(float *scale, float *norm, const double *sumsq, float max_norm, const double *loss, int *failed,
                     cudaStream_t stream) {
    clip_scale_kernel<<<1, 1, 0, stream>>>(scale, norm, sumsq, max_norm, loss, failed);
    CUDA_CHECK_LAUNCH();
}
