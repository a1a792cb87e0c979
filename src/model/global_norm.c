// Sum of squares for gradient clipping.
#include "layers.h"

// Fixed-size chunks summed in index order: the same result for any thread count.
double sum_squares(const real *x, size_t n) {
    enum { CHUNK = 1 << 16 };
    size_t chunks = (n + CHUNK - 1) / CHUNK;
    double total = 0;
#pragma omp parallel for ordered schedule(static, 1)
    for (size_t c = 0; c < chunks; c++) {
        double s = 0;
        size_t end = (c + 1) * CHUNK < n ? (c + 1) * CHUNK : n;
        for (size_t i = c * CHUNK; i < end; i++) s += (double)x[i] * x[i];
#pragma omp ordered
        total += s;
    }
    return total;
}
