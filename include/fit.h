// Curves of accuracy against synthetic tokens n (the EntiGraph paper's scaling plot):
//   log-linear:            acc(n) = a + b ln n                      (n > 0)
//   mixture of exponentials: acc(n) = a0 + c1 (1 - e^{-n/t1}) + c2 (1 - e^{-n/t2})
// The second is a two-component instance of the paper's mixture-of-exponential law
// (knowledge acquired at several rates, saturating). Least squares: closed form for
// the line; for the mixture the linear coefficients (weights c1, c2 >= 0) are solved
// exactly on a log-spaced grid of (t1 < t2) and the best pair kept.
#ifndef SCPT_FIT_H
#define SCPT_FIT_H

typedef struct {
    double a, b;
} LogLinFit;

typedef struct {
    double a0, c1, t1, c2, t2;
} MixExpFit;

int fit_loglinear(const double *n, const double *acc, int count, LogLinFit *f);   // -1: < 2 points with n > 0
int fit_mixexp(const double *n, const double *acc, int count, MixExpFit *f);      // -1: < 3 points
double loglinear_at(const LogLinFit *f, double n);
double mixexp_at(const MixExpFit *f, double n);

#endif
