// A file's bytes, decompressed when it is gzip or zstd (told by its first
// bytes, not its name), read in blocks: what DocReader reads its documents from.
#ifndef SCPT_DECOMPRESS_H
#define SCPT_DECOMPRESS_H

#include <stddef.h>
#include <stdint.h>

typedef struct InStream InStream;

// "-" reads standard input. NULL with scpt_error() naming the file.
InStream *in_stream_open(const char *path);
// Up to cap decoded bytes into buf: the count, 0 at the end, or -1 with
// scpt_error() set (read error, corrupt or truncated compressed data).
long in_stream_read(InStream *s, char *buf, size_t cap);
// Bytes of the file itself read so far (compressed bytes for a compressed file).
uint64_t in_stream_file_bytes(const InStream *s);
const char *in_stream_codec(const InStream *s);   // "plain", "gzip" or "zstd"
void in_stream_close(InStream *s);

#endif
