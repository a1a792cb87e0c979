// Curves of accuracy against synthetic tokens n (the EntiGraph paper's scaling plot):
//   log-linear:               acc(n) = a + b ln n                          (n > 0)
//   mixture of exponentials:  acc(n) = a0 + sum_i c_i (1 - e^{-n / t_i}),  c_i >= 0
// The second is the paper's mixture-of-exponential law with up to MIXEXP_RATES rates
// (its Section 6 fit has three, written y = a - sum_i b_i r_i^x with x in millions of
// tokens: c_i = b_i, t_i = -1e6 / ln r_i, a0 = a - sum_i b_i): knowledge acquired at
// several rates, saturating. Least squares: closed form for the line; for the mixture
// the linear coefficients are solved exactly for every set of time constants on a
// log-spaced grid, the best set then refined by a pattern search.
#ifndef SCPT_FIT_H
#define SCPT_FIT_H

#define MIXEXP_RATES 3

typedef struct {
    double a, b;
} LogLinFit;

typedef struct {
    double a0;
    double c[MIXEXP_RATES], t[MIXEXP_RATES];   // a rate with c = 0 is unused; t ascending
} MixExpFit;

int fit_loglinear(const double *n, const double *acc, int count, LogLinFit *f);   // -1: < 2 points with n > 0
int fit_mixexp(const double *n, const double *acc, int count, MixExpFit *f);      // -1: < 3 points
double loglinear_at(const LogLinFit *f, double n);
double mixexp_at(const MixExpFit *f, double n);

#endif
