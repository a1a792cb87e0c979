// The GPU model (include/model_cuda.h): the layer sequence of src/model/model.c on the
// kernels of include/kernels.h and the cuBLASLt matmuls of include/matmul_cuda.h.
//
// Activation gradients need no per-layer storage: the gradient of the residual
// stream lives in one buffer (dres) that every norm backward adds into (the skip
// connection's gradient is the identity), and each branch's intermediate
// gradients reuse two scratch buffers (dbuf_a, dbuf_b).
#include <nvtx3/nvToolsExt.h>
#include <string.h>
#include "common.cuh"
#include "matmul_cuda.h"
extern "C" {
#include "grad_buckets.h"
#include "model_cuda.h"
#include "util.h"
}

// memory classes, for the report at start
enum { MEM_PARAMS, MEM_OPTIM, MEM_GRADS, MEM_ACTS, MEM_SCRATCH, MEM_CLASSES };
static const char *MEM_NAMES[MEM_CLASSES] = {"bf16 parameters", "fp32 master weights + AdamW moments",
                                             "fp32 gradients", "activations", "gradient and kernel scratch"};

struct GpuModel {
    ModelConfig c;
    ParamTensor tensors[NUM_PARAM_TENSORS];
    size_t num_params, tensor_offsets[NUM_PARAM_TENSORS + 1];
    // data parallel: params and grads hold `padded` elements (a multiple of the world
    // size under ZeRO-1); the optimizer updates [begin, end), and master/m/v hold
    // shard_n elements for it (ZeRO-1: ceil(num_params / world), else num_params).
    // This rank's equal part of the padded vectors starts at shard_at (= begin, except
    // for ranks past the end of a model smaller than world x (world - 1) elements).
    size_t padded, begin, end, shard_n, shard_at;
    int sharded;
    GpuOptions o;
    int B, T;                                   // reserved shape
    floatX *params;
    float *master, *grads, *m, *v;
    // activations, per layer unless noted; ln1/ln2/fch_act hold one layer with recompute
    floatX *encoded, *ln1, *qkv, *atty, *residual2, *ln2, *fch, *fch_act, *residual3, *lnf, *logits;
    float *ln1_mean, *ln1_rstd, *ln2_mean, *ln2_rstd, *lnf_mean, *lnf_rstd, *lse, *losses;
    floatX *dres, *dbuf_a, *dbuf_b;             // residual-stream gradient and branch scratch (N x widest)
    float *rope_cos, *rope_sin;
    int *input_slots;                           // 2 staging slots x (inputs, targets), N each
    int *inputs, *targets;                      // the slot of the last forward
    void *scratch;                              // kernels' workspaces, shared (one stream)
    double *sumsq;
    float *clip_scale;
    GpuStepStats *stats;                        // the loss accumulator, the norm and the guard's flag
    void *memory;                               // everything above, one allocation
    size_t bytes[MEM_CLASSES];
    cudaStream_t stream;
    int last_B, last_T, backward_ready;
    // input staging: pinned host slots uploaded on copy_stream; `uploaded` orders the
    // compute stream after an upload, `consumed` marks the compute stream's last use
    int *staged, slot;
    cudaStream_t copy_stream;
    cudaEvent_t uploaded[2], consumed[2];
    // each update's statistics land in a pinned ring, complete when its event is
    GpuStepStats *ring;
    cudaEvent_t ring_ready[GPU_STATS_PENDING];
    int ring_head, ring_count;
    // data parallel: the gradient buckets and the comm's stream, on which every
    // collective runs in issue order (doc/kernels.md, "Data-parallel overlap")
    BucketPlan plan;
    cudaStream_t comm_stream;
    cudaEvent_t compute_mark, comm_mark;   // one stream's progress for the other to wait on
    cudaEvent_t *params_ready;             // ZeRO-1, per bucket: its parameters are broadcast
    int reducing;                          // this step's backward has issued the reductions
};

int gpu_device_probe(char *why, size_t n) {
    int devices = 0;
    cudaError_t err = cudaGetDeviceCount(&devices);
    if (err == cudaSuccess && devices > 0) return 1;
    snprintf(why, n, "%s", err != cudaSuccess ? cudaGetErrorString(err) : "none visible");
    cudaGetLastError();   // clear the sticky error of a failed probe
    return 0;
}

// one sub-allocation of the model's single device block
typedef struct {
    void **ptr;
    size_t bytes;
    int kind;
} Slot;

// every buffer of the model with its size; returns the count
static int plan_memory(GpuModel *g, Slot *s) {
    const ModelConfig *c = &g->c;
    size_t N = (size_t)g->B * g->T, L = c->n_layer, C = c->n_embd, QKV = qkv_channels(c), FC = fc_channels(c);
    size_t H = c->ffn_hidden, P = g->padded, S = g->shard_n, NH = c->n_head, Vp = c->padded_vocab_size;
    size_t one = g->o.recompute ? 1 : L, gpt2 = c->arch == ARCH_GPT2, llama = !gpt2;
    size_t widest_a = QKV > FC ? QKV : FC, widest_b = C > H ? C : H;
    size_t scratch = global_norm_scratch_bytes(), cand[] = {
        encoder_backward_scratch_bytes(g->B, g->T), layernorm_backward_scratch_bytes(N, C),
        rmsnorm_backward_scratch_bytes(N, C), flash_attention_backward_scratch_bytes(g->B, g->T, NH, head_size(c)),
        matmul_backward_scratch_bytes(N, widest_a > C ? widest_a : C)};
    for (size_t i = 0; i < sizeof cand / sizeof cand[0]; i++) scratch = cand[i] > scratch ? cand[i] : scratch;
    if (g->o.attention == GPU_ATTENTION_CUBLAS) {   // T x T scores
        size_t att = attention_gemm_scratch_bytes(g->B, g->T, c->n_head, c->n_kv_head, head_size(c));
        scratch = att > scratch ? att : scratch;
    }
    const size_t X = sizeof(floatX), F = sizeof(float);
    int k = 0;
#define SLOT(p, n, kind) (s[k++] = (Slot){(void **)&g->p, (n), (kind)})
    SLOT(params, P * X, MEM_PARAMS);
    SLOT(master, S * F, MEM_OPTIM), SLOT(m, S * F, MEM_OPTIM), SLOT(v, S * F, MEM_OPTIM);
    SLOT(grads, P * F, MEM_GRADS);
    SLOT(encoded, N * C * X, MEM_ACTS), SLOT(ln1, one * N * C * X, MEM_ACTS);
    SLOT(ln1_mean, gpt2 * L * N * F, MEM_ACTS), SLOT(ln1_rstd, L * N * F, MEM_ACTS);
    SLOT(qkv, L * N * QKV * X, MEM_ACTS), SLOT(atty, L * N * C * X, MEM_ACTS), SLOT(lse, L * g->B * NH * g->T * F, MEM_ACTS);
    SLOT(residual2, L * N * C * X, MEM_ACTS), SLOT(ln2, one * N * C * X, MEM_ACTS);
    SLOT(ln2_mean, gpt2 * L * N * F, MEM_ACTS), SLOT(ln2_rstd, L * N * F, MEM_ACTS);
    SLOT(fch, L * N * FC * X, MEM_ACTS), SLOT(fch_act, one * N * H * X, MEM_ACTS);
    SLOT(residual3, L * N * C * X, MEM_ACTS), SLOT(lnf, N * C * X, MEM_ACTS);
    SLOT(lnf_mean, gpt2 * N * F, MEM_ACTS), SLOT(lnf_rstd, N * F, MEM_ACTS);
    SLOT(logits, N * Vp * X, MEM_ACTS), SLOT(losses, N * F, MEM_ACTS);
    SLOT(input_slots, 4 * N * sizeof(int), MEM_ACTS);
    SLOT(rope_cos, llama * g->T * (C / NH / 2) * F, MEM_ACTS), SLOT(rope_sin, llama * g->T * (C / NH / 2) * F, MEM_ACTS);
    SLOT(dres, N * C * X, MEM_SCRATCH), SLOT(dbuf_a, N * widest_a * X, MEM_SCRATCH);
    SLOT(dbuf_b, N * widest_b * X, MEM_SCRATCH), SLOT(scratch, scratch, MEM_SCRATCH);
    SLOT(sumsq, sizeof(double), MEM_SCRATCH), SLOT(clip_scale, F, MEM_SCRATCH);
    SLOT(stats, sizeof(GpuStepStats), MEM_SCRATCH);
#undef SLOT
    return k;
}

// ---- data-parallel overlap (doc/kernels.md): the compute stream and the comm's
// stream wait on each other through events, never through the host

// data parallel: the gradient buckets over the padded vectors, and the backend's
// stream; -1 with scpt_error()
static int plan_buckets(GpuModel *g) {
    Comm *comm = g->o.comm;
    g->comm_stream = (cudaStream_t)comm_stream(comm);
    if (!g->comm_stream) {
        scpt_set_error("model_cuda: %d GPU ranks exchange gradients on the device, which takes --comm nccl, not %s",
                       comm->world, comm_backend_name(comm));
        return -1;
    }
    return grad_bucket_plan(&g->plan, &g->c, g->tensors, g->num_params, g->padded, comm, comm->min_bucket_elems);
}

static void create_overlap_events(GpuModel *g) {
    CUDA_CHECK(cudaEventCreateWithFlags(&g->compute_mark, cudaEventDisableTiming));
    CUDA_CHECK(cudaEventCreateWithFlags(&g->comm_mark, cudaEventDisableTiming));
    if (!g->sharded) return;
    g->params_ready = (cudaEvent_t *)xmalloc(g->plan.num_buckets * sizeof(cudaEvent_t));
    for (int k = 0; k < g->plan.num_buckets; k++)
        CUDA_CHECK(cudaEventCreateWithFlags(&g->params_ready[k], cudaEventDisableTiming));
}

// what the compute stream has issued so far comes before what is issued on the comm's stream next
static void comm_waits_for_compute(GpuModel *g) {
    CUDA_CHECK(cudaEventRecord(g->compute_mark, g->stream));
    CUDA_CHECK(cudaStreamWaitEvent(g->comm_stream, g->compute_mark, 0));
}

static void compute_waits_for_comm(GpuModel *g) {
    CUDA_CHECK(cudaEventRecord(g->comm_mark, g->comm_stream));
    CUDA_CHECK(cudaStreamWaitEvent(g->stream, g->comm_mark, 0));
}

// bucket k's gradients are complete on the compute stream: their mean over the ranks
// (ZeRO-1: into each piece's owner) on the comm's stream, while compute goes on
static void reduce_bucket(GpuModel *g, int k) {
    comm_waits_for_compute(g);
    comm_bucket_reduce_mean(g->o.comm, &g->plan, k, g->grads, g->sharded);
}

// backward has written the last gradient of `group` (include/grad_buckets.h)
static void gradients_done(GpuModel *g, int group) {
    if (g->reducing && bucket_closes(&g->plan, group)) reduce_bucket(g, g->plan.group_bucket[group]);
}

// ZeRO-1, after AdamW: every bucket's bf16 parameters from their owners, in the
// order the next forward reads them (the embeddings' bucket is the last)
static void share_parameters(GpuModel *g) {
    comm_waits_for_compute(g);
    for (int k = g->plan.num_buckets - 1; k >= 0; k--) {
        comm_bucket_broadcast(g->o.comm, &g->plan, k, g->params, sizeof(floatX));
        CUDA_CHECK(cudaEventRecord(g->params_ready[k], g->comm_stream));
    }
}

// the forward's first read of `group`'s parameters waits for their broadcast (an
// event never recorded, before the first update, does not hold the stream)
static void wait_parameters(GpuModel *g, int group) {
    if (g->params_ready) CUDA_CHECK(cudaStreamWaitEvent(g->stream, g->params_ready[g->plan.group_bucket[group]], 0));
}

// A named range in an Nsight Systems timeline (NVTX, header-only: nothing to link, a
// few nanoseconds without a profiler), open until the end of the enclosing scope:
// forward, backward and update, and each layer inside them, so that a profile's
// kernels group as `plan --roofline` lists them (doc/gpu_training.md).
struct ProfileRange {
    explicit ProfileRange(const char *what, int layer = -1) {
        char name[48];
        if (layer >= 0) snprintf(name, sizeof name, "%s layer %d", what, layer);
        nvtxRangePushA(layer >= 0 ? name : what);
    }
    ~ProfileRange() { nvtxRangePop(); }
};

__global__ static void to_bf16_kernel(floatX *out, const float *in, size_t n) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = __float2bfloat16_rn(in[i]);
}

int gpu_model_check(const ModelConfig *c, int T) {
    const char *why = NULL;
    if (!attention_supported(c->n_head, c->n_kv_head, head_size(c), &why)) {
        scpt_set_error("model_cuda: the attention kernel cannot run this model (%s)", why);
        return -1;
    }
    if (T > c->max_seq_len) {
        scpt_set_error("model_cuda: sequence length %d exceeds the model's maximum of %d", T, c->max_seq_len);
        return -1;
    }
    return 0;
}

GpuModel *gpu_model_create(const Model *m, const OptimizerState *opt, int B, int T, const GpuOptions *o) {
    const ModelConfig *c = &m->config;
    if (gpu_model_check(c, T) != 0) return NULL;
    int world = o->comm ? o->comm->world : 1, sharded = o->zero == 1 && world > 1;
    size_t P = m->num_params, begin = 0, end = P;
    if (sharded) comm_shard(o->comm, P, &begin, &end);
    if (opt && (opt->begin != begin || opt->end != end)) {
        scpt_set_error("model_cuda: the optimizer state covers [%zu, %zu); ZeRO-%d on this rank needs [%zu, %zu)",
                       opt->begin, opt->end, o->zero, begin, end);
        return NULL;
    }
    GpuModel *g = (GpuModel *)xcalloc(1, sizeof *g);
    g->c = *c;
    memcpy(g->tensors, m->tensors, sizeof g->tensors);
    g->num_params = P;
    size_t per = (P + world - 1) / world;
    g->sharded = sharded, g->begin = begin, g->end = end;
    g->padded = sharded ? per * world : P;
    g->shard_n = sharded ? per : P;
    g->shard_at = sharded ? per * o->comm->rank : 0;
    for (int i = 0; i < NUM_PARAM_TENSORS; i++) g->tensor_offsets[i] = m->tensors[i].offset;
    g->tensor_offsets[NUM_PARAM_TENSORS] = m->num_params;
    g->o = *o;
    g->B = B, g->T = T;
    // a device backend of one rank takes the same path (its collectives copy nothing)
    if ((world > 1 || (o->comm && comm_device_buffers(o->comm))) && plan_buckets(g) != 0) {
        free(g);
        return NULL;
    }

    Slot slots[64];
    int n = plan_memory(g, slots);
    size_t total = 0, offsets[64];
    for (int i = 0; i < n; i++) {
        offsets[i] = total;
        total += (slots[i].bytes + 255) & ~(size_t)255;   // 256-byte aligned: full vector and cuBLASLt alignment
        g->bytes[slots[i].kind] += slots[i].bytes;
    }
    size_t free_bytes, device_bytes;
    CUDA_CHECK(cudaMemGetInfo(&free_bytes, &device_bytes));
    size_t need = total + matmul_cuda_workspace_bytes();
    if (need > free_bytes) {
        scpt_set_error("model_cuda: batch %d x %d needs %.2f GiB of device memory, %.2f GiB are free (lower --batch, "
                       "or --recompute 1)", B, T, need / 1073741824.0, free_bytes / 1073741824.0);
        bucket_plan_free(&g->plan);
        free(g);
        return NULL;
    }
    matmul_cuda_init();
    CUDA_CHECK(cudaMalloc(&g->memory, total));
    for (int i = 0; i < n; i++) *slots[i].ptr = slots[i].bytes ? (char *)g->memory + offsets[i] : NULL;
    CUDA_CHECK(cudaStreamCreate(&g->stream));
    if (g->plan.num_buckets) create_overlap_events(g);
    CUDA_CHECK(cudaStreamCreateWithFlags(&g->copy_stream, cudaStreamNonBlocking));
    CUDA_CHECK(cudaHostAlloc((void **)&g->staged, 4 * sizeof(int) * B * T, cudaHostAllocDefault));
    CUDA_CHECK(cudaHostAlloc((void **)&g->ring, GPU_STATS_PENDING * sizeof(GpuStepStats), cudaHostAllocDefault));
    for (int i = 0; i < 2; i++) {
        CUDA_CHECK(cudaEventCreateWithFlags(&g->uploaded[i], cudaEventDisableTiming));
        CUDA_CHECK(cudaEventCreateWithFlags(&g->consumed[i], cudaEventDisableTiming));
    }
    for (int i = 0; i < GPU_STATS_PENDING; i++)
        CUDA_CHECK(cudaEventCreateWithFlags(&g->ring_ready[i], cudaEventDisableTiming));

    // the fp32 weights pass through the gradient buffer: every bf16 parameter is
    // rounded from them, the master copy keeps this rank's range; padding stays 0
    const size_t F = sizeof(float), mine = (end - begin) * F;
    cudaStream_t s = g->stream;
    CUDA_CHECK(cudaMemsetAsync(g->params, 0, g->padded * sizeof(floatX), s));
    CUDA_CHECK(cudaMemcpyAsync(g->grads, m->params, P * F, cudaMemcpyHostToDevice, s));
    to_bf16_kernel<<<ceil_div(P, 256), 256, 0, s>>>(g->params, g->grads, P);
    CUDA_CHECK_LAUNCH();
    float *state[3] = {g->master, g->m, g->v};
    for (int i = 0; i < 3; i++) CUDA_CHECK(cudaMemsetAsync(state[i], 0, g->shard_n * F, s));
    CUDA_CHECK(cudaMemcpyAsync(g->master, g->grads + begin, mine, cudaMemcpyDeviceToDevice, s));
    if (opt) {
        CUDA_CHECK(cudaMemcpyAsync(g->m, opt->m, mine, cudaMemcpyHostToDevice, s));
        CUDA_CHECK(cudaMemcpyAsync(g->v, opt->v, mine, cudaMemcpyHostToDevice, s));
    }
    CUDA_CHECK(cudaMemsetAsync(g->grads, 0, g->padded * F, s));
    CUDA_CHECK(cudaMemsetAsync(g->stats, 0, sizeof(GpuStepStats), s));
    if (c->arch == ARCH_LLAMA) {
        size_t half = head_size(c) / 2;
        float *cs = (float *)xmalloc(sizeof(float) * T * half * 2);
        rope_tables(cs, cs + T * half, T, head_size(c), c->rope_theta, c->rope_scale, c->rope_low_freq_factor,
                    c->rope_high_freq_factor, c->rope_original_context);
        CUDA_CHECK(cudaMemcpyAsync(g->rope_cos, cs, sizeof(float) * T * half, cudaMemcpyHostToDevice, g->stream));
        CUDA_CHECK(cudaMemcpyAsync(g->rope_sin, cs + T * half, sizeof(float) * T * half, cudaMemcpyHostToDevice,
                                   g->stream));
        CUDA_CHECK(cudaStreamSynchronize(g->stream));
        free(cs);
    }
    CUDA_CHECK(cudaStreamSynchronize(g->stream));
    return g;
}

size_t gpu_model_bytes(const GpuModel *g) {
    size_t total = matmul_cuda_workspace_bytes();
    for (int i = 0; i < MEM_CLASSES; i++) total += g->bytes[i];
    return total;
}

void gpu_model_print_memory(const GpuModel *g) {
    cudaDeviceProp prop;
    int dev;
    CUDA_CHECK(cudaGetDevice(&dev));
    CUDA_CHECK(cudaGetDeviceProperties(&prop, dev));
    printf("device: %s (sm_%d%d, %.1f GiB) | batch %d x %d%s%s\n", prop.name, prop.major, prop.minor,
           prop.totalGlobalMem / 1073741824.0, g->B, g->T, g->o.recompute ? " | recompute" : "",
           g->o.deterministic ? " | deterministic" : "");
    for (int i = 0; i < MEM_CLASSES; i++) printf("  %-38s %9.1f MiB\n", MEM_NAMES[i], g->bytes[i] / 1048576.0);
    printf("  %-38s %9.1f MiB\n", "cuBLASLt workspace", matmul_cuda_workspace_bytes() / 1048576.0);
    printf("  %-38s %9.1f MiB (peak: all of it is allocated at start)\n", "total", gpu_model_bytes(g) / 1048576.0);
    // every rank allocates the same (equal padded shards); what differs is the range
    const Comm *comm = g->o.comm;
    for (int r = 0; r < (comm ? comm->world : 1); r++) {
        size_t b = 0, e = g->num_params;
        if (g->sharded) comm_shard_of(comm, r, g->num_params, &b, &e);
        const double MiB = 1048576.0;
        double rest = gpu_model_bytes(g) - g->bytes[MEM_PARAMS] - g->bytes[MEM_GRADS] - g->bytes[MEM_OPTIM];
        printf("memory rank %d (ZeRO-%d, GPU): bf16 params %.1f + fp32 grads %.1f + fp32 master, adam m,v %.1f "
               "(params [%zu, %zu)) + activations and scratch %.1f = %.1f MiB\n",
               r, g->o.zero, g->bytes[MEM_PARAMS] / MiB, g->bytes[MEM_GRADS] / MiB, g->bytes[MEM_OPTIM] / MiB, b, e,
               rest / MiB, gpu_model_bytes(g) / MiB);
    }
    if (g->plan.num_buckets)
        printf("gradient buckets: %d of >= %.3g MiB (the last may be smaller), %zu pieces across the shards; "
               "reduced during the last micro-batch's backward%s\n",
               g->plan.num_buckets, comm->min_bucket_elems * sizeof(float) / 1048576.0,
               g->plan.piece_start[g->plan.num_buckets],
               g->sharded ? ", parameters broadcast during the next forward" : "");
    // training FLOPs per token as PaLM (appendix B) counts them: 6 per matmul weight
    // (forward 2, backward 4) plus 12 * L * C * T for attention's two T x T products
    // (not halved for the causal mask). dev/bench_e2e.sh reads this line for MFU.
    const ModelConfig *c = &g->c;
    double L = c->n_layer, C = c->n_embd, H = c->ffn_hidden;
    double weights = L * (C * qkv_channels(c) + C * C + C * fc_channels(c) + H * C) + (double)c->padded_vocab_size * C;
    printf("flops per token: %.6g (6 x %.0f matmul weights + 12 x L x C x T, T = %d)\n",
           6 * weights + 12 * L * C * g->T, weights, g->T);
}

// one layer's slice of a parameter-shaped buffer: bf16 params or fp32 grads
template <typename TT> struct LayerW {
    TT *ln1w, *ln1b, *qkvw, *qkvb, *attprojw, *attprojb, *ln2w, *ln2b, *fcw, *fcb, *fcprojw, *fcprojb;
};

template <typename TT> static TT *tensor(const GpuModel *g, TT *base, int t) {
    return g->tensors[t].size ? base + g->tensors[t].offset : NULL;
}

template <typename TT> static LayerW<TT> layer_w(const GpuModel *g, TT *base, int l) {
    const ModelConfig *c = &g->c;
    size_t C = c->n_embd, QKV = qkv_channels(c), FC = fc_channels(c), H = c->ffn_hidden;
    auto slice = [&](int t, size_t per_layer) { TT *p = tensor(g, base, t); return p ? p + l * per_layer : p; };
    return LayerW<TT>{slice(P_LN1W, C), slice(P_LN1B, C), slice(P_QKVW, QKV * C), slice(P_QKVB, QKV),
                      slice(P_ATTPROJW, C * C), slice(P_ATTPROJB, C), slice(P_LN2W, C), slice(P_LN2B, C),
                      slice(P_FCW, FC * C), slice(P_FCB, FC), slice(P_FCPROJW, C * H), slice(P_FCPROJB, C)};
}

template <typename TT> static TT *head(const GpuModel *g, TT *base) {
    return tensor(g, base, g->c.tied_embeddings ? P_WTE : P_LMHEAD);
}

// one layer's activations for the current N = B * T
typedef struct {
    floatX *residual, *ln1, *qkv, *atty, *residual2, *ln2, *fch, *fch_act, *residual3;
    float *ln1_mean, *ln1_rstd, *ln2_mean, *ln2_rstd, *lse;
} LayerActs;

static LayerActs layer_acts(const GpuModel *g, int l) {
    const ModelConfig *c = &g->c;
    size_t N = (size_t)g->B * g->T, C = c->n_embd, kept = g->o.recompute ? 0 : l;
    return LayerActs{
        l == 0 ? g->encoded : g->residual3 + (l - 1) * N * C, g->ln1 + kept * N * C,
        g->qkv + l * N * qkv_channels(c), g->atty + l * N * C, g->residual2 + l * N * C, g->ln2 + kept * N * C,
        g->fch + l * N * fc_channels(c), g->fch_act + kept * N * c->ffn_hidden, g->residual3 + l * N * C,
        g->ln1_mean ? g->ln1_mean + l * N : NULL, g->ln1_rstd + l * N, g->ln2_mean ? g->ln2_mean + l * N : NULL,
        g->ln2_rstd + l * N, g->lse + l * N * c->n_head,
    };
}

static void norm_forward(GpuModel *g, floatX *out, float *mean, float *rstd, const floatX *inp, const floatX *w,
                         const floatX *b, int N) {
    const ModelConfig *c = &g->c;
    if (c->arch == ARCH_GPT2) layernorm_forward_cuda(out, mean, rstd, inp, w, b, N, c->n_embd, c->norm_eps, g->stream);
    else rmsnorm_forward_cuda(out, rstd, inp, w, N, c->n_embd, c->norm_eps, g->stream);
}

// residual = a + b, then out = the norm of residual: one fused kernel with the same bits
// as residual_forward_cuda then norm_forward (what the backward's recompute relies on)
static void residual_norm_forward(GpuModel *g, floatX *residual, floatX *out, float *mean, float *rstd,
                                  const floatX *a, const floatX *b, const floatX *w, const floatX *bias, int N) {
    const ModelConfig *c = &g->c;
    if (c->arch == ARCH_GPT2)
        residual_layernorm_forward_cuda(residual, out, mean, rstd, a, b, w, bias, N, c->n_embd, c->norm_eps, g->stream);
    else residual_rmsnorm_forward_cuda(residual, out, rstd, a, b, w, N, c->n_embd, c->norm_eps, g->stream);
}

static void norm_backward(GpuModel *g, floatX *dinp, float *dw, float *db, const floatX *dout, const floatX *inp,
                          const floatX *w, const float *mean, const float *rstd, int N) {
    const ModelConfig *c = &g->c;
    if (c->arch == ARCH_GPT2)
        layernorm_backward_cuda(dinp, dw, db, dout, inp, w, mean, rstd, N, c->n_embd, g->scratch, g->stream);
    else rmsnorm_backward_cuda(dinp, dw, dout, inp, w, rstd, N, c->n_embd, g->scratch, g->stream);
}

// the MLP activation of one layer: fch -> fch_act
static void activation_forward(GpuModel *g, const LayerActs *x, int N) {
    const ModelConfig *c = &g->c;
    if (c->arch == ARCH_GPT2) gelu_forward_cuda(x->fch_act, x->fch, (size_t)N * c->ffn_hidden, g->stream);
    else swiglu_forward_cuda(x->fch_act, x->fch, N, c->ffn_hidden, g->stream);
}

// attention by the kernels GpuOptions.attention selects (same arguments and lse)
static void attention_forward(GpuModel *g, floatX *out, float *lse, const floatX *qkv, int B, int T) {
    int NH = g->c.n_head, NKV = g->c.n_kv_head, HS = head_size(&g->c);
    switch (g->o.attention) {
    case GPU_ATTENTION_FLASH: flash_attention_forward_cuda(out, lse, qkv, B, T, NH, NKV, HS, g->stream); break;
    case GPU_ATTENTION_FP32: attention_forward_cuda(out, lse, qkv, B, T, NH, NKV, HS, g->stream); break;
    case GPU_ATTENTION_CUBLAS:
        attention_gemm_forward_cuda(out, lse, qkv, B, T, NH, NKV, HS, g->scratch, g->stream);
        break;
    }
}

static void attention_backward(GpuModel *g, floatX *dqkv, const floatX *dout, const floatX *qkv, const floatX *out,
                               const float *lse, int B, int T) {
    int NH = g->c.n_head, NKV = g->c.n_kv_head, HS = head_size(&g->c);
    switch (g->o.attention) {
    case GPU_ATTENTION_FLASH:
        flash_attention_backward_cuda(dqkv, dout, qkv, out, lse, B, T, NH, NKV, HS, g->o.deterministic, g->scratch,
                                      g->stream);
        break;
    case GPU_ATTENTION_FP32:
        attention_backward_cuda(dqkv, dout, qkv, out, lse, B, T, NH, NKV, HS, g->scratch, g->stream);
        break;
    case GPU_ATTENTION_CUBLAS:
        attention_gemm_backward_cuda(dqkv, dout, qkv, out, lse, B, T, NH, NKV, HS, g->scratch, g->stream);
        break;
    }
}

// Copies inputs (and targets) into the next pinned slot and uploads them on the copy
// stream; the compute stream waits for the upload. The host waits only until the
// compute stream is done with the slot's previous contents (two forwards back).
static void stage_inputs(GpuModel *g, const int *inputs, const int *targets, int N) {
    int k = g->slot;
    g->slot ^= 1;
    size_t room = (size_t)g->B * g->T;
    CUDA_CHECK(cudaEventSynchronize(g->consumed[k]));
    int *host = g->staged + 2 * k * room, *dev = g->input_slots + 2 * k * room;
    memcpy(host, inputs, sizeof(int) * N);
    if (targets) memcpy(host + room, targets, sizeof(int) * N);
    CUDA_CHECK(cudaMemcpyAsync(dev, host, sizeof(int) * N, cudaMemcpyHostToDevice, g->copy_stream));
    if (targets)
        CUDA_CHECK(cudaMemcpyAsync(dev + room, host + room, sizeof(int) * N, cudaMemcpyHostToDevice, g->copy_stream));
    CUDA_CHECK(cudaEventRecord(g->uploaded[k], g->copy_stream));
    CUDA_CHECK(cudaStreamWaitEvent(g->stream, g->uploaded[k], 0));
    g->inputs = dev, g->targets = dev + room;
}

// the compute stream's last use of the current slot so far (re-recorded by backward)
static void release_inputs(GpuModel *g) { CUDA_CHECK(cudaEventRecord(g->consumed[g->slot ^ 1], g->stream)); }

void gpu_model_forward(GpuModel *g, const int *inputs, const int *targets, int B, int T, float loss_scale) {
    ProfileRange range("forward");
    const ModelConfig *c = &g->c;
    if (B > g->B || T > g->T) die("gpu_model_forward: %d x %d exceeds the reserved %d x %d", B, T, g->B, g->T);
    // activations are laid out for the reserved shape; a smaller pass uses its start
    int N = B * T, C = c->n_embd, NH = c->n_head, NKV = c->n_kv_head, HS = head_size(c);
    stage_inputs(g, inputs, targets, N);   // slots are laid out for the reserved shape
    int saved_B = g->B, saved_T = g->T;
    g->B = B, g->T = T;   // layer_acts strides by the pass's N
    cudaStream_t s = g->stream;
    wait_parameters(g, GRAD_GROUP_EMBEDDINGS(c));
    encoder_forward_cuda(g->encoded, g->inputs, tensor(g, g->params, P_WTE), tensor(g, g->params, P_WPE), B, T, C, s);
    int fused_gelu = c->arch == ARCH_GPT2 && g->o.fuse_gelu;
    for (int l = 0; l < c->n_layer; l++) {
        ProfileRange layer("forward", l);
        LayerActs x = layer_acts(g, l);
        LayerW<floatX> p = layer_w(g, g->params, l);
        wait_parameters(g, GRAD_GROUP_LAYER(c, l));
        // later layers' ln1 came with the previous layer's residual3
        if (l == 0) norm_forward(g, x.ln1, x.ln1_mean, x.ln1_rstd, x.residual, p.ln1w, p.ln1b, N);
        matmul_forward_cuda(x.qkv, NULL, x.ln1, p.qkvw, p.qkvb, N, C, qkv_channels(c), s);
        if (c->arch == ARCH_LLAMA) rope_forward_cuda(x.qkv, g->rope_cos, g->rope_sin, B, T, NH, NKV, HS, s);
        attention_forward(g, x.atty, x.lse, x.qkv, B, T);
        matmul_forward_cuda(g->dbuf_b, NULL, x.atty, p.attprojw, p.attprojb, N, C, C, s);
        residual_norm_forward(g, x.residual2, x.ln2, x.ln2_mean, x.ln2_rstd, x.residual, g->dbuf_b, p.ln2w, p.ln2b, N);
        if (fused_gelu) {
            matmul_forward_cuda(x.fch_act, x.fch, x.ln2, p.fcw, p.fcb, N, C, fc_channels(c), s);
        } else {
            matmul_forward_cuda(x.fch, NULL, x.ln2, p.fcw, p.fcb, N, C, fc_channels(c), s);
            activation_forward(g, &x, N);
        }
        matmul_forward_cuda(g->dbuf_b, NULL, x.fch_act, p.fcprojw, p.fcprojb, N, c->ffn_hidden, C, s);
        // residual3 and the norm that reads it: the next layer's ln1, or lnf after the last
        if (l + 1 < c->n_layer) {
            LayerActs nx = layer_acts(g, l + 1);
            LayerW<floatX> np = layer_w(g, g->params, l + 1);
            wait_parameters(g, GRAD_GROUP_LAYER(c, l + 1));   // np.ln1w
            residual_norm_forward(g, x.residual3, nx.ln1, nx.ln1_mean, nx.ln1_rstd, x.residual2, g->dbuf_b, np.ln1w,
                                  np.ln1b, N);
        } else {
            wait_parameters(g, GRAD_GROUP_HEAD);   // the final norm's weights
            residual_norm_forward(g, x.residual3, g->lnf, g->lnf_mean, g->lnf_rstd, x.residual2, g->dbuf_b,
                                  tensor(g, g->params, P_LNFW), tensor(g, g->params, P_LNFB), N);
        }
    }
    matmul_forward_cuda(g->logits, NULL, g->lnf, head(g, g->params), NULL, N, C, c->padded_vocab_size, s);
    g->B = saved_B, g->T = saved_T;
    g->backward_ready = 0;
    if (targets) {
        int count = 0;
        for (int i = 0; i < N; i++) count += targets[i] >= 0;
        int train = loss_scale > 0;
        classifier_fused_cuda(g->losses, g->logits, g->targets, count ? loss_scale / count : 0.0f, N, c->vocab_size,
                              c->padded_vocab_size, train, s);
        loss_sum_cuda(&g->stats->loss_sum, g->losses, N, s);
        g->last_B = B, g->last_T = T, g->backward_ready = train;
    }
    release_inputs(g);
}

double gpu_model_loss_sum(GpuModel *g) {
    double sum;
    CUDA_CHECK(cudaMemcpyAsync(&sum, &g->stats->loss_sum, sizeof sum, cudaMemcpyDeviceToHost, g->stream));
    CUDA_CHECK(cudaMemsetAsync(&g->stats->loss_sum, 0, sizeof sum, g->stream));
    CUDA_CHECK(cudaStreamSynchronize(g->stream));
    return sum;
}

void gpu_model_backward(GpuModel *g, int last_micro) {
    ProfileRange range("backward");
    const ModelConfig *c = &g->c;
    if (!g->backward_ready) die("gpu_model_backward: the last forward was not a training forward with targets");
    int B = g->last_B, T = g->last_T, N = B * T, C = c->n_embd, NH = c->n_head, NKV = c->n_kv_head;
    int HS = head_size(c), H = c->ffn_hidden, FC = fc_channels(c), QKV = qkv_channels(c);
    int saved_B = g->B, saved_T = g->T;
    g->B = B, g->T = T;
    g->reducing = last_micro && g->plan.num_buckets;
    cudaStream_t s = g->stream;
    const size_t X = sizeof(floatX);
    int fused_gelu = c->arch == ARCH_GPT2 && g->o.fuse_gelu;
    // the logits hold their gradient (fused classifier in the forward)
    matmul_backward_cuda(g->dbuf_b, head(g, g->grads), NULL, g->logits, g->lnf, head(g, g->params), NULL, N, C,
                         c->padded_vocab_size, g->scratch, s);
    CUDA_CHECK(cudaMemsetAsync(g->dres, 0, (size_t)N * C * X, s));
    LayerActs last = layer_acts(g, c->n_layer - 1);
    norm_backward(g, g->dres, tensor(g, g->grads, P_LNFW), tensor(g, g->grads, P_LNFB), g->dbuf_b, last.residual3,
                  tensor(g, g->params, P_LNFW), g->lnf_mean, g->lnf_rstd, N);
    gradients_done(g, GRAD_GROUP_HEAD);
    for (int l = c->n_layer - 1; l >= 0; l--) {
        ProfileRange layer("backward", l);
        LayerActs x = layer_acts(g, l);
        LayerW<floatX> p = layer_w(g, g->params, l);
        LayerW<float> dp = layer_w(g, g->grads, l);
        // MLP branch: its output's gradient is dres
        if (g->o.recompute) {
            norm_forward(g, x.ln2, x.ln2_mean, x.ln2_rstd, x.residual2, p.ln2w, p.ln2b, N);
            activation_forward(g, &x, N);
        }
        if (fused_gelu) {
            matmul_backward_cuda(g->dbuf_a, dp.fcprojw, dp.fcprojb, g->dres, x.fch_act, p.fcprojw, x.fch, N, H, C,
                                 g->scratch, s);
        } else {
            matmul_backward_cuda(g->dbuf_b, dp.fcprojw, dp.fcprojb, g->dres, x.fch_act, p.fcprojw, NULL, N, H, C,
                                 g->scratch, s);
            CUDA_CHECK(cudaMemsetAsync(g->dbuf_a, 0, (size_t)N * FC * X, s));
            if (c->arch == ARCH_GPT2) gelu_backward_cuda(g->dbuf_a, x.fch, g->dbuf_b, (size_t)N * H, s);
            else swiglu_backward_cuda(g->dbuf_a, x.fch, g->dbuf_b, N, H, s);
        }
        matmul_backward_cuda(g->dbuf_b, dp.fcw, dp.fcb, g->dbuf_a, x.ln2, p.fcw, NULL, N, C, FC, g->scratch, s);
        norm_backward(g, g->dres, dp.ln2w, dp.ln2b, g->dbuf_b, x.residual2, p.ln2w, x.ln2_mean, x.ln2_rstd, N);
        // attention branch
        matmul_backward_cuda(g->dbuf_b, dp.attprojw, dp.attprojb, g->dres, x.atty, p.attprojw, NULL, N, C, C,
                             g->scratch, s);
        CUDA_CHECK(cudaMemsetAsync(g->dbuf_a, 0, (size_t)N * QKV * X, s));
        attention_backward(g, g->dbuf_a, g->dbuf_b, x.qkv, x.atty, x.lse, B, T);
        if (c->arch == ARCH_LLAMA) rope_backward_cuda(g->dbuf_a, g->rope_cos, g->rope_sin, B, T, NH, NKV, HS, s);
        if (g->o.recompute) norm_forward(g, x.ln1, x.ln1_mean, x.ln1_rstd, x.residual, p.ln1w, p.ln1b, N);
        matmul_backward_cuda(g->dbuf_b, dp.qkvw, dp.qkvb, g->dbuf_a, x.ln1, p.qkvw, NULL, N, C, QKV, g->scratch, s);
        norm_backward(g, g->dres, dp.ln1w, dp.ln1b, g->dbuf_b, x.residual, p.ln1w, x.ln1_mean, x.ln1_rstd, N);
        gradients_done(g, GRAD_GROUP_LAYER(c, l));
    }
    encoder_backward_cuda(tensor(g, g->grads, P_WTE), tensor(g, g->grads, P_WPE), g->dres, g->inputs, B, T, C,
                          g->o.deterministic, g->scratch, s);
    gradients_done(g, GRAD_GROUP_EMBEDDINGS(c));
    release_inputs(g);
    g->B = saved_B, g->T = saved_T;
    g->backward_ready = 0;
}

// x[0, n) <- 0 unless a step has diverged: its gradients stay for the host's diagnosis
__global__ static void zero_unless_diverged_kernel(float *x, size_t n, const GpuStepStats *stats) {
    if (stats->diverged) return;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        x[i] = 0.0f;
}

void gpu_model_zero_grad(GpuModel *g) {
    // reductions a step issued but did not finish (its update never came) read the gradients
    if (g->reducing) compute_waits_for_comm(g);
    g->reducing = 0;
    size_t blocks = ceil_div(g->padded, 256);
    zero_unless_diverged_kernel<<<blocks < 65536 ? blocks : 65536, 256, 0, g->stream>>>(g->grads, g->padded, g->stats);
    CUDA_CHECK_LAUNCH();
    CUDA_CHECK(cudaMemsetAsync(&g->stats->loss_sum, 0, sizeof(double), g->stream));
}

void gpu_model_update(GpuModel *g, const AdamWConfig *cfg, float lr, int t, float max_norm) {
    ProfileRange range("update");
    cudaStream_t s = g->stream;
    if (g->plan.num_buckets) {
        // the reductions the backward did not issue (no backward of this step was its last) go now
        if (!g->reducing)
            for (int k = 0; k < g->plan.num_buckets; k++) reduce_bucket(g, k);
        g->reducing = 0;
        compute_waits_for_comm(g);
    }
    global_norm_squared_cuda(g->sumsq, g->grads + g->begin, g->end - g->begin, g->scratch, s);
    if (g->plan.num_buckets) {
        // added over the ranks on the device: the loss sums (so that every rank's guard
        // sees the same loss, and the host needs no collective for it) and under ZeRO-1
        // the shards' sums of squares (the norm of the whole vector)
        comm_waits_for_compute(g);
        comm_sum_in_place(g->o.comm, &g->stats->loss_sum, 1);
        if (g->sharded) comm_sum_in_place(g->o.comm, g->sumsq, 1);
        compute_waits_for_comm(g);
    }
    clip_scale_cuda(g->clip_scale, &g->stats->norm, g->sumsq, max_norm, &g->stats->loss_sum, &g->stats->diverged, s);
    adamw_step_cuda(g->params, g->master, g->grads, g->m, g->v, g->begin, g->end, g->tensor_offsets,
                    NUM_PARAM_TENSORS, cfg->decay_mask, lr, cfg->beta1, cfg->beta2, cfg->eps, cfg->weight_decay, t,
                    g->clip_scale, 0, s);
    // each rank wrote the bf16 parameters of its range; the others' come over the wire
    // while the next forward runs
    if (g->sharded) share_parameters(g);
    if (g->ring_count == GPU_STATS_PENDING)
        die("gpu_model_update: %d updates wait unread (gpu_model_step_stats)", GPU_STATS_PENDING);
    int k = (g->ring_head + g->ring_count++) % GPU_STATS_PENDING;
    CUDA_CHECK(cudaMemcpyAsync(&g->ring[k], g->stats, sizeof(GpuStepStats), cudaMemcpyDeviceToHost, s));
    CUDA_CHECK(cudaEventRecord(g->ring_ready[k], s));
    CUDA_CHECK(cudaMemsetAsync(&g->stats->loss_sum, 0, sizeof(double), s));   // taken with the statistics
}

int gpu_model_step_stats(GpuModel *g, GpuStepStats *out) {
    if (g->ring_count == 0) return 0;
    CUDA_CHECK(cudaEventSynchronize(g->ring_ready[g->ring_head]));
    *out = g->ring[g->ring_head];
    g->ring_head = (g->ring_head + 1) % GPU_STATS_PENDING, g->ring_count--;
    return 1;
}

// host[0, hi - lo) <- elements [lo, hi) of a vector whose optimizer range this rank
// holds at `range` (master weights, m or v). ZeRO-1: the shards are all-gathered in
// the gradient buffer first (a collective).
static void fetch(GpuModel *g, float *host, const float *range, size_t lo, size_t hi) {
    cudaStream_t s = g->stream;
    const float *whole = range;
    if (g->sharded) {
        CUDA_CHECK(cudaMemcpyAsync(g->grads + g->shard_at, range, g->shard_n * sizeof(float), cudaMemcpyDeviceToDevice,
                                   s));
        CUDA_CHECK(cudaStreamSynchronize(s));
        comm_all_gather(g->o.comm, g->grads, g->padded);
        whole = g->grads;
    }
    CUDA_CHECK(cudaMemcpyAsync(host, whole + lo, (hi - lo) * sizeof(float), cudaMemcpyDeviceToHost, s));
}

void gpu_model_download(GpuModel *g, Model *m, OptimizerState *opt) {
    // reductions a last backward issued without an update after it still write the gradients
    if (g->reducing) compute_waits_for_comm(g);
    // the gradients first: under ZeRO-1 their buffer is the staging area below
    CUDA_CHECK(cudaMemcpyAsync(m->grads, g->grads, g->num_params * sizeof(float), cudaMemcpyDeviceToHost, g->stream));
    fetch(g, m->params, g->master, 0, g->num_params);
    if (opt) {
        fetch(g, opt->m, g->m, opt->begin, opt->end);
        fetch(g, opt->v, g->v, opt->begin, opt->end);
    }
    CUDA_CHECK(cudaStreamSynchronize(g->stream));
}

void gpu_model_free(GpuModel *g) {
    if (!g) return;
    CUDA_CHECK(cudaStreamSynchronize(g->stream));
    CUDA_CHECK(cudaStreamDestroy(g->stream));
    if (g->plan.num_buckets) {
        CUDA_CHECK(cudaStreamSynchronize(g->comm_stream));   // broadcasts into the parameters
        CUDA_CHECK(cudaEventDestroy(g->compute_mark));
        CUDA_CHECK(cudaEventDestroy(g->comm_mark));
        for (int k = 0; g->params_ready && k < g->plan.num_buckets; k++)
            CUDA_CHECK(cudaEventDestroy(g->params_ready[k]));
        free(g->params_ready);
        bucket_plan_free(&g->plan);
    }
    CUDA_CHECK(cudaStreamDestroy(g->copy_stream));
    for (int i = 0; i < 2; i++) {
        CUDA_CHECK(cudaEventDestroy(g->uploaded[i]));
        CUDA_CHECK(cudaEventDestroy(g->consumed[i]));
    }
    for (int i = 0; i < GPU_STATS_PENDING; i++) CUDA_CHECK(cudaEventDestroy(g->ring_ready[i]));
    CUDA_CHECK(cudaFreeHost(g->staged));
    CUDA_CHECK(cudaFreeHost(g->ring));
    CUDA_CHECK(cudaFree(g->memory));
    free(g);
}
