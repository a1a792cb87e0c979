// Rotary position embedding (Llama), rotating adjacent pairs (x[2i], x[2i+1]):
// Meta's and llama.cpp's convention. Hugging Face checkpoints rotate (x[i], x[i+HS/2])
// instead; the importer permutes their q/k rows to this layout.
#include <math.h>
#include "layers.h"

// Frequencies theta^(-2i/HS); with scale_factor > 1, Llama 3.1's long-context
// rescaling: low frequencies divided by the factor, high ones kept, a smooth blend
// between the two wavelength bounds set by original_context / {low,high}_freq_factor.
void rope_tables(real *cos_table, real *sin_table, int T, int HS, double theta,
                 double scale_factor, double low_freq_factor, double high_freq_factor, int original_context) {
    int half = HS / 2;
    for (int i = 0; i < half; i++) {
        double freq = pow(theta, -2.0 * i / HS);
        if (scale_factor > 1) {
            double wavelen = 2 * M_PI / freq;
            double low_wavelen = original_context / low_freq_factor;
            double high_wavelen = original_context / high_freq_factor;
            if (wavelen > low_wavelen) {
                freq /= scale_factor;
            } else if (wavelen >= high_wavelen) {
                double smooth = (original_context / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor);
                freq = (1 - smooth) * freq / scale_factor + smooth * freq;
            }
        }
        for (int t = 0; t < T; t++) {
            cos_table[t * half + i] = cos(t * freq);
            sin_table[t * half + i] = sin(t * freq);
        }
    }
}

// rotate every q and k head of every token by +angle (dir = 1) or -angle (dir = -1)
static void rotate(real *qkv, const real *cos_table, const real *sin_table, int B, int T, int NH, int NKV,
                   int HS, int dir) {
    int half = HS / 2, heads = NH + NKV;   // q heads then k heads; v is not rotated
    size_t row = (size_t)(NH + 2 * NKV) * HS;
#pragma omp parallel for collapse(2)
    for (int b = 0; b < B; b++) {
        for (int t = 0; t < T; t++) {
            real *x = qkv + ((size_t)b * T + t) * row;
            const real *c = cos_table + (size_t)t * half, *s = sin_table + (size_t)t * half;
            for (int h = 0; h < heads; h++, x += HS) {
                for (int i = 0; i < half; i++) {
                    real x0 = x[2 * i], x1 = x[2 * i + 1], sn = dir * s[i];
                    x[2 * i] = x0 * c[i] - x1 * sn;
                    x[2 * i + 1] = x0 * sn + x1 * c[i];
                }
            }
        }
    }
}

void rope_forward(real *qkv, const real *cos_table, const real *sin_table, int B, int T, int NH, int NKV, int HS) {
    rotate(qkv, cos_table, sin_table, B, T, NH, NKV, HS, 1);
}

// a rotation is orthogonal: its gradient is the inverse rotation of the gradient
void rope_backward(real *dqkv, const real *cos_table, const real *sin_table, int B, int T, int NH, int NKV, int HS) {
    rotate(dqkv, cos_table, sin_table, B, T, NH, NKV, HS, -1);
}
