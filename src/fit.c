// Least-squares fits of the scaling curves.
#include "fit.h"

#include <math.h>

#include "util.h"

int fit_loglinear(const double *n, const double *acc, int count, LogLinFit *f) {
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    int k = 0;
    for (int i = 0; i < count; i++) {
        if (n[i] <= 0) continue;
        double x = log(n[i]);
        sx += x, sy += acc[i], sxx += x * x, sxy += x * acc[i], k++;
    }
    double d = k * sxx - sx * sx;
    if (k < 2 || d <= 0) return scpt_set_error("log-linear fit needs 2 points with distinct tokens > 0"), -1;
    f->b = (k * sxy - sx * sy) / d;
    f->a = (sy - f->b * sx) / k;
    return 0;
}

double loglinear_at(const LogLinFit *f, double n) { return f->a + f->b * log(n); }

double mixexp_at(const MixExpFit *f, double n) {
    return f->a0 + f->c1 * (1 - exp(-n / f->t1)) + f->c2 * (1 - exp(-n / f->t2));
}

// solves the k x k (k <= 3) system m x = r by Gaussian elimination with partial pivoting; -1 if singular
static int solve(int k, double m[3][3], double r[3], double x[3]) {
    for (int c = 0; c < k; c++) {
        int p = c;
        for (int i = c + 1; i < k; i++)
            if (fabs(m[i][c]) > fabs(m[p][c])) p = i;
        if (fabs(m[p][c]) < 1e-300) return -1;
        for (int j = 0; j < k; j++) {
            double t = m[c][j];
            m[c][j] = m[p][j], m[p][j] = t;
        }
        double t = r[c];
        r[c] = r[p], r[p] = t;
        for (int i = c + 1; i < k; i++) {
            double f = m[i][c] / m[c][c];
            for (int j = c; j < k; j++) m[i][j] -= f * m[c][j];
            r[i] -= f * r[c];
        }
    }
    for (int i = k - 1; i >= 0; i--) {
        x[i] = r[i];
        for (int j = i + 1; j < k; j++) x[i] -= m[i][j] * x[j];
        x[i] /= m[i][i];
    }
    return 0;
}

int fit_mixexp(const double *n, const double *acc, int count, MixExpFit *f) {
    double lo = INFINITY, hi = 0;
    for (int i = 0; i < count; i++)
        if (n[i] > 0) lo = n[i] < lo ? n[i] : lo, hi = n[i] > hi ? n[i] : hi;
    if (count < 3 || hi <= 0) return scpt_set_error("mixture-of-exponential fit needs 3 points, some with tokens > 0"), -1;
    // time constants from a tenth of the smallest to ten times the largest token count
    const int G = 120;
    double best = INFINITY, l0 = log(lo / 10), l1 = log(hi * 10);
    for (int i = 0; i < G; i++)
        for (int j = i + 1; j < G; j++) {
            double t1 = exp(l0 + (l1 - l0) * i / (G - 1)), t2 = exp(l0 + (l1 - l0) * j / (G - 1));
            // the weights c1, c2 must be >= 0 (knowledge is only gained): the best
            // least-squares solution over the sets of exponentials kept, both, one or none
            for (int keep = 3; keep >= 0; keep--) {
                double m[3][3] = {{0}}, r[3] = {0}, x[3] = {0};
                int k = 1 + (keep & 1) + (keep >> 1);
                for (int p = 0; p < count; p++) {
                    double all[3] = {1, 1 - exp(-n[p] / t1), 1 - exp(-n[p] / t2)}, phi[3];
                    int q = 0;
                    phi[q++] = all[0];
                    if (keep & 1) phi[q++] = all[1];
                    if (keep & 2) phi[q++] = all[2];
                    for (int a = 0; a < k; a++) {
                        r[a] += phi[a] * acc[p];
                        for (int b = 0; b < k; b++) m[a][b] += phi[a] * phi[b];
                    }
                }
                if (solve(k, m, r, x) != 0) continue;
                MixExpFit g = {x[0], (keep & 1) ? x[1] : 0, t1, (keep & 2) ? x[k - 1] : 0, t2};
                if (g.c1 < 0 || g.c2 < 0) continue;
                double sse = 0;
                for (int p = 0; p < count; p++) sse += pow(mixexp_at(&g, n[p]) - acc[p], 2);
                if (sse < best) best = sse, *f = g;
            }
        }
    if (!isfinite(best)) return scpt_set_error("mixture-of-exponential fit: no solvable grid point"), -1;
    return 0;
}
