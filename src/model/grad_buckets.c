// The model's gradient buckets (include/grad_buckets.h).
#include "grad_buckets.h"

#include <stdlib.h>
#include "util.h"

int grad_bucket_plan(BucketPlan *p, const ModelConfig *c, const ParamTensor *tensors, size_t num_params,
                     size_t padded, const Comm *comm, size_t min_elems) {
    int L = c->n_layer;
    // a range per layer of each layer tensor, one per other tensor, and the padding
    GradRange *ranges = xmalloc(((size_t)NUM_PARAM_TENSORS * L + 2) * sizeof *ranges);
    size_t n = 0;
    for (int t = 0; t < NUM_PARAM_TENSORS; t++) {
        const ParamTensor *x = &tensors[t];
        if (t >= P_LN1W && t <= P_FCPROJB) {
            size_t per = x->size / L;
            for (int l = 0; l < L; l++)
                ranges[n++] = (GradRange){x->offset + l * per, x->offset + (l + 1) * per, GRAD_GROUP_LAYER(c, l)};
        } else {
            int head = t == P_LNFW || t == P_LNFB || t == P_LMHEAD;
            ranges[n++] = (GradRange){x->offset, x->offset + x->size, head ? GRAD_GROUP_HEAD : GRAD_GROUP_EMBEDDINGS(c)};
        }
    }
    ranges[n++] = (GradRange){num_params, padded, GRAD_GROUP_EMBEDDINGS(c)};
    int rc = bucket_plan_build(p, ranges, n, padded, comm, min_elems);
    free(ranges);
    return rc;
}
