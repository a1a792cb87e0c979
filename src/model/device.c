// train's choice between the CPU reference path and the GPU model.
#include <string.h>
#include "model_cuda.h"
#include "util.h"

int gpu_model_wanted(const char *device, const ModelConfig *c, int T) {
    if (strcmp(device, "cpu") == 0) {
        printf("device: cpu (--device cpu)\n");
        return 0;
    }
    int want_cuda = strcmp(device, "cuda") == 0;
    if (!want_cuda && strcmp(device, "auto") != 0) die("--device must be auto, cpu or cuda, not '%s'", device);
    char why[256];
    if (!gpu_device_probe(why, sizeof why)) {
        if (want_cuda) die("--device cuda: no CUDA device (%s)", why);
        printf("device: cpu (no CUDA device: %s)\n", why);
        return 0;
    }
    if (gpu_model_check(c, T) != 0) {
        if (want_cuda) die("--device cuda: %s", scpt_error());
        printf("device: cpu (%s)\n", scpt_error());
        return 0;
    }
    return 1;
}
