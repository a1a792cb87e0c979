// Option log-likelihoods, accuracy intervals and shard perplexity.
#include "eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "shard.h"
#include "util.h"

void score_options(Model *m, const int32_t *prompt, int n_prompt, const int32_t *const *opts,
                   const int *n_opt, int n_options, double *logprob, int *n_scored) {
    int ctx = m->config.max_seq_len;
    // lengths after truncation: each row is prompt[keep_from..] + option[..olen], scored on
    // the option; the inputs are the row without its last token, the targets shifted by one
    int T = 1, *olen = xmalloc((size_t)n_options * sizeof *olen), *plen = xmalloc((size_t)n_options * sizeof *plen);
    for (int i = 0; i < n_options; i++) {
        olen[i] = n_opt[i] < ctx ? n_opt[i] : ctx;   // the prompt keeps >= 1 token to condition on
        if (olen[i] == ctx) olen[i] = ctx - 1;
        plen[i] = n_prompt < ctx + 1 - olen[i] ? n_prompt : ctx + 1 - olen[i];
        if (plen[i] + olen[i] - 1 > T) T = plen[i] + olen[i] - 1;
    }
    int B = n_options;
    int *inputs = xcalloc((size_t)B * T, sizeof *inputs), *targets = xmalloc((size_t)B * T * sizeof *targets);
    for (int i = 0; i < B * T; i++) targets[i] = -1;
    for (int b = 0; b < B; b++) {
        const int32_t *p = prompt + n_prompt - plen[b];
        int len = plen[b] + olen[b];
        for (int t = 0; t + 1 < len; t++) {
            int cur = t < plen[b] ? p[t] : opts[b][t - plen[b]];
            int next = t + 1 < plen[b] ? p[t + 1] : opts[b][t + 1 - plen[b]];
            inputs[b * T + t] = cur;
            if (t + 1 >= plen[b]) targets[b * T + t] = next;
        }
    }
    model_forward(m, inputs, targets, B, T);
    for (int b = 0; b < B; b++) {
        double s = 0;
        for (int t = 0; t < T; t++)
            if (targets[b * T + t] >= 0) s -= m->acts.losses[b * T + t];
        logprob[b] = s;
        if (n_scored) n_scored[b] = olen[b];
    }
    free(inputs), free(targets), free(olen), free(plen);
}

int argmax(const double *v, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (v[i] > v[best]) best = i;
    return best;
}

void wilson_interval(int k, int n, double *lo, double *hi) {
    if (n == 0) {
        *lo = 0, *hi = 1;
        return;
    }
    const double z = 1.959963984540054;   // two-sided 95% normal quantile
    double p = (double)k / n, d = 1 + z * z / n;
    double c = (p + z * z / (2.0 * n)) / d, h = z * sqrt(p * (1 - p) / n + z * z / (4.0 * n * n)) / d;
    *lo = c - h < 0 ? 0 : c - h;
    *hi = c + h > 1 ? 1 : c + h;
}

int shard_perplexity(Model *m, const char *pattern, int batch, int seq_len, int64_t max_tokens,
                     double *mean_loss, int64_t *tokens) {
    char **paths;
    int n = glob_paths(pattern, &paths);
    if (n == 0) return scpt_set_error("%s: no shard matches", pattern), -1;
    int *inputs = xmalloc((size_t)batch * seq_len * sizeof *inputs);
    int *targets = xmalloc((size_t)batch * seq_len * sizeof *targets);
    double sum = 0;
    int64_t count = 0;
    int rc = 0;
    for (int f = 0; f < n && rc == 0 && (max_tokens == 0 || count < max_tokens); f++) {
        Shard s;
        if (shard_open(&s, paths[f], m->config.vocab_size) != 0) {
            rc = -1;
            break;
        }
        int64_t windows = (s.num_tokens - 1) / seq_len;
        for (int64_t w = 0; w < windows && (max_tokens == 0 || count < max_tokens); w += batch) {
            int B = windows - w < batch ? (int)(windows - w) : batch;
            int scored = 0;   // targets a chat shard's loss mask keeps (all in other shards)
            for (int b = 0; b < B; b++)
                for (int t = 0; t < seq_len; t++) {
                    int64_t i = (w + b) * seq_len + t;
                    inputs[b * seq_len + t] = shard_token(&s, i);
                    targets[b * seq_len + t] = shard_trained(&s, i + 1) ? shard_token(&s, i + 1) : -1;
                    scored += shard_trained(&s, i + 1);
                }
            sum += (double)model_forward(m, inputs, targets, B, seq_len) * scored;
            count += scored;
        }
        shard_close(&s);
    }
    free_paths(paths, n);
    free(inputs), free(targets);
    if (rc == 0 && count == 0) rc = -1, scpt_set_error("%s: no full window of %d tokens", pattern, seq_len + 1);
    *mean_loss = count ? sum / count : 0;
    *tokens = count;
    return rc;
}
