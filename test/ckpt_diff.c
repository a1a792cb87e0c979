// Test helper: compares two checkpoints tensor by tensor.
//   ckpt_diff A B PREFIX TOLERANCE
// Over every F32 tensor whose name starts with PREFIX ("model." for the weights,
// "" for everything), prints the largest absolute difference and where it is;
// exits 0 when it is at most TOLERANCE, 1 when above, 2 when the files differ in
// their tensor names or shapes.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "safetensors.h"
#include "util.h"

int main(int argc, char **argv) {
    if (argc != 5) die("usage: ckpt_diff A B PREFIX TOLERANCE");
    SafeTensors a, b;
    if (st_open(&a, argv[1]) != 0 || st_open(&b, argv[2]) != 0) die("%s", scpt_error());
    double worst = 0, tol = atof(argv[4]);
    const char *where = "nothing";
    int compared = 0;
    for (int i = 0; i < a.num_tensors; i++) {
        const StTensor *ta = &a.tensors[i], *tb = st_find(&b, ta->name);
        if (strncmp(ta->name, argv[3], strlen(argv[3])) != 0 || ta->dtype != ST_F32) continue;
        if (!tb || tb->dtype != ST_F32 || tb->numel != ta->numel) {
            printf("ckpt_diff: %s is missing or shaped differently in %s\n", ta->name, argv[2]);
            return 2;
        }
        const float *x = (const float *)ta->data, *y = (const float *)tb->data;
        for (size_t k = 0; k < ta->numel; k++) {
            double d = fabs((double)x[k] - y[k]);
            if (!(d <= worst)) worst = d, where = ta->name;   // a NaN counts as worst
        }
        compared++;
    }
    printf("ckpt_diff: %d tensors, max |a-b| = %.3g in %s (tolerance %g)\n", compared, worst, where, tol);
    st_close(&a);
    st_close(&b);
    return compared > 0 && worst <= tol ? 0 : 1;
}
