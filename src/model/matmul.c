// Matrix multiplication for the linear layers: one cache-blocked GEMM with packed
// panels (the BLIS layout) serves forward and both backward products.
#include <stdlib.h>
#include "layers.h"
#include "util.h"

// Register tile MR x NR (6 x 32 floats = 12 AVX-512 accumulators) and cache blocks.
// Tiles of C are MC x NC and are shared among threads; each tile walks K in KC
// steps in a fixed order, so every element's sum has the same order for any
// thread count.
enum { MR = 6, NR = 32, MC = 8 * MR, NC = 4 * NR, KC = 256 };

// A strided matrix view: element (i, j) is at p[i * rs + j * cs].
typedef struct {
    const real *p;
    long rs, cs;
} View;

// pack rows [i0, i0+mc) x cols [k0, k0+kc) of A into MR-row panels, zero-padded:
// panel q holds dst[(q * kc + k) * MR + i]
static void pack_a(real *dst, View a, int i0, int mc, int k0, int kc) {
    for (int q = 0; q < mc; q += MR) {
        real *d = dst + (size_t)q * kc;
        for (int k = 0; k < kc; k++)
            for (int i = 0; i < MR; i++)
                d[k * MR + i] = q + i < mc ? a.p[(i0 + q + i) * a.rs + (long)(k0 + k) * a.cs] : 0;
    }
}

// pack rows [k0, k0+kc) x cols [j0, j0+nc) of B into NR-column panels, zero-padded
static void pack_b(real *dst, View b, int k0, int kc, int j0, int nc) {
    for (int q = 0; q < nc; q += NR) {
        real *d = dst + (size_t)q * kc;
        int n = nc - q < NR ? nc - q : NR;
        for (int k = 0; k < kc; k++) {
            const real *src = b.p + (long)(k0 + k) * b.rs + (long)(j0 + q) * b.cs;
            for (int j = 0; j < n; j++) d[k * NR + j] = src[j * b.cs];
            for (int j = n; j < NR; j++) d[k * NR + j] = 0;
        }
    }
}

// c[mr x nr] (=|+=) a_panel . b_panel over kc; the accumulators stay in registers
static void micro_kernel(int kc, const real *restrict a, const real *restrict b, real *restrict c,
                         long ldc, int mr, int nr, int overwrite) {
    real acc[MR][NR] = {{0}};
    for (int k = 0; k < kc; k++) {
        for (int i = 0; i < MR; i++) {
            real ai = a[k * MR + i];
            for (int j = 0; j < NR; j++) acc[i][j] += ai * b[k * NR + j];
        }
    }
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < nr; j++) c[i * ldc + j] = overwrite ? acc[i][j] : c[i * ldc + j] + acc[i][j];
}

// C[M x N] (row-major, leading dim ldc) = (accumulate ? C : 0) + A[M x K] . B[K x N]
static void gemm(int M, int N, int K, View a, View b, real *c, long ldc, int accumulate) {
    int tiles_m = (M + MC - 1) / MC, tiles_n = (N + NC - 1) / NC;
#pragma omp parallel
    {
        real *apack = xmalloc(sizeof(real) * MC * KC);
        real *bpack = xmalloc(sizeof(real) * KC * NC);
#pragma omp for schedule(static)
        for (int tile = 0; tile < tiles_m * tiles_n; tile++) {
            int i0 = (tile / tiles_n) * MC, j0 = (tile % tiles_n) * NC;
            int mc = M - i0 < MC ? M - i0 : MC, nc = N - j0 < NC ? N - j0 : NC;
            if (K == 0 && !accumulate)
                for (int i = 0; i < mc; i++)
                    for (int j = 0; j < nc; j++) c[(long)(i0 + i) * ldc + j0 + j] = 0;
            for (int k0 = 0; k0 < K; k0 += KC) {
                int kc = K - k0 < KC ? K - k0 : KC;
                pack_a(apack, a, i0, mc, k0, kc);
                pack_b(bpack, b, k0, kc, j0, nc);
                int overwrite = k0 == 0 && !accumulate;
                for (int jr = 0; jr < nc; jr += NR)
                    for (int ir = 0; ir < mc; ir += MR)
                        micro_kernel(kc, apack + (size_t)ir * kc, bpack + (size_t)jr * kc,
                                     c + (long)(i0 + ir) * ldc + j0 + jr, ldc,
                                     mc - ir < MR ? mc - ir : MR, nc - jr < NR ? nc - jr : NR, overwrite);
            }
        }
        free(apack);
        free(bpack);
    }
}

void matmul_forward(real *out, const real *inp, const real *weight, const real *bias, int N, int C, int OC) {
    // out = inp . weight^T: B(k, j) = weight[j * C + k]
    gemm(N, OC, C, (View){inp, C, 1}, (View){weight, 1, C}, out, OC, 0);
    if (!bias) return;
#pragma omp parallel for
    for (int n = 0; n < N; n++)
        for (int o = 0; o < OC; o++) out[(size_t)n * OC + o] += bias[o];
}

void matmul_backward(real *dinp, real *dweight, real *dbias, const real *dout, const real *inp,
                     const real *weight, int N, int C, int OC) {
    // dinp[N,C] += dout[N,OC] . weight[OC,C]
    gemm(N, C, OC, (View){dout, OC, 1}, (View){weight, C, 1}, dinp, C, 1);
    // dweight[OC,C] += dout^T . inp
    gemm(OC, C, N, (View){dout, 1, OC}, (View){inp, C, 1}, dweight, C, 1);
    if (!dbias) return;
    enum { CHUNK = 32 };
#pragma omp parallel for
    for (int o0 = 0; o0 < OC; o0 += CHUNK) {
        int o1 = o0 + CHUNK < OC ? o0 + CHUNK : OC;
        for (int n = 0; n < N; n++)
            for (int o = o0; o < o1; o++) dbias[o] += dout[(size_t)n * OC + o];
    }
}
