// Documents for `tokenize`, streamed from plain text or JSONL files in bounded
// memory: whole files, blank-line-separated paragraphs, lines, or one string
// field of each JSONL record.
#ifndef SCPT_TOKENIZE_INPUT_H
#define SCPT_TOKENIZE_INPUT_H

#include <stdint.h>
#include <stdio.h>

typedef struct {
    char *data;
    size_t len, cap;
} ByteBuf;
void byte_buf_append(ByteBuf *b, const void *data, size_t n);
void byte_buf_free(ByteBuf *b);

typedef enum {
    DOCS_FILE,        // the whole file is one document (read in blocks: any size)
    DOCS_PARAGRAPHS,  // documents are separated by blank (or whitespace-only) lines
    DOCS_LINES,       // every non-empty line is a document
    DOCS_JSONL,       // one JSON object per line; the document is one string field
} DocMode;

typedef struct {
    char *path;
    struct InStream *in;  // the file's bytes, decompressed (src/data/decompress.h)
    DocMode mode;
    const char *field;
    char *buf;            // read buffer: unconsumed bytes are buf[start, end)
    size_t cap, start, end;
    int eof;
    int64_t line_no;      // of the last line handed out (for messages)
    uint64_t bytes_read;  // of the file itself (compressed bytes for .gz/.zst)
    int in_file_doc;      // DOCS_FILE: the document has started
} DocReader;

// "-" reads standard input; gzip and zstd files are decompressed. -1 with scpt_error() naming the file.
int doc_reader_open(DocReader *r, const char *path, DocMode mode, const char *field);
void doc_reader_close(DocReader *r);

// The inputs named on a command line: a folder stands for the files under it
// (recursively, sorted by name) whose names end .jsonl or .txt, each plain or
// with .gz or .zst after; other files there are counted in *skipped. Other
// names pass as they are. 0, or -1 with scpt_error() (a folder with no inputs).
int input_files_expand(char *const *args, int n_args, char ***paths, int *n_paths, int *skipped);
// 1 when the name ends .jsonl, .jsonl.gz or .jsonl.zst.
int input_name_is_jsonl(const char *path);

// Replaces `out` with the next document, or, in DOCS_FILE mode, the next block of
// the file's one document (*starts_doc is 1 for its first block only). Empty
// documents are skipped. Returns 1, 0 at the end of the file, or -1 with
// scpt_error() set ("<file>:<line>: what is wrong" for a bad JSONL record).
int doc_reader_next(DocReader *r, ByteBuf *out, int *starts_doc);

// The string value of the top-level `field` of the JSON object in line[0, len),
// unescaped into `out` (appended; \u0000 and any byte pass through exactly).
// 1 when found, 0 when the object has no such string field, -1 when the line is
// not a JSON object (*why says what is wrong, and *where the byte offset).
int jsonl_string_field(const char *line, size_t len, const char *field, ByteBuf *out,
                       const char **why, size_t *where);

#endif
