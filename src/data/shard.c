#include "shard.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_SHARD_TOKENS INT32_MAX   // the header stores the count as int32

static int fail_open(Shard *s, int fd) {
    if (fd >= 0) close(fd);
    if (s->map) munmap(s->map, s->map_bytes);
    free(s->path);
    memset(s, 0, sizeof *s);
    return -1;
}

int shard_open(Shard *s, const char *path, int model_vocab) {
    memset(s, 0, sizeof *s);
    s->path = xstrdup(path);
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        scpt_set_error("%s: cannot open shard: %s", path, strerror(errno));
        return fail_open(s, fd);
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size < SHARD_HEADER_BYTES) {
        scpt_set_error("%s: truncated: %lld bytes is shorter than the %d-byte shard header",
                       path, (long long)st.st_size, SHARD_HEADER_BYTES);
        return fail_open(s, fd);
    }
    s->map_bytes = st.st_size;
    s->map = mmap(NULL, s->map_bytes, PROT_READ, MAP_PRIVATE, fd, 0);
    if (s->map == MAP_FAILED) {
        s->map = NULL;
        scpt_set_error("%s: cannot map shard: %s", path, strerror(errno));
        return fail_open(s, fd);
    }
    close(fd);
    fd = -1;
    const int32_t *h = s->map;
    int has_mask = 0;
    s->version = h[1];
    if (h[0] == SHARD_MAGIC && h[1] == SHARD_VERSION_3) {
        if (h[5] != 2 && h[5] != 4) {
            scpt_set_error("%s: token width %d bytes in the header (expected 2 or 4)", path, h[5]);
            return fail_open(s, fd);
        }
        if (h[6] & ~SHARD_FLAG_MASK) {
            scpt_set_error("%s: unknown header flags 0x%x (written by a newer scpt?)", path, h[6]);
            return fail_open(s, fd);
        }
        if (h[3] <= 0 || h[4] < -1 || h[4] >= h[3]) {
            scpt_set_error("%s: header vocabulary %d or separator id %d is invalid", path, h[3], h[4]);
            return fail_open(s, fd);
        }
        s->token_bytes = h[5];
        s->vocab_size = h[3];
        s->eot = h[4];
        memcpy(s->tokenizer, h + SHARD_TOKENIZER_INT, SHARD_TOKENIZER_BYTES);
        for (int i = 0; s->tokenizer[i]; i++)
            if (s->tokenizer[i] < 0x20 || s->tokenizer[i] > 0x7e) s->tokenizer[i] = '?';   // printable in messages
        has_mask = h[6] & SHARD_FLAG_MASK;
    } else if (h[0] == SHARD_MAGIC && (h[1] == SHARD_VERSION_U16 || h[1] == SHARD_VERSION_U32)) {
        s->token_bytes = h[1] == SHARD_VERSION_U16 ? 2 : 4;
        s->vocab_size = h[3];
        s->eot = h[3] ? h[4] : -1;
    } else if (h[0] == SHARD_MAGIC_LLMC_LLAMA3 && h[1] == 7) {
        s->token_bytes = 4;
        s->eot = -1;
    } else if (h[0] == SHARD_MAGIC || h[0] == SHARD_MAGIC_LLMC_LLAMA3) {
        scpt_set_error("%s: unsupported shard version %d", path, h[1]);
        return fail_open(s, fd);
    } else {
        scpt_set_error("%s: bad magic %d (expected %d): not a token shard", path, h[0], SHARD_MAGIC);
        return fail_open(s, fd);
    }
    s->num_tokens = h[2];
    int64_t have = (int64_t)(s->map_bytes - SHARD_HEADER_BYTES);
    int64_t mask_bytes = has_mask ? (s->num_tokens + 7) / 8 : 0;
    int64_t want = s->num_tokens * s->token_bytes + mask_bytes;
    if (s->num_tokens < 0 || have < want) {
        scpt_set_error("%s: truncated: header says %lld tokens%s (%lld bytes) but the file holds %lld bytes after the header",
                       path, (long long)s->num_tokens, has_mask ? " and their loss mask" : "", (long long)want,
                       (long long)have);
        return fail_open(s, fd);
    }
    if (have > want) {
        scpt_set_error("%s: %lld bytes after the %lld tokens%s the header declares", path, (long long)(have - want),
                       (long long)s->num_tokens, has_mask ? " and their loss mask" : "");
        return fail_open(s, fd);
    }
    s->tokens = (const uint8_t *)s->map + SHARD_HEADER_BYTES;
    if (has_mask) s->mask = s->tokens + s->num_tokens * s->token_bytes;
    if (model_vocab > 0 && s->vocab_size > 0 && s->vocab_size != model_vocab) {
        scpt_set_error("%s: tokenized with %s (vocabulary of %d) but the model's vocabulary is %d: tokenize the data "
                       "with the model's tokenizer (tokenize --vocab)",
                       path, s->tokenizer[0] ? s->tokenizer : "a tokenizer", s->vocab_size, model_vocab);
        return fail_open(s, fd);
    }
    if (model_vocab > 0) {
        for (int64_t i = 0; i < s->num_tokens; i++) {
            int t = shard_token(s, i);
            if (t < 0 || t >= model_vocab) {
                scpt_set_error("%s: token %d at position %lld is outside the model's vocabulary of %d",
                               path, t, (long long)i, model_vocab);
                return fail_open(s, fd);
            }
        }
    }
    return 0;
}

void shard_close(Shard *s) {
    if (s->map) munmap(s->map, s->map_bytes);
    free(s->path);
    memset(s, 0, sizeof *s);
}

int shard_writer_open(ShardWriter *w, const char *path, int vocab_size, int eot, const char *tokenizer,
                      int has_mask) {
    memset(w, 0, sizeof *w);
    if (vocab_size <= 0 || eot < -1 || eot >= vocab_size || strlen(tokenizer) > SHARD_TOKENIZER_BYTES) {
        scpt_set_error("%s: bad shard metadata: vocabulary %d, separator %d, tokenizer '%s'", path, vocab_size, eot,
                       tokenizer);
        return -1;
    }
    w->token_bytes = vocab_size <= 65536 ? 2 : 4;
    w->vocab_size = vocab_size;
    w->eot = eot;
    snprintf(w->tokenizer, sizeof w->tokenizer, "%s", tokenizer);
    w->has_mask = has_mask;
    if (atomic_open(&w->file, path) != 0) return -1;
    int32_t header[SHARD_HEADER_INTS] = {0};   // placeholder, rewritten by close
    if (write_all(w->file.f, header, sizeof header, w->file.tmp_path) != 0) {
        atomic_abort(&w->file);
        return -1;
    }
    return 0;
}

int shard_writer_append(ShardWriter *w, const int32_t *tokens, const uint8_t *mask, size_t n) {
    if (w->num_tokens + (int64_t)n > MAX_SHARD_TOKENS) {
        scpt_set_error("%s: more than %d tokens in one shard", w->file.path, MAX_SHARD_TOKENS);
        return -1;
    }
    uint8_t buf[4096 * 4];
    size_t per = sizeof buf / w->token_bytes;
    for (size_t done = 0; done < n; done += per) {
        size_t m = n - done < per ? n - done : per;
        for (size_t i = 0; i < m; i++) {
            int32_t t = tokens[done + i];
            if (t < 0 || t >= w->vocab_size) {
                scpt_set_error("%s: token %d is outside the vocabulary of %d", w->file.path, t, w->vocab_size);
                return -1;
            }
            if (w->token_bytes == 2) ((uint16_t *)buf)[i] = (uint16_t)t;
            else ((uint32_t *)buf)[i] = (uint32_t)t;
        }
        if (write_all(w->file.f, buf, m * w->token_bytes, w->file.tmp_path) != 0) return -1;
    }
    if (w->has_mask) {
        size_t need = (size_t)(w->num_tokens + n + 7) / 8;
        if (need > w->mask_cap) {
            w->mask_cap = need > 2 * w->mask_cap ? need : 2 * w->mask_cap;
            w->mask = realloc(w->mask, w->mask_cap);
            if (!w->mask) die("out of memory for the loss mask of %s", w->file.path);
        }
        for (size_t i = 0; i < n; i++) {
            int64_t k = w->num_tokens + (int64_t)i;
            uint8_t bit = (uint8_t)(1u << (k & 7));
            if (k % 8 == 0) w->mask[k >> 3] = 0;
            if (!mask || mask[i]) w->mask[k >> 3] |= bit;
        }
    }
    w->num_tokens += n;
    return 0;
}

int shard_writer_close(ShardWriter *w) {
    int32_t header[SHARD_HEADER_INTS] = {0};
    header[0] = SHARD_MAGIC;
    header[1] = SHARD_VERSION_3;
    header[2] = (int32_t)w->num_tokens;
    header[3] = w->vocab_size;
    header[4] = w->eot;
    header[5] = w->token_bytes;
    header[6] = w->has_mask ? SHARD_FLAG_MASK : 0;
    memcpy(header + SHARD_TOKENIZER_INT, w->tokenizer, strlen(w->tokenizer));
    size_t mask_bytes = w->has_mask ? (size_t)(w->num_tokens + 7) / 8 : 0;
    int rc = (mask_bytes && write_all(w->file.f, w->mask, mask_bytes, w->file.tmp_path) != 0) ||
             fseek(w->file.f, 0, SEEK_SET) != 0 || write_all(w->file.f, header, sizeof header, w->file.tmp_path) != 0;
    free(w->mask);
    w->mask = NULL;
    if (rc) {
        atomic_abort(&w->file);
        return -1;
    }
    return atomic_commit(&w->file);
}

void shard_writer_abort(ShardWriter *w) {
    free(w->mask);
    w->mask = NULL;
    atomic_abort(&w->file);
}
