// Deterministic random numbers: splitmix64. A stream is one 64-bit counter, so its
// whole state fits in a checkpoint, and independent streams come from hashing
// (seed, purpose, index) instead of sharing one sequence.
#ifndef SCPT_RNG_H
#define SCPT_RNG_H

#include <math.h>
#include <stdint.h>

// CUDA code uses mix64 on the device too (stochastic rounding in kernels/adamw.cu)
#ifdef __CUDACC__
__host__ __device__
#endif
static inline uint64_t mix64(uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

// a stream seeded from several words
static inline uint64_t seed_of(uint64_t a, uint64_t b, uint64_t c) {
    return mix64(a ^ mix64(b ^ mix64(c + 0x9e3779b97f4a7c15ULL)));
}

static inline uint64_t rng_next(uint64_t *state) {
    *state += 0x9e3779b97f4a7c15ULL;
    return mix64(*state);
}

static inline double rng_uniform(uint64_t *state) {   // [0, 1)
    return (rng_next(state) >> 11) * 0x1.0p-53;
}

static inline double rng_normal(uint64_t *state) {    // Box-Muller
    double u1 = 1.0 - rng_uniform(state), u2 = rng_uniform(state);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

#endif
