// train: continued pretraining of GPT-2 / Llama 3 models on mixed synthetic and
// replay token shards. With no arguments it trains a small GPT-2-vocabulary model
// on the demo shards (data/demo, built by `make demo-data`).
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "args.h"
#include "buckets.h"
#include "checkpoint.h"
#include "comm.h"
#include "convert.h"
#include "loader.h"
#include "metrics.h"
#include "model.h"
#include "model_cuda.h"
#include "optim.h"
#include "qa_eval.h"
#include "util.h"
#include "zero.h"

#define DEMO_TRAIN "data/demo/brown_train_*.bin"   // built by `make demo-data`

typedef struct {
    const char *model, *init, *resume, *train, *replay, *val, *out, *metrics, *schedule, *decay, *comm;
    float replay_frac, lr, min_lr_frac, weight_decay, beta1, beta2, eps, clip;
    int batch, seq, grad_accum, steps, warmup, eval_every, val_batches, ckpt_every, keep_ckpts, seed, threads;
    int log_every, zero;
    float bucket_mib;       // data parallel: the smallest gradient bucket (include/buckets.h)
    const char *qa, *qa_vocab;
    int qa_every, qa_limit;
    const char *device;     // auto, cpu, cuda (include/model_cuda.h)
    int deterministic, recompute;
    int layers;             // 0: the preset's
    const char *attention;  // GPU attention kernels: flash, fp32 or cublas
    int no_final_ckpt;
} TrainArgs;

static TrainArgs parse_args(int argc, char **argv) {
    TrainArgs a = {
        .model = "gpt2-demo", .train = DEMO_TRAIN, .val = "data/demo/brown_val_*.bin",
        .out = "out/demo", .schedule = "cosine", .decay = "matrices", .lr = 1e-3f, .min_lr_frac = 0.1f,
        .weight_decay = 0.1f, .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f, .clip = 1.0f, .batch = 8, .seq = 64,
        .grad_accum = 1, .steps = 150, .warmup = 10, .eval_every = 50, .val_batches = 8, .ckpt_every = 0,
        .keep_ckpts = 2, .seed = 1337, .threads = 0, .log_every = 1,
        .qa_vocab = "gpt2", .comm = "auto", .zero = 1, .device = "auto", .deterministic = 1, .recompute = 0,
        .attention = "flash", .bucket_mib = BUCKET_DEFAULT_MIB,
    };
    ArgSpec specs[] = {
        {"--model", ARG_STRING, &a.model, "model preset for a new run", 0, 0},
        {"--init", ARG_STRING, &a.init, "start from these weights (fresh optimizer): checkpoint, Hugging Face folder, llm.c .bin or .gguf", 0, 0},
        {"--resume", ARG_STRING, &a.resume, "continue from a checkpoint, or 'auto': the newest in --out (the default when --out holds one)", 0, 0},
        {"--train", ARG_STRING, &a.train, "training shards (glob; commas join several)", 0, 0},
        {"--replay", ARG_STRING, &a.replay, "replay shards mixed into training", 0, 0},
        {"--replay-frac", ARG_FLOAT, &a.replay_frac, "fraction of windows drawn from --replay", 0, 1},
        {"--val", ARG_STRING, &a.val, "validation shards ('' for none)", 0, 0},
        {"--batch", ARG_INT, &a.batch, "sequences per micro-batch", 1, 1 << 20},
        {"--seq", ARG_INT, &a.seq, "tokens per sequence", 1, 1 << 20},
        {"--grad-accum", ARG_INT, &a.grad_accum, "micro-batches per optimizer step", 1, 1 << 20},
        {"--steps", ARG_INT, &a.steps, "optimizer steps in the whole run", 1, 1e9},
        {"--lr", ARG_FLOAT, &a.lr, "peak learning rate", 0, 10},
        {"--min-lr-frac", ARG_FLOAT, &a.min_lr_frac, "final learning rate as a fraction of --lr", 0, 1},
        {"--warmup", ARG_INT, &a.warmup, "linear warmup steps", 0, 1e9},
        {"--schedule", ARG_STRING, &a.schedule, "decay after warmup: cosine, linear, constant", 0, 0},
        {"--weight-decay", ARG_FLOAT, &a.weight_decay, "AdamW decoupled weight decay", 0, 10},
        {"--decay", ARG_STRING, &a.decay, "tensors that decay: matrices, matrices-no-embed, all, none, or names",
         0, 0},
        {"--beta1", ARG_FLOAT, &a.beta1, "AdamW beta1", 0, 0.999999},
        {"--beta2", ARG_FLOAT, &a.beta2, "AdamW beta2", 0, 0.999999},
        {"--eps", ARG_FLOAT, &a.eps, "AdamW epsilon", 0, 1},
        {"--clip", ARG_FLOAT, &a.clip, "clip the global gradient norm to this (0: off)", 0, 1e9},
        {"--eval-every", ARG_INT, &a.eval_every, "validation loss every N steps (0: only at the end)", 0, 1e9},
        {"--val-batches", ARG_INT, &a.val_batches, "batches per validation pass", 1, 1e9},
        {"--ckpt-every", ARG_INT, &a.ckpt_every, "checkpoint every N steps (0: only at the end)", 0, 1e9},
        {"--no-final-ckpt", ARG_FLAG, &a.no_final_ckpt,
         "write no checkpoint at the last step (benchmarks: a 1B model's is 15 GB); a rerun then starts over", 0, 0},
        {"--keep-ckpts", ARG_INT, &a.keep_ckpts, "newest checkpoints kept in --out (0: all)", 0, 1e9},
        {"--out", ARG_STRING, &a.out, "run directory: checkpoints and metrics", 0, 0},
        {"--metrics", ARG_STRING, &a.metrics, "metrics JSONL (default <out>/metrics.jsonl)", 0, 0},
        {"--seed", ARG_INT, &a.seed, "seed of every random stream (init, shuffle, mix)", 0, 2147483647},
        {"--threads", ARG_INT, &a.threads, "CPU threads (0: all cores)", 0, 4096},
        {"--log-every", ARG_INT, &a.log_every, "print a progress line every N steps", 1, 1e9},
        {"--qa", ARG_STRING, &a.qa, "QA set (eval's formats): closed-book accuracy into the metrics", 0, 0},
        {"--qa-every", ARG_INT, &a.qa_every, "QA accuracy every N steps (0: only at the end)", 0, 1e9},
        {"--qa-vocab", ARG_STRING, &a.qa_vocab, "tokenizer of the QA prompts: gpt2, llama3 or a file", 0, 0},
        {"--qa-limit", ARG_INT, &a.qa_limit, "first N questions only (0: all)", 0, 1e9},
        {"--comm", ARG_STRING, &a.comm,
         "ranks talk over: auto (GPU ranks: nccl under a launcher; CPU ranks: mpi under mpirun/srun), none, mpi, nccl",
         0, 0},
        {"--zero", ARG_INT, &a.zero, "data parallel: 0 all-reduce gradients, 1 also shard AdamW state", 0, 1},
        {"--bucket-mib", ARG_FLOAT, &a.bucket_mib,
         "data parallel: gradients are exchanged in buckets of at least this many MiB (fp32), each as soon as "
         "backward completes it", 1e-3, 1e6},
        {"--device", ARG_STRING, &a.device, "auto (the GPU when one is visible), cpu or cuda", 0, 0},
        {"--deterministic", ARG_INT, &a.deterministic, "GPU: 1 bitwise reproducible, 0 faster (atomics)", 0, 1},
        {"--layers", ARG_INT, &a.layers, "a new --model run with this many layers instead of the preset's (a big model's layer shapes on one GPU, for benchmarks)", 0, 1024},
        {"--recompute", ARG_INT, &a.recompute, "GPU: recompute norms and MLP activations in backward", 0, 1},
        {"--attention", ARG_STRING, &a.attention, "GPU attention kernels: flash (tensor cores), fp32 (the reference) or cublas (batched GEMMs, T x T scratch)", 0, 0},
    };
    char usage[2048];
    int w = snprintf(usage, sizeof usage,
                     "usage: train [options]\n\nContinued pretraining on token shards. With no options: the demo run "
                     "(%s on data/demo).\nModel presets (parameters, padded vocabulary included):",
                     a.model);
    char names[512];
    snprintf(names, sizeof names, "%s", model_preset_names());
    for (char *save = NULL, *name = strtok_r(names, ", ", &save); name; name = strtok_r(NULL, ", ", &save)) {
        ModelConfig c;
        model_preset(&c, name);
        double n = (double)model_param_count(&c);
        if (w > 0 && (size_t)w < sizeof usage)
            w += snprintf(usage + w, sizeof usage - (size_t)w, "\n  %-16s %7.4g%s", name,
                          n >= 1e9 ? n / 1e9 : n >= 1e6 ? n / 1e6 : n / 1e3, n >= 1e9 ? "B" : n >= 1e6 ? "M" : "K");
    }
    args_parse(argc, argv, specs, sizeof specs / sizeof specs[0], usage);
    ModelConfig preset;
    if (model_preset(&preset, a.model) != 0) usage_error("--model: %s", scpt_error());
    ScheduleKind kind;
    unsigned mask;
    if (schedule_parse(a.schedule, &kind) != 0 || decay_mask_parse(a.decay, &mask) != 0) usage_error("%s", scpt_error());
    if (strcmp(a.device, "auto") && strcmp(a.device, "cpu") && strcmp(a.device, "cuda"))
        usage_error("--device must be auto, cpu or cuda, not '%s'", a.device);
    if (strcmp(a.attention, "flash") != 0 && strcmp(a.attention, "fp32") != 0 && strcmp(a.attention, "cublas") != 0)
        usage_error("--attention must be flash, fp32 or cublas, not '%s'", a.attention);
    if (a.init && a.resume) usage_error("--init and --resume exclude each other");
    if (a.resume && strcmp(a.resume, "auto") != 0) {
        char hint[4200];
        snprintf(hint, sizeof hint, "give a checkpoint file, or its newest: --resume auto --out %s", a.resume);
        args_want_file("--resume", a.resume, hint);
    }
    return a;
}

// the newest ckpt_<step>.safetensors in dir, or NULL
static char *newest_checkpoint(const char *dir, int *step) {
    DIR *d = opendir(dir);
    if (!d) return NULL;
    char *best = NULL;
    *step = -1;
    struct dirent *e;
    while ((e = readdir(d))) {
        int s;
        char tail[32];
        if (sscanf(e->d_name, "ckpt_%d.safetensor%31s", &s, tail) == 2 && strcmp(tail, "s") == 0 && s > *step) {
            *step = s;
            free(best);
            best = xmalloc(strlen(dir) + strlen(e->d_name) + 2);
            sprintf(best, "%s/%s", dir, e->d_name);
        }
    }
    closedir(d);
    return best;
}

static void checkpoint_path(char *out, size_t n, const char *dir, int step) {
    snprintf(out, n, "%s/ckpt_%08d.safetensors", dir, step);
}

// Removes the temporary files of checkpoint writes that a kill interrupted (a
// checkpoint's size each), then checks that the directory takes new files, so an
// unwritable --out fails now rather than at the first checkpoint.
static void prepare_run_dir(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) die("--out %s: %s", dir, strerror(errno));
    int removed = 0;
    double bytes = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        int step, pid, end = 0;
        if (sscanf(e->d_name, "ckpt_%d.safetensors.tmp.%d%n", &step, &pid, &end) != 2 || e->d_name[end]) continue;
        char path[4096];
        struct stat sb;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (stat(path, &sb) == 0 && unlink(path) == 0) removed++, bytes += sb.st_size;
    }
    closedir(d);
    if (removed)
        printf("removed %d temporary file%s (%.1f MB) of interrupted checkpoint writes in %s\n", removed,
               removed == 1 ? "" : "s", bytes / 1e6, dir);
    char probe[4096];
    snprintf(probe, sizeof probe, "%s/write_test", dir);
    AtomicFile f;
    if (atomic_open(&f, probe) != 0) die("--out %s is not writable (%s)", dir, scpt_error());
    atomic_abort(&f);
}

// saves (every rank takes part; rank 0 writes), then removes all but the newest
// `keep` checkpoints of the run
static void save_checkpoint(const TrainArgs *a, DataParallel *dp, GpuModel *gpu, Model *m, OptimizerState *opt,
                            const TrainState *st) {
    char path[4096];
    checkpoint_path(path, sizeof path, a->out, st->step);
    double t0 = wall_time();
    if ((gpu ? dp_checkpoint_save_gpu(dp, path, gpu, m, opt, st) : dp_checkpoint_save(dp, path, m, opt, st)) != 0)
        die("%s", scpt_error());
    printf("saved %s (%.1f s)\n", path, wall_time() - t0);
    if (a->keep_ckpts == 0 || dp->comm->rank != 0) return;
    for (int s = st->step - 1, kept = 1; s >= 0; s--) {
        char old[4096];
        checkpoint_path(old, sizeof old, a->out, s);
        FILE *f = fopen(old, "rb");
        if (!f) continue;
        fclose(f);
        if (++kept > a->keep_ckpts) remove(old);
    }
}

// the run shape a resume must repeat for the data order to continue unchanged
static void check_same_run(const TrainState *saved, const TrainState *now, const char *path) {
    const char *what = NULL;
    // the loader numbers windows globally, so only the global batch fixes the data order
    if ((long)saved->batch * saved->world != (long)now->batch * now->world) what = "--batch x world size";
    else if (saved->seq_len != now->seq_len) what = "--seq";
    else if (saved->grad_accum != now->grad_accum) what = "--grad-accum";
    else if (saved->replay_frac != now->replay_frac) what = "--replay-frac";
    else if (saved->seed != now->seed) what = "--seed";
    if (what)
        die("%s: saved with batch %d, seq %d, grad-accum %d, world %d, replay-frac %g, seed %llu; this run "
            "differs in %s, so it cannot continue the same trajectory",
            path, saved->batch, saved->seq_len, saved->grad_accum, saved->world, saved->replay_frac,
            (unsigned long long)saved->seed, what);
}

// The first SIGINT, SIGTERM or SIGHUP asks the run to stop after the current step,
// with a checkpoint; a second one ends the process at once.
static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig) {
    if (stop_signal) {
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    stop_signal = sig;
    static const char msg[] = "\ntrain: stopping after this step with a checkpoint (a second signal stops at once)\n";
    if (write(STDERR_FILENO, msg, sizeof msg - 1) < 0) return;   // nothing to do about it here
}

static void catch_stop_signals(void) {
    struct sigaction sa = {.sa_handler = on_stop_signal, .sa_flags = SA_RESTART};
    sigemptyset(&sa.sa_mask);
    int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    for (int i = 0; i < 3; i++) sigaction(sigs[i], &sa, NULL);
}

// everything one training run holds
typedef struct {
    TrainArgs args;
    LRSchedule sched;
    AdamWConfig adam;
    TrainState state;
    Model model;
    GpuModel *gpu;          // NULL: the CPU path
    OptimizerState opt;
    Comm comm;
    DataParallel dp;
    DataLoader train_loader, val_loader;
    int have_val;
    MetricsLog metrics;
    int *inputs, *targets;  // every micro-batch of a step
    long *trained;          // targets each micro-batch trains (the loss mask keeps)
    long tokens_per_step;
    TrainQA qa;
    double clock, run_start, timed_seconds;   // step timing: the last step's end, the run's start
    int steps_here;                            // steps finished by this process
} Run;

// targets that count: those the loss mask keeps (>= 0)
static long count_targets(const int *targets, int n) {
    long count = 0;
    for (int i = 0; i < n; i++) count += targets[i] >= 0;
    return count;
}

// the mean over the kept targets of the validation batches, on all ranks
static float validation_loss(Run *r) {
    DataLoader *val = &r->val_loader;
    loader_restore(val, (LoaderState){0, {0, 0}});
    int batches = r->args.val_batches;
    int64_t windows = loader_windows(val, STREAM_TRAIN), per_batch = (int64_t)val->opt.B * val->opt.world;
    if (batches * per_batch > windows) batches = (int)(windows / per_batch);
    if (batches < 1) batches = 1;
    double sum = 0, count = 0;
    for (int i = 0; i < batches; i++) {
        loader_next(val, r->inputs, r->targets, NULL);
        long n = count_targets(r->targets, val->opt.B * val->opt.T);
        if (n == 0) continue;
        if (r->gpu) gpu_model_forward(r->gpu, r->inputs, r->targets, val->opt.B, val->opt.T, 0);
        else sum += n * (double)model_forward(&r->model, r->inputs, r->targets, val->opt.B, val->opt.T);
        count += n;
    }
    if (r->gpu) sum = gpu_model_loss_sum(r->gpu);   // the device summed the batches' losses
    count = comm_sum(&r->comm, count);
    sum = comm_sum(&r->comm, sum);
    return count > 0 ? (float)(sum / count) : 0;
}

static void log_validation(Run *r) {
    float vl = validation_loss(r);
    if (!isfinite(vl)) die("step %d: the validation loss is %f; stopping", r->state.step, vl);
    printf("step %5d | val loss %.4f\n", r->state.step, vl);
    if (metrics_write(&r->metrics, "{\"step\": %d, \"val_loss\": %.6f}", r->state.step, vl) != 0)
        die("%s", scpt_error());
}

static void format_duration(char *out, size_t n, double seconds) {
    // whole hours stay a double: a long run's ETA may pass an int's range of seconds
    double s = floor(seconds + 0.5);
    int m = (int)fmod(floor(s / 60), 60), rest = (int)fmod(s, 60);
    if (s >= 3600) snprintf(out, n, "%.0fh%02dm", floor(s / 3600), m);
    else if (s >= 60) snprintf(out, n, "%dm%02ds", m, rest);
    else snprintf(out, n, "%ds", rest);
}

// -1 naming `what` and the first tensor of `values` (the parameters or gradients, laid
// out as the model's) that holds a NaN or an infinity
static int check_tensors(const Model *m, const real *values, const char *what) {
    for (int i = 0; i < NUM_PARAM_TENSORS; i++) {
        const ParamTensor *t = &m->tensors[i];
        if (t->size && tensor_check_values(values + t->offset, t->size, 0, what, t->name) != 0) return -1;
    }
    return 0;
}

// The CPU path's memory (parameters, gradients, AdamW moments, activations and
// their gradients) against the machine's, before any of it is allocated.
static void warn_if_over_memory(const ModelConfig *cfg, const TrainArgs *a, int world) {
    double params = model_param_count(cfg), moments = a->zero ? 2 * params / world : 2 * params;
    double need = sizeof(real) * (2 * params + moments + 2.0 * model_activation_count(cfg, a->batch, a->seq));
    double have = (double)sysconf(_SC_PHYS_PAGES) * sysconf(_SC_PAGESIZE);
    if (have > 0 && need > have)
        fprintf(stderr, "train: warning: this run needs about %.1f GiB per process and the machine has %.1f GiB of "
                "memory: lower --batch (raising --grad-accum keeps the tokens per step) or --seq\n",
                need / (1 << 30), have / (1 << 30));
}

// A resumed run whose --steps differs from the one it was started with follows
// another learning-rate schedule from here on: say so.
static void note_changed_steps(const TrainState *saved, const TrainArgs *a, ScheduleKind kind) {
    if (saved->total_steps == 0 || saved->total_steps == a->steps || kind == SCHEDULE_CONSTANT) return;
    printf("note: this run was started with --steps %d; with --steps %d the learning-rate schedule (%s, warmup %d, "
           "decay to step %d) differs from step %d on, so the result is not the one a %d-step run from the start "
           "would give\n",
           saved->total_steps, a->steps, a->schedule, a->warmup, a->steps, saved->step, a->steps);
}

// Builds the model (new, from --init, or resumed), the loaders and the metrics log.
static void run_setup(Run *r, int argc, char **argv) {
    TrainArgs *a = &r->args;
    *a = parse_args(argc, argv);
    if (a->threads > 0) omp_set_num_threads(a->threads);
    // only rank 0 prints; errors still reach stderr from every rank. The launcher's
    // environment names the rank before the collectives start (comm_init checks it).
    int rank, world, local_rank;
    const char *launcher;
    if (comm_discover(&rank, &world, &local_rank, &launcher) != 0) die("%s", scpt_error());
    if (rank != 0 && !freopen("/dev/null", "w", stdout)) die("cannot silence rank %d", rank);
    r->sched = (LRSchedule){.lr = a->lr, .min_lr_frac = a->min_lr_frac, .warmup_steps = a->warmup,
                            .total_steps = a->steps};
    r->adam = (AdamWConfig){.beta1 = a->beta1, .beta2 = a->beta2, .eps = a->eps, .weight_decay = a->weight_decay};
    if (schedule_parse(a->schedule, &r->sched.kind) != 0 || decay_mask_parse(a->decay, &r->adam.decay_mask) != 0)
        die("%s", scpt_error());
    if (make_dirs(a->out) != 0) die("%s", scpt_error());
    if (rank == 0) prepare_run_dir(a->out);
    // A run directory that holds checkpoints is continued, as torchtitan does: a
    // rerun after a crash needs no flag, and a finished run is not overwritten.
    int step;
    char *resume_path = NULL;
    if (a->resume) {
        resume_path = strcmp(a->resume, "auto") == 0 ? newest_checkpoint(a->out, &step) : xstrdup(a->resume);
        if (!resume_path) printf("no checkpoint in %s: starting a new run\n", a->out);
    } else if ((resume_path = newest_checkpoint(a->out, &step))) {
        printf("%s holds a run: continuing it (a new run needs another --out)\n", a->out);
        a->init = NULL;
    }
    ModelConfig cfg;
    const char *config_from = resume_path ? resume_path : a->init;
    if (resume_path ? checkpoint_read_config(resume_path, &cfg)
                    : a->init ? model_import_config(a->init, &cfg) : model_preset(&cfg, a->model))
        die("%s", scpt_error());
    if (a->layers && a->init && !resume_path) die("--layers cuts a --model preset, not the --init weights %s", a->init);
    if (a->layers && resume_path && a->layers != cfg.n_layer)
        die("--layers %d: the run in %s has %d layers", a->layers, resume_path, cfg.n_layer);
    if (a->layers) cfg.n_layer = a->layers;
    if (a->seq > cfg.max_seq_len) die("--seq %d exceeds the model's maximum sequence length %d", a->seq, cfg.max_seq_len);
    // The device before the collectives: GPU ranks need the nccl backend, whose start
    // binds each rank to the GPU of its local rank, where the model is then placed.
    int on_gpu = gpu_model_wanted(a->device, &cfg, a->seq);
    const char *backend;
    if (comm_choose_backend(a->comm, on_gpu, &backend) != 0 || comm_init(&r->comm, backend, &argc, &argv) != 0)
        die("%s", scpt_error());
    r->comm.min_bucket_elems = (size_t)(a->bucket_mib * (1 << 20) / sizeof(float));
    r->state = (TrainState){.seed = (uint64_t)a->seed, .batch = a->batch, .seq_len = a->seq,
                            .grad_accum = a->grad_accum, .world = r->comm.world, .replay_frac = a->replay_frac,
                            .total_steps = a->steps};
    if (!on_gpu) warn_if_over_memory(&cfg, a, r->comm.world);
    model_create(&r->model, &cfg);
    if (dp_init(&r->dp, &r->comm, a->zero, &r->model) != 0) die("%s", scpt_error());
    optimizer_init(&r->opt, r->dp.begin, r->dp.end);
    if (resume_path) {
        TrainState saved;
        if (dp_checkpoint_load(&r->dp, resume_path, &r->model, &r->opt, &saved) != 0) die("%s", scpt_error());
        check_same_run(&saved, &r->state, resume_path);
        saved.batch = a->batch, saved.world = r->comm.world;   // may differ at the same global batch
        r->state = saved;
        printf("resumed %s at step %d\n", resume_path, r->state.step);
        note_changed_steps(&saved, a, r->sched.kind);
        r->state.total_steps = a->steps;
    } else if (a->init) {
        if (model_import_weights(a->init, &r->model) != 0 || check_tensors(&r->model, r->model.params, a->init) != 0)
            die("%s", scpt_error());
        char *tok = model_tokenizer_path(a->init);
        printf("init %s | its tokenizer: %s\n", a->init, tok ? tok : "none beside it");
        free(tok);
    } else {
        model_init_weights(&r->model, r->state.seed);
    }
    if (on_gpu) {
        GpuOptions go = {.deterministic = a->deterministic, .recompute = a->recompute, .fuse_gelu = 1,
                         .comm = &r->comm, .zero = a->zero,
                         .attention = strcmp(a->attention, "fp32") == 0     ? GPU_ATTENTION_FP32
                                      : strcmp(a->attention, "cublas") == 0 ? GPU_ATTENTION_CUBLAS
                                                                            : GPU_ATTENTION_FLASH};
        r->gpu = gpu_model_create(&r->model, &r->opt, a->batch, a->seq, &go);
        // only one process with a host backend may still fall back to the CPU
        if (!r->gpu && (strcmp(a->device, "auto") != 0 || comm_device_buffers(&r->comm)))
            die("%s%s", scpt_error(), strcmp(a->device, "auto") == 0 ? " (--device cpu trains on the CPU)" : "");
        if (r->gpu) gpu_model_print_memory(r->gpu);
        else printf("device: cpu (%s)\n", scpt_error());
    }

    LoaderOptions lo = {.train_glob = a->train, .replay_glob = a->replay, .replay_frac = a->replay_frac,
                        .B = a->batch, .T = a->seq, .rank = r->comm.rank, .world = r->comm.world,
                        .seed = r->state.seed, .shuffle = 1, .vocab_size = cfg.vocab_size};
    if (loader_open(&r->train_loader, &lo) != 0)
        die("%s%s", scpt_error(), strcmp(a->train, DEMO_TRAIN) == 0 ? " (`make demo-data` builds the demo shards)" : "");
    loader_restore(&r->train_loader, r->state.loader);
    r->have_val = a->val && a->val[0];
    if (r->have_val) {
        LoaderOptions vo = lo;
        vo.train_glob = a->val, vo.train_flag = "--val";
        vo.replay_frac = 0;
        vo.shuffle = 0;
        if (loader_open(&r->val_loader, &vo) != 0) die("%s (--val '' trains without validation)", scpt_error());
    }
    char metrics_path[4096];
    if (a->metrics) snprintf(metrics_path, sizeof metrics_path, "%s", a->metrics);
    else snprintf(metrics_path, sizeof metrics_path, "%s/metrics.jsonl", a->out);
    int root = r->comm.rank == 0;
    if (metrics_open(&r->metrics, root ? metrics_path : "/dev/null", root && resume_path ? r->state.step : -1) != 0)
        die("%s", scpt_error());

    r->tokens_per_step = (long)a->batch * a->seq * a->grad_accum * r->comm.world;
    r->inputs = xmalloc(sizeof(int) * a->batch * a->seq * a->grad_accum);
    r->targets = xmalloc(sizeof(int) * a->batch * a->seq * a->grad_accum);
    r->trained = xmalloc(sizeof(long) * a->grad_accum);
    printf("model %s: %s, %d layers, %d heads (%d kv), %d channels, vocab %d | %.2fM parameters\n",
           config_from ? config_from : a->model, cfg.arch == ARCH_GPT2 ? "gpt2" : "llama", cfg.n_layer, cfg.n_head,
           cfg.n_kv_head, cfg.n_embd, cfg.vocab_size, r->model.num_params / 1e6);
    printf("data: %s (%lld windows)%s%s | batch %d x %d x %d accum = %ld tokens/step | %d threads\n", a->train,
           (long long)loader_windows(&r->train_loader, STREAM_TRAIN), a->replay ? " + replay " : "",
           a->replay ? a->replay : "", a->batch, a->seq, a->grad_accum, r->tokens_per_step, omp_get_max_threads());
    printf("ranks: %d (%s, launched by %s), ZeRO-%d\n", r->comm.world, comm_backend_name(&r->comm),
           r->comm.launcher, r->dp.stage);
    // Host activations only where the CPU computes: on the GPU path they would be two
    // fp32 copies of every activation, the B x T x T attention matrices included, that
    // nothing reads (--qa scoring on the CPU copy reserves its own small shape on demand)
    if (!r->gpu) {
        model_reserve(&r->model, a->batch, a->seq);
        dp_print_memory(&r->dp, &r->model);   // the GPU's lines came with its table
    }
    printf("metrics: %s\n", metrics_path);
    if (a->qa && train_qa_open(&r->qa, a->qa, a->qa_vocab, a->qa_limit) != 0) die("%s", scpt_error());
    free(resume_path);
}

// One optimizer step as the host sees it. The CPU path fills everything at once; on
// the GPU, loss, norm and diverged arrive with the device's statistics (finish_step).
typedef struct {
    int step;            // 1-based
    double trained;      // targets the loss mask keeps, over the step's micro-batches and all ranks
    float lr;
    double loss;
    float norm;
    int diverged;        // the loss or the norm is not finite: the update was not taken
} StepRecord;

// One optimizer step: accumulate gradients over the micro-batches, clip, update.
// The loss is the mean over the step's targets (all micro-batches, all ranks) that
// the loss mask keeps, so every trained token weighs the same however a chat set's
// mask spreads them: a micro-batch's mean is scaled by its share of them (1/grad_accum
// without a mask), and one with none is skipped. On the GPU the step is only
// enqueued (include/model_cuda.h): the host goes on with the next batch while it runs.
static void train_step(Run *r, StepRecord *rec) {
    const TrainArgs *a = &r->args;
    int BT = a->batch * a->seq;
    if (r->gpu) gpu_model_zero_grad(r->gpu);
    else model_zero_grad(&r->model);
    for (int micro = 0; micro < a->grad_accum; micro++) {
        int *targets = r->targets + (size_t)micro * BT;
        loader_next(&r->train_loader, r->inputs + (size_t)micro * BT, targets, NULL);
        r->trained[micro] = count_targets(targets, BT);
    }
    double total = 0, sum = 0;
    int last = 0;   // the last micro-batch that trains: its backward starts the GPU's gradient exchange
    for (int micro = 0; micro < a->grad_accum; micro++) {
        total += r->trained[micro];
        if (r->trained[micro]) last = micro;
    }
    // without a loss mask every rank trains all its targets: no need to ask the others
    total = loader_masked(&r->train_loader) ? comm_sum(&r->comm, total) : total * r->comm.world;
    for (int micro = 0; micro < a->grad_accum && total > 0; micro++) {
        if (r->trained[micro] == 0) continue;
        const int *inputs = r->inputs + (size_t)micro * BT, *targets = r->targets + (size_t)micro * BT;
        float scale = (float)((double)r->trained[micro] * r->comm.world / total);
        if (r->gpu) {
            gpu_model_forward(r->gpu, inputs, targets, a->batch, a->seq, scale);
            gpu_model_backward(r->gpu, micro == last);
        } else {
            sum += r->trained[micro] * (double)model_forward(&r->model, inputs, targets, a->batch, a->seq);
            model_backward(&r->model, scale);
        }
    }
    *rec = (StepRecord){.step = r->state.step + 1, .trained = total, .lr = lr_at(&r->sched, r->state.step)};
    if (r->gpu) {
        gpu_model_update(r->gpu, &r->adam, rec->lr, rec->step, a->clip);   // skipped on the device if diverged
    } else {
        rec->loss = total > 0 ? comm_sum(&r->comm, sum) / total : 0;
        rec->norm = NAN;   // not computed when the loss is already bad
        rec->diverged = !isfinite(rec->loss);
        if (!rec->diverged) {
            rec->norm = dp_reduce_gradients(&r->dp, &r->model, a->clip);
            rec->diverged = !isfinite(rec->norm);
        }
        if (!rec->diverged) {
            optimizer_step(&r->model, &r->opt, &r->adam, rec->lr, rec->step);
            dp_share_parameters(&r->dp, &r->model);
        }
    }
    r->state.step++;
    r->state.loader = loader_state(&r->train_loader);
}

// Stops a run whose loss or gradient norm went non-finite, naming the first tensor
// that holds a bad value: a parameter when the weights are already broken, else a
// gradient. Every rank gets here (loss and norm are global), as the download needs.
static void die_diverged(Run *r, const StepRecord *rec) {
    char what[64];
    if (r->gpu) gpu_model_download(r->gpu, &r->model, NULL);
    snprintf(what, sizeof what, "step %d parameters", rec->step);
    int found = check_tensors(&r->model, r->model.params, what) != 0;
    snprintf(what, sizeof what, "step %d gradients", rec->step);
    if (!found) found = check_tensors(&r->model, r->model.grads, what) != 0;
    char norm_s[48] = "";
    if (isfinite(rec->loss) || !isnan(rec->norm)) snprintf(norm_s, sizeof norm_s, ", gradient norm %f", rec->norm);
    die("step %d: loss %f%s: training diverged; stopping without a checkpoint (%s). Lower --lr or raise --eps, and "
        "resume from an earlier checkpoint",
        rec->step, rec->loss, norm_s, found ? scpt_error() : "every parameter and gradient is finite on this rank");
}

// Completes a step's record (on the GPU: waits for the device to finish it), stops a
// diverged run, and writes the step's metrics line and progress. Its time is the wall
// time since the previous step ended (or the work between steps did): with the next
// step already enqueued, that is the device's time for this one.
static void finish_step(Run *r, StepRecord *rec) {
    const TrainArgs *a = &r->args;
    if (r->gpu) {
        GpuStepStats st;
        if (!gpu_model_step_stats(r->gpu, &st)) die("step %d: the device has no statistics for it", rec->step);
        rec->loss = rec->trained > 0 ? st.loss_sum / rec->trained : 0;   // summed over the ranks on the device
        rec->norm = st.norm;
        rec->diverged = st.diverged || !isfinite(rec->loss) || !isfinite(rec->norm);
    }
    if (rec->diverged) die_diverged(r, rec);
    double now = wall_time(), dt = now - r->clock;
    r->clock = now;
    if (r->steps_here++ > 0) r->timed_seconds += dt;   // the first step pays for allocation
    double per_step = r->steps_here > 1 ? r->timed_seconds / (r->steps_here - 1) : dt;
    double eta = per_step * (a->steps - rec->step);
    double tok_s = dt > 0 ? r->tokens_per_step / dt : 0;
    if (metrics_write(&r->metrics,
                      "{\"step\": %d, \"loss\": %.6f, \"lr\": %.6e, \"grad_norm\": %.6f, \"step_ms\": %.2f, "
                      "\"tokens_per_s\": %.1f, \"tokens\": %ld, \"elapsed_s\": %.2f}",
                      rec->step, rec->loss, rec->lr, rec->norm, 1e3 * dt, tok_s, r->tokens_per_step * rec->step,
                      now - r->run_start) != 0)
        die("%s", scpt_error());
    if (rec->step % a->log_every == 0 || rec->step == a->steps) {
        char eta_s[32];
        format_duration(eta_s, sizeof eta_s, eta);
        printf("step %5d/%d | loss %.4f | lr %.2e | norm %.3f | %.1f ms | %.0f tok/s | ETA %s\n", rec->step, a->steps,
               rec->loss, rec->lr, rec->norm, 1e3 * dt, tok_s, eta_s);
    }
}

// The process's peak host memory (Linux /proc): VmPeak counts what was allocated,
// touched or not (an untouched calloc is not resident but still fails when too big),
// VmHWM what was resident.
static void print_peak_memory(void) {
    FILE *f = fopen("/proc/self/status", "r");
    long peak = 0, resident = 0;
    char line[256];
    while (f && fgets(line, sizeof line, f)) {
        sscanf(line, "VmPeak: %ld kB", &peak);
        sscanf(line, "VmHWM: %ld kB", &resident);
    }
    if (f) fclose(f);
    printf("peak host memory: %ld MiB allocated, %ld MiB resident\n", peak >> 10, resident >> 10);
}

// Trains to --steps; returns the exit status (128 + the signal when one stopped it).
// On the GPU the host runs one step ahead: it enqueues step s, then finishes step
// s - 1 while s computes. Validation, QA, checkpoints, a stop and the last step need
// the weights after s: there the host waits for s before going on.
static int run_loop(Run *r) {
    const TrainArgs *a = &r->args;
    if (r->state.step >= a->steps) {
        printf("the run is complete: step %d of %d\n", r->state.step, a->steps);
        return 0;
    }
    if (r->have_val && r->state.step == 0) log_validation(r);
    r->run_start = r->clock = wall_time();
    StepRecord rec, pending;
    int have_pending = 0;
    while (r->state.step < a->steps) {
        train_step(r, &rec);
        if (have_pending) finish_step(r, &pending);
        pending = rec, have_pending = 1;
        int s = rec.step, last = s == a->steps;
        int val = r->have_val && (last || (a->eval_every > 0 && s % a->eval_every == 0));
        int qa = a->qa && (last || (a->qa_every > 0 && s % a->qa_every == 0));
        int saved = (last && !a->no_final_ckpt) || (!last && a->ckpt_every > 0 && s % a->ckpt_every == 0);
        // every rank stops at the same step, whichever of them got the signal
        int stop = !last && comm_sum(&r->comm, stop_signal != 0) > 0;
        if (r->gpu && !(last || val || qa || saved || stop)) continue;
        finish_step(r, &pending);
        have_pending = 0;
        // validation and checkpoint come after the step's own record, so a run resumed
        // from this checkpoint writes no record twice
        if (val) log_validation(r);
        if (qa) {
            if (r->gpu) gpu_model_download(r->gpu, &r->model, NULL);   // QA scores on the CPU copy
            if (train_qa_log(&r->qa, &r->model, &r->metrics, s) != 0) die("%s", scpt_error());
        }
        if (saved || stop) save_checkpoint(a, &r->dp, r->gpu, &r->model, &r->opt, &r->state);
        if (stop) {
            int sig = stop_signal ? stop_signal : SIGTERM;
            printf("stopped by signal %d (%s) at step %d of %d with a checkpoint; the same command continues the run\n",
                   sig, strsignal(sig), s, a->steps);
            return 128 + sig;
        }
        r->clock = wall_time();   // the next step's time starts after this step's extra work
    }
    if (r->steps_here > 1)
        printf("done: %d steps, mean %.1f ms/step, %.0f tokens/s\n", r->state.step,
               1e3 * r->timed_seconds / (r->steps_here - 1), r->tokens_per_step * (r->steps_here - 1) / r->timed_seconds);
    print_peak_memory();
    return 0;
}

static void run_free(Run *r) {
    metrics_close(&r->metrics);
    if (r->args.qa) train_qa_close(&r->qa);
    free(r->inputs);
    free(r->targets);
    free(r->trained);
    loader_close(&r->train_loader);
    if (r->have_val) loader_close(&r->val_loader);
    optimizer_free(&r->opt);
    gpu_model_free(r->gpu);
    model_free(&r->model);
    dp_free(&r->dp);
    comm_finalize(&r->comm);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    static Run run;
    catch_stop_signals();
    run_setup(&run, argc, argv);
    int status = run_loop(&run);
    run_free(&run);
    return status;
}
