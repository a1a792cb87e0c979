// Token shards: the pre-tokenized files the trainer reads (format in doc/formats.md).
// A 1024-byte header of 256 little-endian int32, then the tokens.
#ifndef SCPT_SHARD_H
#define SCPT_SHARD_H

#include <stdint.h>
#include "util.h"

#define SHARD_MAGIC 20240520
#define SHARD_VERSION_U16 1          // uint16 tokens (vocab <= 65536), llm.c compatible
#define SHARD_VERSION_U32 2          // uint32 tokens (e.g. Llama 3's 128256 ids)
#define SHARD_MAGIC_LLMC_LLAMA3 20240801  // llm.c's Llama 3 shards (version 7, uint32): read only
#define SHARD_HEADER_INTS 256
#define SHARD_HEADER_BYTES (SHARD_HEADER_INTS * 4)

typedef struct {
    char *path;
    int token_bytes;        // 2 or 4
    int vocab_size;         // from the header; 0 when the writer did not record it
    int eot;                // document separator id from the header; -1 when unknown
    int64_t num_tokens;
    const uint8_t *tokens;  // into the mmap'd file
    void *map;
    size_t map_bytes;
} Shard;

// Maps and validates a shard: magic, version, size against the header's token count,
// and (when max_vocab > 0) that every token id is < max_vocab. -1 with scpt_error() set.
int shard_open(Shard *s, const char *path, int max_vocab);
void shard_close(Shard *s);
static inline int shard_token(const Shard *s, int64_t i) {
    return s->token_bytes == 2 ? ((const uint16_t *)s->tokens)[i] : (int)((const uint32_t *)s->tokens)[i];
}

// Streams tokens into a new shard written atomically. The token width is chosen from
// vocab_size: uint16 when every id fits, else uint32.
typedef struct {
    AtomicFile file;
    int token_bytes;
    int vocab_size;
    int eot;
    int64_t num_tokens;
} ShardWriter;

int shard_writer_open(ShardWriter *w, const char *path, int vocab_size, int eot);
int shard_writer_append(ShardWriter *w, const int32_t *tokens, size_t n);
int shard_writer_close(ShardWriter *w);   // writes the header and renames into place
void shard_writer_abort(ShardWriter *w);

#endif
