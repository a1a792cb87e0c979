// The data-parallel plan of a model on a GPU cluster: memory per GPU under ZeRO
// stages 0-3, bytes each GPU sends per optimizer step, and the step time from link
// bandwidth and compute at a given MFU. doc/scaling.md is this plan's output.
//
// The model of the GPU path it assumes: bf16 parameters, gradients and activations;
// fp32 master weights and AdamW moments (12 bytes per parameter); attention without
// stored probabilities (flash attention); ring collectives, where each GPU sends
// (N-1)/N of the vector for a reduce-scatter or an all-gather and twice that for an
// all-reduce. Across nodes, one ring per NIC rail (a GPU's NIC carries 1/G of
// its ring volume, G = GPUs per node).
#ifndef SCPT_PLAN_H
#define SCPT_PLAN_H

#include <stddef.h>
#include "model.h"

typedef struct {
    int gpus_per_node, nodes;
    int micro_batch, seq_len, grad_accum;   // per GPU
    int recompute;                          // 1: keep only each layer's input, recompute the rest in backward
    double gpu_mem_gib;                     // usable memory per GPU
    double peak_tflops, mfu;                // dense bf16 peak and the fraction reached
    double nvlink_gbs, ib_gbs;              // effective GB/s per GPU per direction, inside a node / across nodes
} PlanSetup;

typedef struct {
    int stage;
    double params;                          // elements
    double weights, grads, master, adam;    // bytes per GPU
    double activations, total;
    int fits;
    double comm_bytes;                      // bytes each GPU sends per optimizer step
    double comm_nvlink_s, comm_ib_s;        // time on each kind of link (they run at once)
    double comm_s, compute_s;               // per optimizer step
    double step_overlap_s, step_serial_s;   // comm hidden behind compute, or after it
    double tokens_per_step;                 // over all GPUs
} PlanResult;

size_t plan_param_count(const ModelConfig *c);
// bf16 activations kept for backward by one GPU's micro-batch of B x T
double plan_activation_bytes(const ModelConfig *c, int B, int T, int recompute);
// training FLOPs per token: 6 per parameter plus attention (12 L C T), 4/3 of that with recomputation
double plan_flops_per_token(const ModelConfig *c, int T, int recompute);
void plan_zero(const ModelConfig *c, const PlanSetup *s, int stage, PlanResult *r);

#endif
