// Data loader: streams of windows, the per-epoch shuffle, the train/replay mix.
#include "loader.h"

#include <stdlib.h>
#include <string.h>
#include "rng.h"

enum { MIX_BLOCK = 64 };

static int stream_open(TokenStream *s, const char *glob, const LoaderOptions *opt, const char *flag) {
    memset(s, 0, sizeof *s);
    s->glob = glob;
    char **paths;
    int n = glob_paths(glob, &paths);
    if (n == 0) {
        scpt_set_error("%s '%s': no file matches", flag, glob);
        free(paths);
        return -1;
    }
    s->shards = xcalloc(n, sizeof(Shard));
    s->first_window = xcalloc(n + 1, sizeof(int64_t));
    for (int i = 0; i < n; i++) {
        if (shard_open(&s->shards[i], paths[i], opt->vocab_size) != 0) {
            free_paths(paths, n);
            return -1;
        }
        s->num_shards++;
        int64_t tokens = s->shards[i].num_tokens;
        s->first_window[i + 1] = s->first_window[i] + (tokens > opt->T ? (tokens - 1) / opt->T : 0);
    }
    free_paths(paths, n);
    if (s->first_window[n] == 0) {
        scpt_set_error("%s '%s': no shard holds a window of %d tokens", flag, glob, opt->T + 1);
        return -1;
    }
    return 0;
}

static void stream_close(TokenStream *s) {
    for (int i = 0; i < s->num_shards; i++) shard_close(&s->shards[i]);
    free(s->shards);
    free(s->first_window);
    memset(s, 0, sizeof *s);
}

// A pseudo-random permutation of [0, n) keyed by `key`: a 4-round Feistel network
// on the smallest even number of bits covering n, cycle-walking values >= n back
// into range. Constant memory, so epochs over billions of windows cost nothing.
static int64_t permute(int64_t i, int64_t n, uint64_t key) {
    int half = 1;
    while ((int64_t)1 << (2 * half) < n) half++;
    uint64_t mask = ((uint64_t)1 << half) - 1, x = (uint64_t)i;
    do {
        uint64_t left = x >> half, right = x & mask;
        for (int r = 0; r < 4; r++) {
            uint64_t next = left ^ (mix64(right ^ seed_of(key, r, 0)) & mask);
            left = right;
            right = next;
        }
        x = left << half | right;
    } while (x >= (uint64_t)n);
    return (int64_t)x;
}

// the next window of a stream: its shard and first token
static void stream_take(TokenStream *s, const LoaderOptions *opt, int stream_id, const Shard **shard,
                        int64_t *start) {
    int64_t total = s->first_window[s->num_shards];
    int64_t epoch = s->consumed / total, w = s->consumed % total;
    s->consumed++;
    if (opt->shuffle) w = permute(w, total, seed_of(opt->seed, 0x5eed0000u + stream_id, epoch));
    int lo = 0, hi = s->num_shards - 1;   // the shard with first_window[k] <= w < first_window[k+1]
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (s->first_window[mid] <= w) lo = mid;
        else hi = mid - 1;
    }
    *shard = &s->shards[lo];
    *start = (w - s->first_window[lo]) * opt->T;
}

// which stream fills a global slot (see loader.h)
static int slot_source(DataLoader *l, int64_t slot) {
    float f = l->opt.replay_frac;
    if (f <= 0) return STREAM_TRAIN;
    if (f >= 1) return STREAM_REPLAY;
    int64_t block = slot / MIX_BLOCK;
    if (block != l->mix_block) {
        int replay = (int)(llround((double)f * MIX_BLOCK * (block + 1)) - llround((double)f * MIX_BLOCK * block));
        int order[MIX_BLOCK];
        for (int i = 0; i < MIX_BLOCK; i++) order[i] = i;
        uint64_t state = seed_of(l->opt.seed, 0x313e0000u, block);
        for (int i = MIX_BLOCK - 1; i > 0; i--) {   // Fisher-Yates
            int j = (int)(rng_next(&state) % (uint64_t)(i + 1)), tmp = order[i];
            order[i] = order[j];
            order[j] = tmp;
        }
        for (int i = 0; i < MIX_BLOCK; i++) l->mix_is_replay[order[i]] = i < replay;
        l->mix_block = block;
    }
    return l->mix_is_replay[slot % MIX_BLOCK] ? STREAM_REPLAY : STREAM_TRAIN;
}

int loader_open(DataLoader *l, const LoaderOptions *opt) {
    memset(l, 0, sizeof *l);
    l->opt = *opt;
    l->mix_block = -1;
    if (opt->B <= 0 || opt->T <= 0 || opt->world <= 0 || opt->rank < 0 || opt->rank >= opt->world) {
        scpt_set_error("loader: bad batch %d, sequence %d, rank %d of %d", opt->B, opt->T, opt->rank, opt->world);
        return -1;
    }
    if (opt->replay_frac < 0 || opt->replay_frac > 1) {
        scpt_set_error("--replay-frac %g is outside [0, 1]", opt->replay_frac);
        return -1;
    }
    if (opt->replay_frac > 0 && !opt->replay_glob) {
        scpt_set_error("--replay-frac %g needs --replay shards", opt->replay_frac);
        return -1;
    }
    if (opt->replay_frac < 1 && stream_open(&l->streams[STREAM_TRAIN], opt->train_glob, opt,
                                          opt->train_flag ? opt->train_flag : "--train") != 0) {
        loader_close(l);
        return -1;
    }
    if (opt->replay_frac > 0 && stream_open(&l->streams[STREAM_REPLAY], opt->replay_glob, opt, "--replay") != 0) {
        loader_close(l);
        return -1;
    }
    return 0;
}

void loader_next(DataLoader *l, int *inputs, int *targets, int *sources) {
    int B = l->opt.B, T = l->opt.T;
    int64_t mine = l->next_slot + (int64_t)l->opt.rank * B;
    for (int64_t slot = l->next_slot; slot < l->next_slot + (int64_t)l->opt.world * B; slot++) {
        int src = slot_source(l, slot);
        const Shard *shard;
        int64_t start;
        stream_take(&l->streams[src], &l->opt, src, &shard, &start);
        if (slot < mine || slot >= mine + B) continue;
        int row = (int)(slot - mine);
        for (int t = 0; t < T; t++) {
            inputs[row * T + t] = shard_token(shard, start + t);
            int64_t next = start + t + 1;
            targets[row * T + t] = shard_trained(shard, next) ? shard_token(shard, next) : -1;
        }
        if (sources) sources[row] = src;
    }
    l->next_slot += (int64_t)l->opt.world * B;
}

int64_t loader_windows(const DataLoader *l, int stream) {
    const TokenStream *s = &l->streams[stream];
    return s->num_shards ? s->first_window[s->num_shards] : 0;
}

int loader_masked(const DataLoader *l) {
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < l->streams[k].num_shards; i++)
            if (l->streams[k].shards[i].mask) return 1;
    return 0;
}

LoaderState loader_state(const DataLoader *l) {
    return (LoaderState){l->next_slot, {l->streams[0].consumed, l->streams[1].consumed}};
}

void loader_restore(DataLoader *l, LoaderState s) {
    l->next_slot = s.next_slot;
    l->streams[0].consumed = s.consumed[0];
    l->streams[1].consumed = s.consumed[1];
}

void loader_close(DataLoader *l) {
    stream_close(&l->streams[0]);
    stream_close(&l->streams[1]);
}
