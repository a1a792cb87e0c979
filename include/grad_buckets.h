// The model's gradient buckets (include/buckets.h): which ranges of the flat
// gradient vector the backward pass completes when. Groups, in completion order:
//   0              the final norm and an untied lm head (the first gradients backward writes)
//   n_layer - l    layer l (backward runs layers n_layer - 1 .. 0), GRAD_GROUP_LAYER(c, l)
//   n_layer + 1    the embeddings (wte is complete last: the encoder's backward adds
//                  into it after a tied head's), and the padding [num_params, padded)
#ifndef SCPT_GRAD_BUCKETS_H
#define SCPT_GRAD_BUCKETS_H

#include "buckets.h"
#include "model.h"

#define GRAD_GROUP_HEAD 0
#define GRAD_GROUP_LAYER(c, l) ((c)->n_layer - (l))
#define GRAD_GROUP_EMBEDDINGS(c) ((c)->n_layer + 1)

// the plan over a vector of padded >= num_params elements (tensors as model.h lays
// them out); -1 with scpt_error() as bucket_plan_build
int grad_bucket_plan(BucketPlan *p, const ModelConfig *c, const ParamTensor *tensors, size_t num_params,
                     size_t padded, const Comm *comm, size_t min_elems);

#endif
