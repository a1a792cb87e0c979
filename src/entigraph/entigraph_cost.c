// The bill before spending it (`entigraph --plan`) and while spending it (the
// progress line): requests per step, prompt tokens counted with the project's
// tokenizer, completion tokens from what earlier runs on the same output got
// (or --max-completion-tokens where nothing was seen yet), and dollars from
// per-million-token prices.
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "entigraph.h"
#include "tokenizer.h"
#include "util.h"

// Chat framing per request, on top of the message texts: OpenAI's rule for its
// chat models (3 tokens per message and 3 that prime the reply), which vLLM and
// llama.cpp's Llama 3 template exceed by a token or two per message.
#define TOKENS_PER_MESSAGE 3
#define TOKENS_PER_REPLY 3

static double price_field(const cJSON *o, const char *k, const char *path, const char *model) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!v) return -1;
    if (!cJSON_IsNumber(v) || v->valuedouble < 0)
        die("%s: \"%s\".%s must be a number >= 0 (US dollars per million tokens)", path, model, k);
    return v->valuedouble;
}

void prices_load(Prices *p, const char *path, const char *model) {
    char *text = read_whole_file(path, NULL);
    if (!text) die("--prices: %s", scpt_error());
    cJSON *root = cJSON_Parse(text);
    free(text);
    if (!cJSON_IsObject(root)) die("%s: not a JSON object of models", path);
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(root, model);
    if (!cJSON_IsObject(m)) die("%s: no prices for the model \"%s\"", path, model);
    double in = price_field(m, "input", path, model), out = price_field(m, "output", path, model);
    if (in < 0 || out < 0) die("%s: \"%s\" needs \"input\" and \"output\"", path, model);
    double bin = price_field(m, "batch_input", path, model), bout = price_field(m, "batch_output", path, model);
    if (p->input < 0) p->input = in;
    if (p->output < 0) p->output = out;
    if (p->batch_input < 0 && bin >= 0) p->batch_input = bin;
    if (p->batch_output < 0 && bout >= 0) p->batch_output = bout;
    cJSON_Delete(root);
}

void prices_finish(Prices *p) {
    // the Batch API is billed at half the live price unless the file says otherwise
    if (p->batch_input < 0 && p->input >= 0) p->batch_input = p->input / 2;
    if (p->batch_output < 0 && p->output >= 0) p->batch_output = p->output / 2;
}

double prices_cost(const Prices *p, int batch, double prompt_tokens, double completion_tokens) {
    double in = batch ? p->batch_input : p->input, out = batch ? p->batch_output : p->output;
    if (in < 0 || out < 0) return -1;
    return (prompt_tokens * in + completion_tokens * out) / 1e6;
}

void cost_init(CostPlan *c, const char *vocab, int max_completion_tokens) {
    memset(c, 0, sizeof *c);
    c->tok = tokenizer_open(vocab);
    if (!c->tok) die("--plan-vocab: %s", scpt_error());
    c->max_completion = max_completion_tokens;
}

void cost_free(CostPlan *c) {
    if (c->tok) tokenizer_free(c->tok);
    token_ids_free(&c->ids);
    c->tok = NULL;
}

long cost_count(CostPlan *c, const char *text) {
    c->ids.len = 0;
    if (tokenizer_encode(c->tok, text, strlen(text), &c->ids) != 0) die("--plan: %s", scpt_error());
    return (long)c->ids.len;
}

void cost_seen(CostPlan *c, ItemKind kind, long completion_tokens) {
    c->seen[kind]++;
    c->seen_completion[kind] += completion_tokens;
}

void cost_add(CostPlan *c, ItemKind kind, const char *system, const char *user, long extra_tokens) {
    int messages = system && system[0] ? 2 : 1;
    long n = (system && system[0] ? cost_count(c, system) : 0) + cost_count(c, user) + extra_tokens;
    c->requests[kind]++;
    c->prompt[kind] += n + messages * TOKENS_PER_MESSAGE + TOKENS_PER_REPLY;
}

double cost_expected_completion(const CostPlan *c, ItemKind kind) {
    return c->seen[kind] ? (double)c->seen_completion[kind] / c->seen[kind] : c->max_completion;
}

void cost_totals(const CostPlan *c, double *requests, double *prompt, double *completion, double *completion_max) {
    *requests = *prompt = *completion = *completion_max = 0;
    for (int k = 0; k < 4; k++) {
        *requests += c->requests[k];
        *prompt += c->prompt[k];
        *completion += c->requests[k] * cost_expected_completion(c, (ItemKind)k);
        *completion_max += (double)c->requests[k] * c->max_completion;
    }
}

static void dollars(char *out, size_t cap, double usd) {
    if (usd < 0) snprintf(out, cap, "-");
    else snprintf(out, cap, "$%.2f", usd);
}

void cost_print(const CostPlan *c, const Prices *p, FILE *f) {
    fprintf(f, "%-9s %10s %16s %22s %12s\n", "step", "requests", "prompt tokens", "completion tokens", "seen before");
    for (int k = 0; k < 4; k++) {
        if (!c->requests[k] && !c->seen[k]) continue;
        char seen[48];
        snprintf(seen, sizeof seen, "%ld (%.0f avg)", c->seen[k], c->seen[k] ? (double)c->seen_completion[k] / c->seen[k] : 0.0);
        fprintf(f, "%-9s %10ld %16.0f %22.0f %12s\n", item_kind_names[k], c->requests[k], c->prompt[k],
                c->requests[k] * cost_expected_completion(c, (ItemKind)k), c->seen[k] ? seen : "0");
    }
    double req, prompt, comp, comp_max;
    cost_totals(c, &req, &prompt, &comp, &comp_max);
    char live[32], live_max[32], batch[32], batch_max[32];
    dollars(live, sizeof live, prices_cost(p, 0, prompt, comp));
    dollars(live_max, sizeof live_max, prices_cost(p, 0, prompt, comp_max));
    dollars(batch, sizeof batch, prices_cost(p, 1, prompt, comp));
    dollars(batch_max, sizeof batch_max, prices_cost(p, 1, prompt, comp_max));
    fprintf(f, "%-9s %10.0f %16.0f %22.0f\n", "total", req, prompt, comp);
    fprintf(f, "completion tokens at most %.0f (every request using --max-completion-tokens %d)\n", comp_max,
            c->max_completion);
    fprintf(f, "cost: live %s (at most %s), Batch API %s (at most %s)%s\n", live, live_max, batch, batch_max,
            p->input < 0 ? "; give --price-input/--price-output or --prices for dollars" : "");
}
