// Least-squares fits of the scaling curves.
#include "fit.h"

#include <math.h>
#include <string.h>

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
    double acc = f->a0;
    for (int i = 0; i < MIXEXP_RATES; i++)
        if (f->c[i] != 0) acc += f->c[i] * (1 - exp(-n / f->t[i]));
    return acc;
}

enum { MAX_TERMS = MIXEXP_RATES + 1 };

// solves the k x k system m x = r by Gaussian elimination with partial pivoting; -1 if singular
static int solve(int k, double m[MAX_TERMS][MAX_TERMS], double r[MAX_TERMS], double x[MAX_TERMS]) {
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

static int bits(unsigned set) { return set ? (int)(set & 1) + bits(set >> 1) : 0; }

// The least-squares a0 and weights c >= 0 for the time constants t (knowledge is only
// gained): every subset of the rates is solved exactly, the best one whose weights are
// all >= 0 kept. Smaller subsets go first and a larger one must lower the error, so a
// rate the data do not need stays unused. Returns the squared error.
static double fit_weights(const double *n, const double *acc, int count, const double t[MIXEXP_RATES],
                          MixExpFit *f) {
    double best = INFINITY;
    for (int size = 0; size <= MIXEXP_RATES; size++)
        for (unsigned set = 0; set < 1u << MIXEXP_RATES; set++) {
            if (bits(set) != size) continue;
            double m[MAX_TERMS][MAX_TERMS] = {{0}}, r[MAX_TERMS] = {0}, x[MAX_TERMS] = {0};
            int k = 1 + size;
            for (int p = 0; p < count; p++) {
                double phi[MAX_TERMS] = {1};
                for (int i = 0, q = 1; i < MIXEXP_RATES; i++)
                    if (set >> i & 1) phi[q++] = 1 - exp(-n[p] / t[i]);
                for (int a = 0; a < k; a++) {
                    r[a] += phi[a] * acc[p];
                    for (int b = 0; b < k; b++) m[a][b] += phi[a] * phi[b];
                }
            }
            if (solve(k, m, r, x) != 0) continue;
            MixExpFit g = {.a0 = x[0]};
            int negative = 0;
            for (int i = 0, q = 1; i < MIXEXP_RATES; i++) {
                g.t[i] = t[i];
                if (set >> i & 1) g.c[i] = x[q++], negative |= g.c[i] < 0;
            }
            if (negative) continue;
            double sse = 0;
            for (int p = 0; p < count; p++) sse += pow(mixexp_at(&g, n[p]) - acc[p], 2);
            if (sse < best * (1 - 1e-9)) best = sse, *f = g;
        }
    return best;
}

int fit_mixexp(const double *n, const double *acc, int count, MixExpFit *f) {
    double lo = INFINITY, hi = 0;
    for (int i = 0; i < count; i++)
        if (n[i] > 0) lo = n[i] < lo ? n[i] : lo, hi = n[i] > hi ? n[i] : hi;
    if (count < 3 || hi <= 0) return scpt_set_error("mixture-of-exponential fit needs 3 points, some with tokens > 0"), -1;
    // every ascending set of time constants on a grid from a tenth of the smallest to
    // ten times the largest token count ...
    _Static_assert(MIXEXP_RATES == 3, "the grid below walks three time constants");
    const int G = 40;
    double l0 = log(lo / 10), l1 = log(hi * 10), step = (l1 - l0) / (G - 1), best = INFINITY, t[MIXEXP_RATES];
    for (int i = 0; i < G; i++)
        for (int j = i + 1; j < G; j++)
            for (int k = j + 1; k < G; k++) {
                double g[MIXEXP_RATES] = {exp(l0 + step * i), exp(l0 + step * j), exp(l0 + step * k)};
                MixExpFit h;
                double sse = fit_weights(n, acc, count, g, &h);
                if (sse < best) best = sse, *f = h, memcpy(t, g, sizeof t);
            }
    if (!isfinite(best)) return scpt_set_error("mixture-of-exponential fit: no solvable set of time constants"), -1;
    // ... then each log t moved by +-step while that lowers the error, step halved when
    // no move does, down to 1e-6 (time constants to a millionth)
    while (step > 1e-6) {
        int moved = 0;
        for (int i = 0; i < MIXEXP_RATES; i++)
            for (int d = -1; d <= 1; d += 2) {
                double g[MIXEXP_RATES];
                memcpy(g, t, sizeof g);
                g[i] *= exp(d * step);
                MixExpFit h;
                double sse = fit_weights(n, acc, count, g, &h);
                if (sse < best) best = sse, *f = h, memcpy(t, g, sizeof t), moved = 1;
            }
        if (!moved) step /= 2;
    }
    // rates in ascending time constant
    for (int i = 1; i < MIXEXP_RATES; i++)
        for (int j = i; j > 0 && f->t[j] < f->t[j - 1]; j--) {
            double c = f->c[j], tt = f->t[j];
            f->c[j] = f->c[j - 1], f->t[j] = f->t[j - 1], f->c[j - 1] = c, f->t[j - 1] = tt;
        }
    return 0;
}
