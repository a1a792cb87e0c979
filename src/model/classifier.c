// Softmax + cross-entropy over the vocabulary.
#include <tgmath.h>
#include "layers.h"

void classifier_forward(real *losses, real *logits, const int *targets, int N, int V, int Vp) {
#pragma omp parallel for
    for (int n = 0; n < N; n++) {
        real *p = logits + (size_t)n * Vp;
        real maxv = -INFINITY;
        for (int v = 0; v < V; v++) maxv = p[v] > maxv ? p[v] : maxv;
        real sum = 0;
        for (int v = 0; v < V; v++) {
            p[v] = exp(p[v] - maxv);
            sum += p[v];
        }
        for (int v = 0; v < V; v++) p[v] /= sum;
        for (int v = V; v < Vp; v++) p[v] = 0;
        int t = targets ? targets[n] : -1;
        // -log p computed from the normalised probability; tiny p is clamped so an
        // underflowed softmax gives a large finite loss rather than inf, while a NaN
        // (from non-finite logits) stays NaN for the training loop to catch
        losses[n] = t >= 0 ? -log(p[t] < (real)1e-30 ? (real)1e-30 : p[t]) : 0;
    }
}

void classifier_backward(real *dlogits, const real *probs, const int *targets, real dloss, int N, int V, int Vp) {
#pragma omp parallel for
    for (int n = 0; n < N; n++) {
        int t = targets[n];
        if (t < 0) continue;
        const real *p = probs + (size_t)n * Vp;
        real *d = dlogits + (size_t)n * Vp;
        for (int v = 0; v < V; v++) d[v] += dloss * (p[v] - (v == t));
    }
}
