// Token shards: the pre-tokenized files the trainer reads (format in doc/formats.md).
// A 1024-byte header of 256 little-endian int32, the tokens, and (version 3) an
// optional loss mask of one bit per token.
#ifndef SCPT_SHARD_H
#define SCPT_SHARD_H

#include <stdint.h>
#include "util.h"

#define SHARD_MAGIC 20240520
#define SHARD_VERSION_U16 1          // uint16 tokens (vocab <= 65536), llm.c compatible: read only
#define SHARD_VERSION_U32 2          // uint32 tokens (e.g. Llama 3's 128256 ids): read only
#define SHARD_VERSION_3 3            // records the tokenizer, the token width, an optional loss mask
#define SHARD_MAGIC_LLMC_LLAMA3 20240801  // llm.c's Llama 3 shards (version 7, uint32): read only
#define SHARD_HEADER_INTS 256
#define SHARD_HEADER_BYTES (SHARD_HEADER_INTS * 4)
#define SHARD_FLAG_MASK 1            // header int 6: a loss mask follows the tokens
#define SHARD_TOKENIZER_INT 8        // header ints 8..15: the tokenizer's name, NUL-padded
#define SHARD_TOKENIZER_BYTES 32

typedef struct {
    char *path;
    int version;
    int token_bytes;        // 2 or 4
    int vocab_size;         // from the header; 0 when the writer did not record it
    int eot;                // document separator id from the header; -1 when unknown
    char tokenizer[SHARD_TOKENIZER_BYTES + 1];   // "" when not recorded (versions 1, 2)
    int64_t num_tokens;
    const uint8_t *tokens;  // into the mmap'd file
    const uint8_t *mask;    // bit i: token i is a training target; NULL: every token is
    void *map;
    size_t map_bytes;
} Shard;

// Maps and validates a shard: magic, version, size against the header's token count.
// When model_vocab > 0: a shard that records its vocabulary size must match it
// exactly (a shard of another tokenizer is refused), and every token id must be
// < model_vocab. -1 with scpt_error() naming the file.
int shard_open(Shard *s, const char *path, int model_vocab);
void shard_close(Shard *s);
static inline int shard_token(const Shard *s, int64_t i) {
    return s->token_bytes == 2 ? ((const uint16_t *)s->tokens)[i] : (int)((const uint32_t *)s->tokens)[i];
}
// whether token i counts as a target of the loss
static inline int shard_trained(const Shard *s, int64_t i) { return !s->mask || (s->mask[i >> 3] >> (i & 7) & 1); }

// Streams tokens into a new version-3 shard written atomically. The token width is
// chosen from vocab_size: uint16 when every id fits, else uint32. With has_mask the
// shard carries a loss mask (held in memory, one bit per token, until close).
typedef struct {
    AtomicFile file;
    int token_bytes;
    int vocab_size;
    int eot;
    char tokenizer[SHARD_TOKENIZER_BYTES + 1];
    int has_mask;
    uint8_t *mask;
    size_t mask_cap;
    int64_t num_tokens;
} ShardWriter;

int shard_writer_open(ShardWriter *w, const char *path, int vocab_size, int eot, const char *tokenizer,
                      int has_mask);
// mask: 1 = the token is a training target, one entry per token; NULL = all are
int shard_writer_append(ShardWriter *w, const int32_t *tokens, const uint8_t *mask, size_t n);
int shard_writer_close(ShardWriter *w);   // writes the header and the mask, renames into place
void shard_writer_abort(ShardWriter *w);

#endif
