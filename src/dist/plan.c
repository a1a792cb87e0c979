// Memory, communication and time of data-parallel training (include/plan.h).
#include "plan.h"

enum { BF16 = 2 };

size_t plan_param_count(const ModelConfig *c) {
    size_t C = c->n_embd, L = c->n_layer, Vp = c->padded_vocab_size, H = c->ffn_hidden;
    size_t qkv = qkv_channels(c), fc = fc_channels(c), gpt2 = c->arch == ARCH_GPT2;
    // per layer: norms, qkv, attention projection, MLP in and out (+ biases for GPT-2)
    size_t layer = 2 * C + qkv * C + C * C + fc * C + C * H;
    if (gpt2) layer += 2 * C + qkv + C + fc + C;
    size_t total = Vp * C + L * layer + (gpt2 ? 2 : 1) * C;   // embeddings, layers, final norm
    if (gpt2) total += (size_t)c->max_seq_len * C;              // learned positions
    if (!c->tied_embeddings) total += Vp * C;                   // separate head
    return total;
}

double plan_activation_bytes(const ModelConfig *c, int B, int T, int recompute) {
    double N = (double)B * T, C = c->n_embd, L = c->n_layer;
    // what one layer keeps per token for backward (the CPU twin's layout, less the
    // attention probabilities): norm outputs and statistics, qkv, attention output,
    // projections, both residuals, the MLP's pre-activation and activation
    double layer = 8 * C + qkv_channels(c) + fc_channels(c) + c->ffn_hidden + 4;
    // outside the layers: the embedding output, the final norm, logits and their gradient, the losses
    double rest = 2 * C + 2 + 2.0 * c->padded_vocab_size + 1;
    // recomputation keeps each layer's input and rebuilds one layer at a time in backward
    double kept = recompute ? L * C + layer : L * layer;
    return BF16 * N * (kept + rest);
}

double plan_flops_per_token(const ModelConfig *c, int T, int recompute) {
    // forward: 2 per parameter (the multiply-adds) + 4 L C T (scores and weighted sum),
    // backward twice that; recomputation adds one more forward
    double forward = 2.0 * plan_param_count(c) + 4.0 * c->n_layer * c->n_embd * T;
    return forward * (recompute ? 4 : 3);
}

void plan_zero(const ModelConfig *c, const PlanSetup *s, int stage, PlanResult *r) {
    double P = (double)plan_param_count(c), N = (double)s->gpus_per_node * s->nodes;
    *r = (PlanResult){.stage = stage, .params = P};
    // what each stage shards over the N GPUs: 1 optimizer state, 2 + gradients, 3 + weights
    r->weights = BF16 * P / (stage >= 3 ? N : 1);
    r->grads = BF16 * P / (stage >= 2 ? N : 1);
    r->master = 4 * P / (stage >= 1 ? N : 1);
    r->adam = 8 * P / (stage >= 1 ? N : 1);
    r->activations = plan_activation_bytes(c, s->micro_batch, s->seq_len, s->recompute);
    r->total = r->weights + r->grads + r->master + r->adam + r->activations;
    r->fits = r->total <= s->gpu_mem_gib * (1 << 30);

    // ring volume per GPU, as a multiple of one bf16 copy of the parameters
    double ring = (N - 1) / N * BF16 * P;
    if (stage <= 1) r->comm_bytes = 2 * ring;   // all-reduce, or reduce-scatter + all-gather, once per step
    // sharded gradients cannot accumulate locally: reduce-scatter every micro-batch
    else if (stage == 2) r->comm_bytes = ring * s->grad_accum + ring;
    else r->comm_bytes = 3 * ring * s->grad_accum;   // gather weights in forward and backward, scatter grads
    // NCCL runs one ring per NIC rail: the vector splits over gpus_per_node rings and
    // each crosses between nodes through its own GPU's NIC, so a NIC carries 1/G of a
    // GPU's ring volume while NVLink carries all of it
    if (N > 1) r->comm_nvlink_s = r->comm_bytes / (s->nvlink_gbs * 1e9);
    if (s->nodes > 1) r->comm_ib_s = r->comm_bytes / s->gpus_per_node / (s->ib_gbs * 1e9);
    r->comm_s = r->comm_nvlink_s > r->comm_ib_s ? r->comm_nvlink_s : r->comm_ib_s;

    r->tokens_per_step = N * s->micro_batch * s->seq_len * s->grad_accum;
    double flops = plan_flops_per_token(c, s->seq_len, s->recompute) * r->tokens_per_step / N;
    r->compute_s = flops / (s->peak_tflops * 1e12 * s->mfu);
    r->step_serial_s = r->compute_s + r->comm_s;
    r->step_overlap_s = r->compute_s > r->comm_s ? r->compute_s : r->comm_s;
}
