// Test helper: writes token shards of a learnable pattern.
//   make_shards PREFIX NUM_SHARDS TOKENS_PER_SHARD VOCAB SEED
// Each token follows from the previous one, (5 * t + 3) mod VOCAB, except for a
// random token 10% of the time, so a model can learn the rule and the loss falls.
#include <stdio.h>
#include <stdlib.h>
#include "rng.h"
#include "shard.h"

int main(int argc, char **argv) {
    if (argc != 6) die("usage: make_shards PREFIX NUM_SHARDS TOKENS_PER_SHARD VOCAB SEED");
    int shards = atoi(argv[2]), n = atoi(argv[3]), vocab = atoi(argv[4]);
    uint64_t state = strtoull(argv[5], NULL, 10);
    int32_t *tok = xmalloc(sizeof(int32_t) * n);
    for (int s = 0; s < shards; s++) {
        int t = (int)(rng_next(&state) % vocab);
        for (int i = 0; i < n; i++) {
            tok[i] = t;
            t = rng_uniform(&state) < 0.1 ? (int)(rng_next(&state) % vocab) : (5 * t + 3) % vocab;
        }
        char path[4096];
        snprintf(path, sizeof path, "%s_%03d.bin", argv[1], s);
        ShardWriter w;
        if (shard_writer_open(&w, path, vocab, 0, "synthetic", 0) != 0 || shard_writer_append(&w, tok, NULL, n) != 0 ||
            shard_writer_close(&w) != 0)
            die("%s", scpt_error());
    }
    free(tok);
    return 0;
}
