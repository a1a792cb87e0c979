// The GPU model's entry points in a build without nvcc (and in the sanitizer
// build): no device is ever visible, so train stays on the CPU path and the
// other functions cannot be reached.
#include <stdio.h>
#include "model_cuda.h"
#include "util.h"

int gpu_device_probe(char *why, size_t n) {
    snprintf(why, n, "this build has no CUDA support: nvcc was not found, or it is the sanitizer build");
    return 0;
}

int gpu_model_check(const ModelConfig *c, int T) {
    scpt_set_error("model_cuda: this build has no CUDA support");
    return -1;
}

GpuModel *gpu_model_create(const Model *m, const OptimizerState *opt, int B, int T, const GpuOptions *o) {
    scpt_set_error("model_cuda: this build has no CUDA support");
    return NULL;
}

#define UNREACHABLE die("%s: this build has no CUDA support", __func__)
size_t gpu_model_bytes(const GpuModel *g) { UNREACHABLE; }
void gpu_model_print_memory(const GpuModel *g) { UNREACHABLE; }
void gpu_model_forward(GpuModel *g, const int *inputs, const int *targets, int B, int T, float loss_scale) {
    UNREACHABLE;
}
double gpu_model_loss_sum(GpuModel *g) { UNREACHABLE; }
void gpu_model_backward(GpuModel *g, int last_micro) { UNREACHABLE; }
void gpu_model_zero_grad(GpuModel *g) { UNREACHABLE; }
void gpu_model_update(GpuModel *g, const AdamWConfig *cfg, float lr, int t, float max_norm) { UNREACHABLE; }
int gpu_model_step_stats(GpuModel *g, GpuStepStats *out) { UNREACHABLE; }
void gpu_model_download(GpuModel *g, Model *m, OptimizerState *opt) { UNREACHABLE; }
void gpu_model_free(GpuModel *g) {}
