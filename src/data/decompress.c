// Input streams for `tokenize` (see decompress.h): plain, gzip (zlib) or
// zstd (libzstd) bytes, told apart by their first bytes, so a file renamed or
// piped on standard input still reads. Concatenated gzip members and zstd
// frames (what `cat a.gz b.gz` and pzstd make) read as one stream; a file that
// ends inside compressed data is an error, never a silent short document.
#include "decompress.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>
#include "util.h"

#define RAW_BLOCK (256 << 10)

typedef enum { CODEC_PLAIN, CODEC_GZIP, CODEC_ZSTD } Codec;

struct InStream {
    FILE *f;
    char *path;
    Codec codec;
    unsigned char *raw;      // bytes of the file not yet decoded: raw[raw_pos, raw_len)
    size_t raw_pos, raw_len;
    int raw_eof;
    uint64_t raw_bytes;      // bytes of the file read so far
    z_stream z;
    int in_member;           // gzip: inside a member (its end not yet seen)
    ZSTD_DCtx *zd;
    size_t zstd_left;        // zstd: the last ZSTD_decompressStream result (0: at a frame's end)
};

static const char *codec_names[] = {"plain", "gzip", "zstd"};

// Reads more of the file after the undecoded bytes. -1 on a read error.
static int refill(InStream *s) {
    if (s->raw_eof) return 0;
    if (s->raw_pos > 0) {
        memmove(s->raw, s->raw + s->raw_pos, s->raw_len - s->raw_pos);
        s->raw_len -= s->raw_pos;
        s->raw_pos = 0;
    }
    size_t got = fread(s->raw + s->raw_len, 1, RAW_BLOCK - s->raw_len, s->f);
    if (got == 0) {
        if (ferror(s->f)) {
            scpt_set_error("%s: read error: %s", s->path, strerror(errno));
            return -1;
        }
        s->raw_eof = 1;
    }
    s->raw_len += got;
    s->raw_bytes += got;
    return 0;
}

InStream *in_stream_open(const char *path) {
    int std_in = strcmp(path, "-") == 0;
    FILE *f = std_in ? stdin : fopen(path, "rb");
    if (!f) {
        scpt_set_error("%s: cannot open input: %s", path, strerror(errno));
        return NULL;
    }
    InStream *s = xcalloc(1, sizeof *s);
    s->f = f;
    s->path = xstrdup(std_in ? "<stdin>" : path);
    s->raw = xmalloc(RAW_BLOCK);
    // the first bytes decide the codec; a short file is plain
    while (s->raw_len < 4 && !s->raw_eof)
        if (refill(s) != 0) {
            in_stream_close(s);
            return NULL;
        }
    const unsigned char *m = s->raw;
    if (s->raw_len >= 2 && m[0] == 0x1f && m[1] == 0x8b) s->codec = CODEC_GZIP;
    else if (s->raw_len >= 4 && m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd) s->codec = CODEC_ZSTD;
    if (s->codec == CODEC_GZIP && inflateInit2(&s->z, 15 + 16) != Z_OK) die("%s: zlib cannot start", s->path);
    if (s->codec == CODEC_ZSTD && !(s->zd = ZSTD_createDCtx())) die("%s: libzstd cannot start", s->path);
    return s;
}

static long read_plain(InStream *s, char *buf, size_t cap) {
    if (s->raw_pos < s->raw_len) {   // what the codec probe read first
        size_t n = s->raw_len - s->raw_pos < cap ? s->raw_len - s->raw_pos : cap;
        memcpy(buf, s->raw + s->raw_pos, n);
        s->raw_pos += n;
        return (long)n;
    }
    if (s->raw_eof) return 0;
    size_t got = fread(buf, 1, cap, s->f);
    if (got == 0 && ferror(s->f)) {
        scpt_set_error("%s: read error: %s", s->path, strerror(errno));
        return -1;
    }
    if (got == 0) s->raw_eof = 1;
    s->raw_bytes += got;
    return (long)got;
}

static long read_gzip(InStream *s, char *buf, size_t cap) {
    s->z.next_out = (unsigned char *)buf;
    s->z.avail_out = (uInt)cap;
    while (s->z.avail_out > 0) {
        if (s->raw_pos == s->raw_len) {
            if (refill(s) != 0) return -1;
            if (s->raw_pos == s->raw_len) {
                if (s->in_member) {
                    scpt_set_error("%s: truncated gzip data (the file ends inside a compressed member)", s->path);
                    return -1;
                }
                break;
            }
        }
        if (!s->in_member) {   // another member follows the last one
            inflateReset(&s->z);
            s->in_member = 1;
        }
        s->z.next_in = s->raw + s->raw_pos;
        s->z.avail_in = (uInt)(s->raw_len - s->raw_pos);
        int rc = inflate(&s->z, Z_NO_FLUSH);
        s->raw_pos = s->raw_len - s->z.avail_in;
        if (rc == Z_STREAM_END) s->in_member = 0;
        else if (rc != Z_OK && rc != Z_BUF_ERROR) {
            scpt_set_error("%s: bad gzip data after %llu bytes of the file: %s", s->path,
                           (unsigned long long)(s->raw_bytes - (s->raw_len - s->raw_pos)), s->z.msg ? s->z.msg : "corrupt stream");
            return -1;
        }
    }
    return (long)(cap - s->z.avail_out);
}

static long read_zstd(InStream *s, char *buf, size_t cap) {
    ZSTD_outBuffer out = {buf, cap, 0};
    while (out.pos < out.size) {
        if (s->raw_pos == s->raw_len) {
            if (refill(s) != 0) return -1;
            // a frame may still hold decoded bytes without more input
            if (s->raw_pos == s->raw_len && s->zstd_left == 0) break;
        }
        ZSTD_inBuffer in = {s->raw + s->raw_pos, s->raw_len - s->raw_pos, 0};
        size_t before = out.pos;
        size_t rc = ZSTD_decompressStream(s->zd, &out, &in);
        s->raw_pos += in.pos;
        if (ZSTD_isError(rc)) {
            scpt_set_error("%s: bad zstd data: %s", s->path, ZSTD_getErrorName(rc));
            return -1;
        }
        s->zstd_left = rc;
        if (s->raw_eof && s->raw_pos == s->raw_len && in.pos == 0 && out.pos == before && rc != 0) {
            scpt_set_error("%s: truncated zstd data (the file ends inside a frame)", s->path);
            return -1;
        }
    }
    return (long)out.pos;
}

long in_stream_read(InStream *s, char *buf, size_t cap) {
    switch (s->codec) {
    case CODEC_GZIP: return read_gzip(s, buf, cap);
    case CODEC_ZSTD: return read_zstd(s, buf, cap);
    default: return read_plain(s, buf, cap);
    }
}

uint64_t in_stream_file_bytes(const InStream *s) { return s->raw_bytes; }

const char *in_stream_codec(const InStream *s) { return codec_names[s->codec]; }

void in_stream_close(InStream *s) {
    if (!s) return;
    if (s->codec == CODEC_GZIP) inflateEnd(&s->z);
    ZSTD_freeDCtx(s->zd);
    if (s->f != stdin) fclose(s->f);
    free(s->raw);
    free(s->path);
    free(s);
}
