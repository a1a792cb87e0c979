// LR schedule, clipping, weight-decay selection and the optimizer step.
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "optim.h"
#include "util.h"

float lr_at(const LRSchedule *s, int step) {
    if (step < s->warmup_steps) return s->lr * (step + 1) / s->warmup_steps;
    float min_lr = s->lr * s->min_lr_frac;
    int decay_steps = s->total_steps - s->warmup_steps;
    if (s->kind == SCHEDULE_CONSTANT || decay_steps <= 0) return s->lr;
    float progress = (float)(step - s->warmup_steps) / decay_steps;
    if (progress > 1) progress = 1;
    float coeff = s->kind == SCHEDULE_COSINE ? 0.5f * (1 + cosf((float)M_PI * progress)) : 1 - progress;
    return min_lr + coeff * (s->lr - min_lr);
}

int schedule_parse(const char *name, ScheduleKind *kind) {
    if (strcmp(name, "cosine") == 0) *kind = SCHEDULE_COSINE;
    else if (strcmp(name, "linear") == 0) *kind = SCHEDULE_LINEAR;
    else if (strcmp(name, "constant") == 0) *kind = SCHEDULE_CONSTANT;
    else {
        scpt_set_error("unknown schedule '%s' (cosine, linear, constant)", name);
        return -1;
    }
    return 0;
}

static unsigned matrices_mask(int with_embeddings) {
    unsigned mask = 1u << P_QKVW | 1u << P_ATTPROJW | 1u << P_FCW | 1u << P_FCPROJW | 1u << P_LMHEAD;
    if (with_embeddings) mask |= 1u << P_WTE | 1u << P_WPE;
    return mask;
}

int decay_mask_parse(const char *spec, unsigned *mask) {
    if (strcmp(spec, "matrices") == 0) *mask = matrices_mask(1);
    else if (strcmp(spec, "matrices-no-embed") == 0) *mask = matrices_mask(0);
    else if (strcmp(spec, "all") == 0) *mask = (1u << NUM_PARAM_TENSORS) - 1;
    else if (strcmp(spec, "none") == 0) *mask = 0;
    else {
        // a comma-separated list of tensor names
        char *copy = xstrdup(spec), *save = NULL;
        *mask = 0;
        for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            int found = param_tensor_index(tok);
            if (found < 0) {
                scpt_set_error("--decay: unknown tensor '%s'", tok);
                free(copy);
                return -1;
            }
            *mask |= 1u << found;
        }
        free(copy);
    }
    return 0;
}

void optimizer_init(OptimizerState *o, size_t begin, size_t end) {
    o->begin = begin;
    o->end = end;
    o->m = xcalloc(end - begin, sizeof(real));
    o->v = xcalloc(end - begin, sizeof(real));
}

void optimizer_free(OptimizerState *o) {
    free(o->m);
    free(o->v);
    memset(o, 0, sizeof *o);
}

void optimizer_step(const Model *m, OptimizerState *o, const AdamWConfig *cfg, float lr, int t) {
    for (int i = 0; i < NUM_PARAM_TENSORS; i++) {
        const ParamTensor *pt = &m->tensors[i];
        size_t lo = pt->offset > o->begin ? pt->offset : o->begin;
        size_t hi = pt->offset + pt->size < o->end ? pt->offset + pt->size : o->end;
        if (lo >= hi) continue;
        float wd = (cfg->decay_mask >> i & 1) ? cfg->weight_decay : 0;
        adamw_update(m->params + lo, m->grads + lo, o->m + (lo - o->begin), o->v + (lo - o->begin), hi - lo, lr,
                     cfg->beta1, cfg->beta2, cfg->eps, wd, t);
    }
}

void clip_to_norm(real *grads, size_t n, float norm, float max_norm) {
    if (max_norm > 0 && norm > max_norm) {
        real scale = max_norm / (norm + 1e-6f);
#pragma omp parallel for
        for (size_t i = 0; i < n; i++) grads[i] *= scale;
    }
}

float clip_gradients(real *grads, size_t n, float max_norm) {
    float norm = (float)sqrt(sum_squares(grads, n));
    clip_to_norm(grads, n, norm, max_norm);
    return norm;
}
