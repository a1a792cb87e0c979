// train's choice between the CPU reference path and the GPU model.
#include <string.h>
#include "model_cuda.h"
#include "util.h"

GpuModel *gpu_model_select(const char *device, const Model *m, const OptimizerState *opt, int B, int T,
                           const GpuOptions *o) {
    if (strcmp(device, "cpu") == 0) {
        printf("device: cpu (--device cpu)\n");
        return NULL;
    }
    int want_cuda = strcmp(device, "cuda") == 0;
    if (!want_cuda && strcmp(device, "auto") != 0) die("--device must be auto, cpu or cuda, not '%s'", device);
    char why[256];
    if (!gpu_device_probe(why, sizeof why)) {
        if (want_cuda) die("--device cuda: no CUDA device (%s)", why);
        printf("device: cpu (no CUDA device: %s)\n", why);
        return NULL;
    }
    GpuModel *g = gpu_model_create(m, opt, B, T, o);
    if (!g) {
        if (want_cuda) die("%s", scpt_error());
        printf("device: cpu (%s)\n", scpt_error());
        return NULL;
    }
    gpu_model_print_memory(g);
    return g;
}
