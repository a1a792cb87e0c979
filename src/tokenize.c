// tokenize: plain text and JSONL files -> token shards (doc/tokenizer.md).
//
// The main thread reads documents and packs them into batches of about 1 MB;
// worker threads encode batches; the main thread writes finished batches in
// input order. Output is therefore identical for any thread count, and memory
// is bounded by the batches in flight (plus the longest JSONL line, or a
// document with no safe cut point in it).
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "args.h"
#include "chat_template.h"
#include "dedup.h"
#include "shard.h"
#include "tokenize_input.h"
#include "tokenizer.h"
#include "util.h"

#define BATCH_BYTES (1 << 20)
#define CUT_WINDOW (1 << 16)   // where a long document's cut is searched for: its last 64 KiB

typedef struct {
    size_t offset, len;
    int64_t doc;        // document index in the input order
    int starts_doc;     // first segment of its document: gets the separator
} Segment;

enum { SLOT_FREE, SLOT_QUEUED, SLOT_DONE };

typedef struct {
    int state;
    int64_t seq;
    ByteBuf text;
    Segment *segs;
    size_t n_segs, cap_segs;
    size_t *seg_end;    // ids of segment i end at seg_end[i]
    TokenIds ids;
    int failed;
    char error[1024];
} Batch;

typedef struct {
    const char *prefix, *kind;
    int64_t shard_tokens;
    int vocab_size, eot;
    const char *tokenizer;
    int has_mask;       // --chat: a loss mask beside the tokens
    int index;          // shards finished
    int open;
    ShardWriter w;
    int64_t total;
} ShardStream;

typedef struct {
    const Tokenizer *tok;
    int special, bos;
    Batch *slots;
    int n_slots;
    int64_t next_seq, next_encode, next_write;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    int stop;
    // document split and output
    double val_frac;
    int64_t val_tokens;
    uint64_t seed;
    int cur_is_val;
    ShardStream train, val;
    int64_t docs, train_docs, val_docs;
    int64_t max_tokens;   // --max-tokens: the budget of train + val tokens (0: none)
    int full;             // the budget is spent: nothing more is read or written
    // the document being cut into segments
    ByteBuf pending;
    int pending_starts;
    int64_t doc_index;
} Run;

// ---- shards --------------------------------------------------------------------

static void shard_path(const ShardStream *s, int index, char *buf, size_t cap) {
    snprintf(buf, cap, "%s_%s_%06d.bin", s->prefix, s->kind, index);
}

static void stream_append(ShardStream *s, const int32_t *ids, const uint8_t *mask, size_t n) {
    while (n > 0) {
        if (!s->open) {
            char path[4096];
            shard_path(s, s->index, path, sizeof path);
            if (shard_writer_open(&s->w, path, s->vocab_size, s->eot, s->tokenizer, s->has_mask) != 0) die("%s", scpt_error());
            s->open = 1;
        }
        size_t room = (size_t)(s->shard_tokens - s->w.num_tokens), m = n < room ? n : room;
        if (shard_writer_append(&s->w, ids, mask, m) != 0) die("%s", scpt_error());
        ids += m;
        if (mask) mask += m;
        n -= m;
        s->total += m;
        if (s->w.num_tokens == s->shard_tokens) {
            if (shard_writer_close(&s->w) != 0) die("%s", scpt_error());
            s->open = 0;
            s->index++;
        }
    }
}

// Closes the last shard; returns the number of shards written.
static int stream_finish(ShardStream *s) {
    if (s->open) {
        if (shard_writer_close(&s->w) != 0) die("%s", scpt_error());
        s->open = 0;
        s->index++;
    }
    return s->index;
}

// Shards of an earlier run at this prefix (numbered from 0 on); with `remove`
// they are deleted. Run before writing, so the prefix never mixes two runs, not
// even after a failure part-way.
static int earlier_shards(const ShardStream *s, int remove) {
    int n = 0;
    for (;; n++) {
        char path[4096];
        struct stat st;
        shard_path(s, n, path, sizeof path);
        if (stat(path, &st) != 0) break;
        if (remove && unlink(path) != 0) die("%s: cannot remove: %s", path, strerror(errno));
    }
    return n;
}

// ---- document split ---------------------------------------------------------

static uint64_t splitmix64(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static int doc_is_val(Run *r, int64_t doc) {
    if (r->val_tokens > 0) return r->val.total < r->val_tokens;
    return r->val_frac > 0 && (double)(splitmix64(doc ^ splitmix64(r->seed)) >> 11) * 0x1p-53 < r->val_frac;
}

static void write_batch(Run *r, Batch *b) {
    if (b->failed) die("%s", b->error);
    size_t start = 0;
    for (size_t i = 0; i < b->n_segs && !r->full; i++) {
        const Segment *s = &b->segs[i];
        size_t n = b->seg_end[i] - start;
        if (r->max_tokens > 0) {   // the last document is cut where the budget ends
            int64_t left = r->max_tokens - (r->train.total + r->val.total);
            if ((int64_t)n >= left) n = (size_t)left, r->full = 1;
        }
        if (s->starts_doc) {
            r->cur_is_val = doc_is_val(r, s->doc);
            r->docs++;
            *(r->cur_is_val ? &r->val_docs : &r->train_docs) += 1;
        }
        stream_append(r->cur_is_val ? &r->val : &r->train, b->ids.ids + start, NULL, n);
        start = b->seg_end[i];
    }
}

// ---- workers -----------------------------------------------------------------

static void encode_batch(Run *r, Batch *b) {
    b->ids.len = 0;
    b->failed = 0;
    int eot = tokenizer_eot(r->tok), bos = tokenizer_bos(r->tok);
    for (size_t i = 0; i < b->n_segs; i++) {
        const Segment *s = &b->segs[i];
        if (s->starts_doc) {
            token_ids_push(&b->ids, eot);
            if (r->bos) token_ids_push(&b->ids, bos);
        }
        const char *text = b->text.data + s->offset;
        int rc = r->special ? tokenizer_encode_special(r->tok, text, s->len, &b->ids)
                            : tokenizer_encode(r->tok, text, s->len, &b->ids);
        if (rc != 0) {
            b->failed = 1;
            snprintf(b->error, sizeof b->error, "%s", scpt_error());
            return;
        }
        b->seg_end[i] = b->ids.len;
    }
}

static void *worker(void *arg) {
    Run *r = arg;
    pthread_mutex_lock(&r->lock);
    for (;;) {
        while (!r->stop && r->next_encode == r->next_seq) pthread_cond_wait(&r->changed, &r->lock);
        if (r->next_encode == r->next_seq) break;   // stopping, nothing left
        Batch *b = &r->slots[r->next_encode++ % r->n_slots];
        pthread_mutex_unlock(&r->lock);
        encode_batch(r, b);
        pthread_mutex_lock(&r->lock);
        b->state = SLOT_DONE;
        pthread_cond_broadcast(&r->changed);
    }
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

// Writes the oldest batch once it is encoded, freeing its slot.
static void write_oldest(Run *r) {
    Batch *b = &r->slots[r->next_write % r->n_slots];
    pthread_mutex_lock(&r->lock);
    while (b->state != SLOT_DONE) pthread_cond_wait(&r->changed, &r->lock);
    pthread_mutex_unlock(&r->lock);
    write_batch(r, b);
    b->state = SLOT_FREE;
    r->next_write++;
}

static Batch *filling(Run *r) { return &r->slots[r->next_seq % r->n_slots]; }

static void submit(Run *r) {
    Batch *b = filling(r);
    if (b->n_segs == 0) return;
    pthread_mutex_lock(&r->lock);
    b->state = SLOT_QUEUED;
    b->seq = r->next_seq++;
    pthread_cond_broadcast(&r->changed);
    pthread_mutex_unlock(&r->lock);
    if (r->next_seq - r->next_write == r->n_slots) write_oldest(r);
    b = filling(r);
    b->text.len = 0;
    b->n_segs = 0;
}

static void add_segment(Run *r, const char *text, size_t len, int starts_doc) {
    Batch *b = filling(r);
    if (b->n_segs == b->cap_segs) {
        b->cap_segs = b->cap_segs ? 2 * b->cap_segs : 1024;
        b->segs = realloc(b->segs, b->cap_segs * sizeof *b->segs);
        b->seg_end = realloc(b->seg_end, b->cap_segs * sizeof *b->seg_end);
        if (!b->segs || !b->seg_end) die("out of memory");
    }
    b->segs[b->n_segs++] = (Segment){b->text.len, len, r->doc_index, starts_doc};
    byte_buf_append(&b->text, text, len);
    if (b->text.len >= BATCH_BYTES) submit(r);
}

// Takes the next part of the current document. Long documents go out in
// segments cut where the tokenizer guarantees the same ids as uncut; a document
// with no such point stays whole.
static void feed(Run *r, const char *text, size_t len, int starts_doc, int ends_doc) {
    if (starts_doc) {
        r->pending.len = 0;
        r->pending_starts = 1;
    }
    byte_buf_append(&r->pending, text, len);
    while (r->pending.len > BATCH_BYTES) {
        size_t cut = tokenizer_safe_cut(r->tok, r->pending.data, r->pending.len - BATCH_BYTES / 2, CUT_WINDOW);
        if (cut == 0) break;
        add_segment(r, r->pending.data, cut, r->pending_starts);
        r->pending_starts = 0;
        memmove(r->pending.data, r->pending.data + cut, r->pending.len - cut);
        r->pending.len -= cut;
    }
    if (ends_doc) {
        if (r->pending.len) add_segment(r, r->pending.data, r->pending.len, r->pending_starts);
        r->pending.len = 0;
        r->doc_index++;
    }
}

// ---- progress ----------------------------------------------------------------

typedef struct {
    double start, last;
    uint64_t total_bytes, done_bytes;
    int tty, quiet;
} Progress;

static void progress_show(Progress *p, const Run *r, int final) {
    double now = wall_time();
    if (p->quiet || (!final && now - p->last < (p->tty ? 0.25 : 10.0))) return;
    p->last = now;
    double secs = now - p->start, mb = p->done_bytes / 1e6, rate = secs > 0 ? mb / secs : 0;
    int64_t tokens = r->train.total + r->val.total;
    char eta[32] = "";
    if (p->total_bytes && rate > 0 && !final)
        snprintf(eta, sizeof eta, ", ETA %.0fs", (p->total_bytes / 1e6 - mb) / rate);
    char of[32] = "";
    if (p->total_bytes) snprintf(of, sizeof of, " / %.1f MB (%.0f%%)", p->total_bytes / 1e6, 100.0 * p->done_bytes / p->total_bytes);
    // on a terminal the line is redrawn in place (\033[K clears what a longer one left)
    fprintf(stderr, "%stokenize: %.1f MB%s, %.2f MB/s, %lld docs, %.2fM tokens%s%s", p->tty ? "\r" : "", mb, of, rate,
            (long long)r->docs, tokens / 1e6, eta, p->tty ? (final ? "\033[K\n" : "\033[K") : "\n");
    fflush(stderr);
}

// ---- --chat ------------------------------------------------------------------

// One conversation per JSONL line, rendered with the vocabulary's chat template and
// its loss mask (src/tokenizer/chat_encode.c), encoded here on the main thread.
// Returns the conversations without an assistant turn (nothing in them is trained).
static int64_t chat_file(Run *r, const char *path, const ChatTemplate *ct, Progress *p, uint64_t before) {
    DocReader in;
    if (doc_reader_open(&in, path, DOCS_LINES, NULL) != 0) die("%s", scpt_error());
    ByteBuf line = {0};
    ChatTokens c = {0};
    int64_t untrained = 0;
    int starts, rc;
    while ((rc = doc_reader_next(&in, &line, &starts)) == 1) {
        c.ids.len = 0;
        if (chat_encode_json(ct, r->tok, line.data, line.len, &c) != 0)
            die("%s:%lld: %s", path, (long long)in.line_no, scpt_error());
        untrained += c.assistant_turns == 0;
        r->cur_is_val = doc_is_val(r, r->doc_index++);
        r->docs++;
        *(r->cur_is_val ? &r->val_docs : &r->train_docs) += 1;
        stream_append(r->cur_is_val ? &r->val : &r->train, c.ids.ids, c.trained, c.ids.len);
        p->done_bytes = before + in.bytes_read;
        progress_show(p, r, 0);
    }
    if (rc < 0) die("%s", scpt_error());
    p->done_bytes = before + in.bytes_read;
    doc_reader_close(&in);
    byte_buf_free(&line);
    chat_tokens_free(&c);
    return untrained;
}

// ---- main --------------------------------------------------------------------

static DocMode input_mode(const char *path, const char *format, DocMode text_mode) {
    if (strcmp(format, "jsonl") == 0) return DOCS_JSONL;
    if (strcmp(format, "text") == 0) return text_mode;
    return input_name_is_jsonl(path) ? DOCS_JSONL : text_mode;
}

int main(int argc, char **argv) {
    const char *vocab = "gpt2", *out = NULL, *format = "auto", *field = "text", *docs = "file";
    int threads = (int)sysconf(_SC_NPROCESSORS_ONLN), quiet = 0, force = 0, chat = 0;
    float val_frac = 0, dedup_threshold = 0.8f;
    const char *dedup_mode = "off";
    Run r = {0};
    int64_t shard_tokens = 100000000;
    int64_t seed = 0;
    ArgSpec specs[] = {
        {"--out", ARG_STRING, &out, "shard prefix: writes PREFIX_train_000000.bin, ... (and PREFIX_val_*.bin)", 0, 0},
        {"--vocab", ARG_STRING, &vocab, "gpt2, llama3, or a tiktoken / tokenizer.json file", 0, 0},
        {"--format", ARG_STRING, &format, "auto (.jsonl files are JSONL, others text), jsonl, text", 0, 0},
        {"--field", ARG_STRING, &field, "JSONL: the field holding the document: a string, or an array of strings joined", 0, 0},
        {"--docs", ARG_STRING, &docs, "text: file (one document per file), paragraphs (blank-line separated), lines", 0, 0},
        {"--val-frac", ARG_FLOAT, &val_frac, "send each document to validation with this probability", 0, 0.999999},
        {"--val-tokens", ARG_INT64, &r.val_tokens, "send the first documents, until N tokens, to validation", 0, 1e18},
        {"--seed", ARG_INT64, &seed, "seed of the --val-frac draw", 0, 1e18},
        {"--shard-tokens", ARG_INT64, &shard_tokens, "tokens per shard", 1, INT32_MAX},
        {"--max-tokens", ARG_INT64, &r.max_tokens, "stop after N tokens (train and val together; the last document is cut)", 1, 1e18},
        {"--dedup", ARG_STRING, &dedup_mode, "off; count: report exact and near duplicates; exact: drop exact duplicates; near: drop both", 0, 0},
        {"--dedup-threshold", ARG_FLOAT, &dedup_threshold, "near duplicate: estimated Jaccard of 5-word shingles >= this", 0.01, 1},
        {"--threads", ARG_INT, &threads, "encoding threads (default: all cores)", 1, 4096},
        {"--special", ARG_FLAG, &r.special, "encode special-token text (<|endoftext|> ...) as the special token", 0, 0},
        {"--bos", ARG_FLAG, &r.bos, "start every document with <|begin_of_text|> after the separator", 0, 0},
        {"--chat", ARG_FLAG, &chat, "inputs are chat JSONL ({\"messages\": [{\"role\", \"content\"}]}) rendered with the vocabulary's chat template; shards carry a loss mask: only assistant replies train", 0, 0},
        {"--force", ARG_FLAG, &force, "replace the shards of an earlier run at --out (else refused)", 0, 0},
        {"--quiet", ARG_FLAG, &quiet, "no progress line", 0, 0},
    };
    int n_inputs = args_parse_inputs(argc, argv, specs, sizeof specs / sizeof specs[0],
                                     "usage: tokenize --out PREFIX [options] INPUT...\n"
                                     "Every document is preceded by the separator token (<|endoftext|> / <|end_of_text|>).\n"
                                     "INPUT '-' is standard input; a folder stands for its .jsonl and .txt files (sorted,\n"
                                     "recursively); gzip and zstd files (.jsonl.gz, .jsonl.zst, ...) are decompressed as read.");
    r.val_frac = val_frac, r.seed = (uint64_t)seed;
    if (!out) usage_error("--out is required");
    if (n_inputs == 0) usage_error("no INPUT given");
    if (r.val_frac > 0 && r.val_tokens > 0) usage_error("--val-frac and --val-tokens exclude each other");
    if (strcmp(format, "auto") && strcmp(format, "jsonl") && strcmp(format, "text"))
        usage_error("--format: expected auto, jsonl or text, got '%s'", format);
    DocMode text_mode = strcmp(docs, "file") == 0 ? DOCS_FILE : strcmp(docs, "paragraphs") == 0 ? DOCS_PARAGRAPHS
                        : strcmp(docs, "lines") == 0 ? DOCS_LINES : (usage_error("--docs: expected file, paragraphs or lines, got '%s'", docs), DOCS_FILE);
    if (strcmp(dedup_mode, "off") && strcmp(dedup_mode, "count") && strcmp(dedup_mode, "exact") && strcmp(dedup_mode, "near"))
        usage_error("--dedup: expected off, count, exact or near, got '%s'", dedup_mode);
    // near duplicates are looked for unless only exact ones are dropped
    Dedup *dedup = strcmp(dedup_mode, "off") ? dedup_new(strcmp(dedup_mode, "exact") != 0, dedup_threshold) : NULL;
    int dedup_drops = !strcmp(dedup_mode, "exact") || !strcmp(dedup_mode, "near");
    int64_t dups[3] = {0};

    Tokenizer *tok = tokenizer_open(vocab);
    if (!tok) die("%s", scpt_error());
    r.tok = tok;
    if (tokenizer_eot(tok) < 0) die("%s: the vocabulary has no document separator (<|endoftext|> or <|end_of_text|>)", vocab);
    if (r.bos && tokenizer_bos(tok) < 0) die("--bos: %s has no <|begin_of_text|> token", vocab);

    char dir[4096];
    snprintf(dir, sizeof dir, "%s", out);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        if (make_dirs(dir) != 0) die("%s", scpt_error());
    }
    ShardStream proto = {.prefix = out, .shard_tokens = shard_tokens, .vocab_size = tokenizer_vocab_size(tok),
                         .eot = tokenizer_eot(tok), .tokenizer = tokenizer_name(tok)};
    const ChatTemplate *chat_template = NULL;
    if (chat && (r.special || r.bos || strcmp(format, "auto") || strcmp(field, "text") || strcmp(docs, "file")))
        usage_error("--chat: the chat template decides the format and special tokens; --special, --bos, --format, --field "
            "and --docs do not apply");
    if (chat && (dedup || r.max_tokens > 0)) usage_error("--chat: --dedup and --max-tokens apply to documents, not conversations");
    if (chat && !(chat_template = chat_template_for(tok))) die("--chat: %s", scpt_error());
    proto.has_mask = chat;
    r.train = proto, r.train.kind = "train";
    r.val = proto, r.val.kind = "val";
    int earlier = earlier_shards(&r.train, 0) + earlier_shards(&r.val, 0);
    if (earlier && !force)
        usage_error("%s already holds %d shard%s of an earlier run: give --force to replace them, or another --out",
                    out, earlier, earlier == 1 ? "" : "s");
    if (earlier) {
        earlier_shards(&r.train, 1), earlier_shards(&r.val, 1);
        if (!quiet) fprintf(stderr, "tokenize: removed %d shard%s of an earlier run (--force)\n", earlier, earlier == 1 ? "" : "s");
    }

    Progress p = {.start = wall_time(), .tty = isatty(2), .quiet = quiet};
    p.last = p.start;
    char **inputs;
    int skipped;
    if (input_files_expand(argv + 1, n_inputs, &inputs, &n_inputs, &skipped) != 0) die("%s", scpt_error());
    for (int i = 0; i < n_inputs; i++) {
        struct stat st;
        if (strcmp(inputs[i], "-") != 0 && stat(inputs[i], &st) == 0) p.total_bytes += st.st_size;
    }

    r.n_slots = 2 * threads + 2;
    r.slots = xcalloc(r.n_slots, sizeof *r.slots);
    pthread_mutex_init(&r.lock, NULL);
    pthread_cond_init(&r.changed, NULL);
    pthread_t *pool = xmalloc(threads * sizeof *pool);
    for (int i = 0; i < threads; i++) pthread_create(&pool[i], NULL, worker, &r);

    ByteBuf doc = {0};
    uint64_t before = 0;
    int64_t untrained = 0;
    for (int i = 0; i < n_inputs && !r.full; i++) {
        if (chat) {
            untrained += chat_file(&r, inputs[i], chat_template, &p, before);
            before = p.done_bytes;
            continue;
        }
        DocReader in;
        if (doc_reader_open(&in, inputs[i], input_mode(inputs[i], format, text_mode), field) != 0) die("%s", scpt_error());
        int starts, rc = 0;
        if (dedup && in.mode == DOCS_FILE) usage_error("--dedup: %s: documents are whole files; use JSONL, or --docs paragraphs or lines", inputs[i]);
        while (!r.full && (rc = doc_reader_next(&in, &doc, &starts)) == 1) {
            if (dedup) {
                DupKind k = dedup_check(dedup, doc.data, doc.len);
                dups[k]++;
                if (k != DUP_NONE && dedup_drops) continue;
            }
            feed(&r, doc.data, doc.len, starts, in.mode != DOCS_FILE);   // a file's document ends with it
            p.done_bytes = before + in.bytes_read;
            progress_show(&p, &r, 0);
        }
        if (rc < 0) die("%s", scpt_error());
        if (in.mode == DOCS_FILE && in.in_file_doc) feed(&r, "", 0, 0, 1);
        before += in.bytes_read;
        doc_reader_close(&in);
    }
    submit(&r);
    while (r.next_write < r.next_seq) write_oldest(&r);
    pthread_mutex_lock(&r.lock);
    r.stop = 1;
    pthread_cond_broadcast(&r.changed);
    pthread_mutex_unlock(&r.lock);
    for (int i = 0; i < threads; i++) pthread_join(pool[i], NULL);

    int n_train = stream_finish(&r.train), n_val = stream_finish(&r.val);
    p.done_bytes = before;
    progress_show(&p, &r, 1);
    if (!quiet) {
        fprintf(stderr, "tokenize: %s (%s, vocab %d): %lld train docs, %lld tokens in %d shard%s; %lld val docs, %lld tokens in %d shard%s\n",
                vocab, tokenizer_name(tok), tokenizer_vocab_size(tok), (long long)r.train_docs, (long long)r.train.total,
                n_train, n_train == 1 ? "" : "s", (long long)r.val_docs, (long long)r.val.total, n_val, n_val == 1 ? "" : "s");
        if (r.full) fprintf(stderr, "tokenize: stopped at --max-tokens %lld\n", (long long)r.max_tokens);
        char near[80] = "";
        if (dedup && strcmp(dedup_mode, "exact"))
            snprintf(near, sizeof near, " and %lld near (Jaccard >= %.2f)", (long long)dups[DUP_NEAR], dedup_threshold);
        if (dedup)
            fprintf(stderr, "tokenize: --dedup %s: %lld exact%s duplicates of %lld documents read, %s\n", dedup_mode,
                    (long long)dups[DUP_EXACT], near, (long long)(dups[0] + dups[1] + dups[2]),
                    dedup_drops ? "dropped" : "counted, none dropped");
        if (skipped) fprintf(stderr, "tokenize: skipped %d file%s in the input folders (not .jsonl or .txt)\n", skipped, skipped == 1 ? "" : "s");
    }
    if (untrained)
        fprintf(stderr, "tokenize: warning: %lld conversation%s without an assistant turn: nothing in them is trained\n",
                (long long)untrained, untrained == 1 ? "" : "s");
    // an empty split is an error: `train --val` would find no shard; the train shards stay written
    if (r.val_frac > 0 && r.val.total == 0)
        die("the validation split is empty (%lld documents, none drawn by --val-frac %g): give --val-tokens N to "
            "hold out the first N tokens instead",
            (long long)r.docs, r.val_frac);

    for (int i = 0; i < r.n_slots; i++) {
        byte_buf_free(&r.slots[i].text);
        free(r.slots[i].segs);
        free(r.slots[i].seg_end);
        token_ids_free(&r.slots[i].ids);
    }
    free(r.slots);
    free(pool);
    byte_buf_free(&doc);
    free_paths(inputs, n_inputs);
    dedup_free(dedup);
    byte_buf_free(&r.pending);
    tokenizer_free(tok);
    return 0;
}
