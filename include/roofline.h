// The roofline of one optimizer step of the GPU path (src/model/model_cuda.cu): the
// kernels it launches, in its order, each with the FLOPs it executes (tensor cores
// or CUDA cores) and the bytes it must move to and from HBM, and the time the card
// allows: max(FLOPs / achievable rate, bytes / achievable bandwidth) plus a launch
// gap. `plan --roofline` prints it; doc/benchmarks.md "Roofline" explains it.
//
// What is counted: the FLOPs each kernel executes, masked tile halves included (the
// flash kernels compute whole 64 x 64 and 64 x 32 tiles on the diagonal; the cuBLAS
// attention the whole T x T square); bytes: every tensor a kernel reads or writes
// once, at the width it is stored (bf16 activations and parameters, fp32 gradients,
// statistics and optimizer state), and re-reads that L2 serves (a row read twice,
// K/V tiles shared by the query blocks) not at all. Not counted: host transfers and
// synchronisations, data-parallel communication (`plan` without --roofline), the
// exponentials of softmax (CUDA-core work beside the tensor-core products).
#ifndef SCPT_ROOFLINE_H
#define SCPT_ROOFLINE_H

#include "model.h"
#include "model_cuda.h"

// a card's datasheet peaks (dense, without sparsity) and what a FlashAttention-2
// class kernel (mma.sync) reaches of the bf16 peak on it
typedef struct {
    const char *name, *label;
    double bf16_tflops, fp32_tflops, hbm_tbs;
    double flash_fraction;
} RooflineGpu;

const RooflineGpu *roofline_gpu(const char *name);   // NULL when unknown
const char *roofline_gpu_names(void);                 // for --help and errors

// the card as the model uses it: peaks and the fractions of them reached
typedef struct {
    double bf16_tflops, fp32_tflops, hbm_tbs;
    double compute_fraction;     // cuBLAS(Lt) GEMMs and CUDA-core arithmetic, of their peak
    double flash_fraction;       // the flash attention kernels, of the bf16 peak
    double bandwidth_fraction;   // of the HBM peak
    double launch_us;            // gap per launch on a busy stream
} RooflineCard;

// the default fractions (doc/benchmarks.md says why)
#define ROOFLINE_COMPUTE_FRACTION 0.75
#define ROOFLINE_BANDWIDTH_FRACTION 0.85
#define ROOFLINE_LAUNCH_US 2.0

RooflineCard roofline_card(const RooflineGpu *gpu);   // the GPU's peaks and the default fractions
int roofline_card_check(const RooflineCard *card);   // -1 with scpt_error() when a value is not finite or > 0

typedef struct {
    int B, T, grad_accum;        // micro-batch B x T, micro-batches per optimizer step
    GpuAttention attention;
    int recompute, fuse_gelu, deterministic;   // GpuOptions' (train: fuse_gelu 1, deterministic 1)
} RooflineSetup;

// one row: a kernel family of the step (launches of several shapes add up)
enum { ROOFLINE_MAX_ROWS = 32 };
typedef struct {
    const char *name;
    double launches;             // per optimizer step
    double tensor_flops, cuda_flops, bytes;
    double compute_s, memory_s;  // of the launches bound by compute, and by memory
    double seconds;              // expected, launch gaps included
} RooflineRow;

typedef struct {
    RooflineRow rows[ROOFLINE_MAX_ROWS];
    int n;
    double launches, tensor_flops, cuda_flops, bytes, seconds;   // the step
    double tokens;            // per optimizer step
    double tokens_per_s;
    double model_flops;       // PaLM's count of the step: (6 x matmul weights + 12 L C T) x tokens
    double mfu;               // model_flops / seconds / bf16 peak
} Roofline;

// the step of `c` under `s` on `card`; -1 with scpt_error() for a bad setup or card
int roofline_step(const ModelConfig *c, const RooflineSetup *s, const RooflineCard *card, Roofline *r);
// weights of the matmuls per token, the lm head once (gpu_model_print_memory's count)
double roofline_matmul_weights(const ModelConfig *c);
// query-key pairs a causal kernel computes for one head of one sequence: blocks of
// `rows` queries, each over key tiles of `keys` up to its last query
double roofline_causal_pairs(int T, int rows, int keys);

#endif
