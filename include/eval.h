// Scoring with a model: log-likelihoods of multiple-choice options given a prompt
// (as lm-evaluation-harness's loglikelihood requests), accuracy intervals, and
// held-out perplexity over token shards.
#ifndef SCPT_EVAL_H
#define SCPT_EVAL_H

#include <stdint.h>
#include "model.h"

// Sum of log p(option tokens | prompt tokens) for each option, scored in one batch
// (one row per option: the prompt prefix shared in the batch). When prompt+option is
// longer than the model's context, the prompt loses tokens from its left end; an
// option longer than the context minus one token keeps its first tokens only.
// logprob[i] gets the sum, n_scored[i] (may be NULL) the option tokens scored.
void score_options(Model *m, const int32_t *prompt, int n_prompt, const int32_t *const *opts,
                   const int *n_opt, int n_options, double *logprob, int *n_scored);

// index of the largest value (the first on ties)
int argmax(const double *v, int n);

// 95% Wilson score interval of k successes in n trials
void wilson_interval(int k, int n, double *lo, double *hi);

// Mean loss per token over every full seq_len window of the shards (glob), at most
// max_tokens of them (0: all); in a chat shard, over the tokens its loss mask trains.
// -1 with scpt_error() on a bad shard.
int shard_perplexity(Model *m, const char *pattern, int batch, int seq_len, int64_t max_tokens,
                     double *mean_loss, int64_t *tokens);

#endif
