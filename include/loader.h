// The training data loader: B x (T+1) windows from two token streams, the
// synthetic corpus and the replay corpus, mixed at a fixed fraction.
//
// A stream is the sorted shards of a glob cut into windows of T+1 tokens that start
// every T tokens and never cross a shard end. Each epoch visits every window once,
// in an order shuffled from (seed, epoch). Window slots are numbered globally across
// steps and ranks; which stream fills a slot depends only on (seed, slot): within
// each block of 64 slots exactly round(64 * replay_frac) (carried between blocks)
// are replay, at shuffled positions, so the mix is within 1/64 of the fraction over
// any stretch. Every rank walks all slots of a step and reads only its own B, so
// ranks see disjoint data, together exactly what one rank with world*B would see.
//
// Shards with a loss mask (chat data from `tokenize --chat`) are packed the same
// way: conversations follow each other in the stream and a window holds as many as
// fit, the last one possibly cut at the window's end. A target whose token the mask
// leaves out is -1: it costs nothing and counts in no mean.
#ifndef SCPT_LOADER_H
#define SCPT_LOADER_H

#include <stdint.h>
#include "shard.h"

enum { STREAM_TRAIN = 0, STREAM_REPLAY = 1 };

typedef struct {
    const char *train_glob;    // required
    const char *train_flag;    // the flag errors about train_glob name (NULL: "--train")
    const char *replay_glob;   // NULL when there is no replay data
    float replay_frac;         // fraction of windows from replay, 0..1
    int B, T;
    int rank, world;
    uint64_t seed;
    int shuffle;               // 0: windows in file order (validation)
    int vocab_size;            // tokens >= this are rejected when the shards are opened
} LoaderOptions;

typedef struct {
    const char *glob;
    int num_shards;
    Shard *shards;
    int64_t *first_window;     // prefix sums of windows per shard (num_shards + 1)
    int64_t consumed;          // windows taken so far, over all epochs
} TokenStream;

typedef struct {
    LoaderOptions opt;
    TokenStream streams[2];
    int64_t next_slot;
    int64_t mix_block;         // the block whose layout mix_is_replay holds (-1: none)
    uint8_t mix_is_replay[64];
} DataLoader;

// what a checkpoint saves to resume the exact same data order
typedef struct {
    int64_t next_slot;
    int64_t consumed[2];
} LoaderState;

int loader_open(DataLoader *l, const LoaderOptions *opt);   // -1 with scpt_error() set
// Fills this rank's B rows: inputs and targets (B*T each, targets shifted by one,
// -1 where the loss mask leaves the token out);
// sources (B entries, may be NULL) gets STREAM_TRAIN or STREAM_REPLAY per row.
void loader_next(DataLoader *l, int *inputs, int *targets, int *sources);
int64_t loader_windows(const DataLoader *l, int stream);     // windows per epoch
// 1 when a shard of either stream has a loss mask (some targets may be -1), else 0:
// then every target of every batch trains
int loader_masked(const DataLoader *l);
LoaderState loader_state(const DataLoader *l);
void loader_restore(DataLoader *l, LoaderState s);
void loader_close(DataLoader *l);

#endif
