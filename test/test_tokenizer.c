// Tokenizer rules that need no reference run: loading errors name the file,
// decode(encode(x)) == x for any bytes, the merge loops agree, special tokens,
// the Unicode rules where the JavaScript references differ from tiktoken,
// thread safety, safe cuts, merge-priority semantics of tokenizer.json, and the
// JSONL / text document readers.
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "../src/tokenizer/tokenizer_impl.h"
#include "tokenize_input.h"
#include "tokenizer.h"
#include "util.h"
#include "test.h"

static char dir[] = "/tmp/scpt_test_tokenizer_XXXXXX";
static Tokenizer *gpt2, *llama3;

static uint64_t rng = 88172645463325252ull;
static uint32_t next_rand(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

static void write_file(const char *path, const char *data, size_t n) {
    FILE *f = fopen(path, "wb");
    fwrite(data, 1, n, f);
    fclose(f);
}

static void path_in_dir(char *out, const char *name) { sprintf(out, "%s/%s", dir, name); }

static TokenIds enc(Tokenizer *t, const char *s, size_t n) {
    TokenIds ids = {0};
    CHECK(tokenizer_encode(t, s, n, &ids) == 0, "%s", scpt_error());
    return ids;
}

static int same_ids(const TokenIds *a, const TokenIds *b) {
    return a->len == b->len && memcmp(a->ids, b->ids, a->len * sizeof *a->ids) == 0;
}

// ---- loading errors ----------------------------------------------------------

static void expect_load_error(const char *name, const char *content, size_t n, TokenizerFamily family,
                              const char *expect) {
    char path[512];
    path_in_dir(path, name);
    if (content) write_file(path, content, n);
    Tokenizer *t = tokenizer_load(path, family);
    CHECK(t == NULL, "%s: loaded", name);
    CHECK(strstr(scpt_error(), path) != NULL, "error does not name the file: %s", scpt_error());
    CHECK(strstr(scpt_error(), expect) != NULL, "error '%s' lacks '%s'", scpt_error(), expect);
    tokenizer_free(t);
}

static void test_load_errors(void) {
    expect_load_error("missing.tiktoken", NULL, 0, TOKENIZER_AUTO, "cannot open");
    expect_load_error("empty.tiktoken", "\n \n", 3, TOKENIZER_AUTO, "empty vocabulary file");
    expect_load_error("line.tiktoken", "IQ== 0\nnot-a-rank-line\n", 23, TOKENIZER_AUTO, ":2: not a tiktoken rank line");
    expect_load_error("b64.tiktoken", "IQ== 0\nI@== 1\n", 14, TOKENIZER_AUTO, ":2: bad base64");
    expect_load_error("dup.tiktoken", "IQ== 0\nIg== 0\n", 14, TOKENIZER_AUTO, ":2: token id 0 appears twice");
    expect_load_error("count.tiktoken", "IQ== 0\nIg== 1\n", 14, TOKENIZER_AUTO, "cannot tell which split pattern");
    expect_load_error("bytes.tiktoken", "IQ== 0\nIg== 1\n", 14, TOKENIZER_GPT2, "no token for the byte 0x00");
    expect_load_error("bad.json", "{\"model\": {\"vocab\": {\n\"a\": 1,,}}}", 33, TOKENIZER_AUTO, ":2: malformed JSON");
    const char *norm = "{\"normalizer\": {\"type\": \"NFC\"}, \"model\": {\"type\": \"BPE\", \"vocab\": {}, \"merges\": []}}";
    expect_load_error("norm.json", norm, strlen(norm), TOKENIZER_AUTO, "unsupported tokenizer.json: normalizer NFC");
    const char *wp = "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {}}}";
    expect_load_error("wp.json", wp, strlen(wp), TOKENIZER_AUTO, "model type WordPiece");
    expect_load_error("binary.model", "\x0a\x05\x00\x01proto", 10, TOKENIZER_AUTO, "binary file");
    CHECK(tokenizer_open("no/such/vocab.json") == NULL && strstr(scpt_error(), "no/such/vocab.json"), "%s", scpt_error());
}

// ---- tokenizer.json merge semantics ----------------------------------------------

// GPT-2's byte-to-character table, spelled out for writing test vocabularies:
// printable bytes stand for themselves, the others are U+0100.. in byte order.
static int printable(int b) { return (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255); }
static void byte_level_char(int b, char *out) {
    int c = 256;
    for (int x = 0; x < b; x++) c += !printable(x);
    if (printable(b)) c = b;
    if (c == '"' || c == '\\') sprintf(out, "\\%c", c);
    else if (c < 0x80) sprintf(out, "%c", c);
    else sprintf(out, "%c%c", 0xc0 | c >> 6, 0x80 | (c & 0x3f));
}

// A vocabulary of the 256 bytes plus ab (256), bc (257), abc (258), xyz (259),
// with merges "b c" before "a b" and none making xyz.
static Tokenizer *small_hf(int ignore_merges) {
    char path[512], *json = xmalloc(1 << 16), *o = json;
    o += sprintf(o, "{\"model\": {\"type\": \"BPE\", \"ignore_merges\": %s, \"vocab\": {", ignore_merges ? "true" : "false");
    for (int b = 0; b < 256; b++) {
        char ch[8];
        byte_level_char(b, ch);
        o += sprintf(o, "\"%s\": %d, ", ch, b);
    }
    o += sprintf(o, "\"ab\": 256, \"bc\": 257, \"abc\": 258, \"xyz\": 259}, \"merges\": [\"b c\", \"a b\", \"a bc\"]},"
                    " \"pre_tokenizer\": {\"type\": \"ByteLevel\", \"add_prefix_space\": false},"
                    " \"added_tokens\": [{\"id\": 260, \"content\": \"<|endoftext|>\", \"special\": true}]}");
    path_in_dir(path, ignore_merges ? "small_ignore.json" : "small.json");
    write_file(path, json, o - json);
    free(json);
    Tokenizer *t = tokenizer_load(path, TOKENIZER_AUTO);
    CHECK(t != NULL, "%s", scpt_error());
    return t;
}

static void test_hf_merge_priority(void) {
    for (int ignore = 0; ignore < 2; ignore++) {
        Tokenizer *t = small_hf(ignore);
        if (!t) return;
        CHECK(tokenizer_vocab_size(t) == 261 && tokenizer_eot(t) == 260, "vocab %d eot %d",
              tokenizer_vocab_size(t), tokenizer_eot(t));
        CHECK(strcmp(tokenizer_name(t), "gpt2") == 0, "ByteLevel pre-tokenizer is GPT-2's pattern: %s", tokenizer_name(t));
        // "b c" is the first merge, so abd -> ab d but abc -> a bc -> abc
        TokenIds a = enc(t, "abd", 3), b = enc(t, "abc", 3), c = enc(t, "xyz", 3);
        CHECK(a.len == 2 && a.ids[0] == 256 && a.ids[1] == 'd', "abd: %zu ids", a.len);
        CHECK(b.len == 1 && b.ids[0] == 258, "abc -> %d", b.len ? b.ids[0] : -1);
        // xyz is a token no merge reaches: only ignore_merges finds it whole
        CHECK(ignore ? c.len == 1 && c.ids[0] == 259 : c.len == 3, "xyz with ignore_merges=%d: %zu ids", ignore, c.len);
        token_ids_free(&a);
        token_ids_free(&b);
        token_ids_free(&c);
        tokenizer_free(t);
    }
}

// ---- round trip and merge loops ------------------------------------------------

// Random bytes of several kinds: ASCII text, UTF-8 of any plane, truncated and
// stray continuation bytes, raw high bytes, whitespace runs.
static size_t random_text(char *buf, size_t max) {
    size_t n = 0, target = next_rand() % max;
    while (n + 8 < target) {
        uint32_t kind = next_rand() % 6, c;
        switch (kind) {
        case 0: buf[n++] = (char)(' ' + next_rand() % 95); break;
        case 1: buf[n++] = " \t\n\r"[next_rand() % 4]; break;
        case 2: buf[n++] = (char)(next_rand() & 0xff); break;
        case 3:
            c = next_rand() % 0x10ffff;
            if (c >= 0xd800 && c < 0xe000) c = 0xe9;
            if (c < 0x80) buf[n++] = (char)c;
            else if (c < 0x800) buf[n++] = (char)(0xc0 | c >> 6), buf[n++] = (char)(0x80 | (c & 0x3f));
            else if (c < 0x10000)
                buf[n++] = (char)(0xe0 | c >> 12), buf[n++] = (char)(0x80 | (c >> 6 & 0x3f)), buf[n++] = (char)(0x80 | (c & 0x3f));
            else
                buf[n++] = (char)(0xf0 | c >> 18), buf[n++] = (char)(0x80 | (c >> 12 & 0x3f)),
                buf[n++] = (char)(0x80 | (c >> 6 & 0x3f)), buf[n++] = (char)(0x80 | (c & 0x3f));
            break;
        case 4: buf[n++] = (char)0xe2, buf[n++] = (char)0x82; break;   // a truncated 3-byte sequence
        default: buf[n++] = (char)(0x80 | (next_rand() & 0x3f)); break;   // stray continuation byte
        }
    }
    return n;
}

static void test_round_trip_any_bytes(void) {
    static char buf[4096];
    Tokenizer *toks[2] = {gpt2, llama3};
    int bad = 0, total = 0;
    for (int k = 0; k < 2; k++) {
        for (int i = 0; i < 3000; i++) {
            size_t n = random_text(buf, i % 10 == 0 ? sizeof buf : 200);
            for (int special = 0; special < 2; special++) {
                TokenIds ids = {0};
                int rc = special ? tokenizer_encode_special(toks[k], buf, n, &ids) : tokenizer_encode(toks[k], buf, n, &ids);
                size_t len = 0;
                char *back = rc == 0 ? tokenizer_decode(toks[k], ids.ids, ids.len, &len) : NULL;
                bad += !back || len != n || memcmp(back, buf, n) != 0;
                total++;
                free(back);
                token_ids_free(&ids);
            }
        }
    }
    CHECK(bad == 0, "%d of %d random byte strings do not survive decode(encode(x))", bad, total);
    TokenIds e = enc(gpt2, "", 0);
    CHECK(e.len == 0, "empty text gives %zu ids", e.len);
    token_ids_free(&e);
}

static void test_merge_loops_agree(void) {
    static const char *alphabet[] = {"a", "b", "e", "t", "h", " ", "1", "0", "\xe2\x80\x99", "\xc3\xa9", ".", "\n"};
    Tokenizer *toks[2] = {gpt2, llama3};
    BpeWork w = {0};
    int bad = 0;
    for (int k = 0; k < 2; k++) {
        for (int i = 0; i < 2000; i++) {
            char piece[600];
            size_t n = 0, target = 1 + next_rand() % 300;
            while (n < target) {
                const char *s = alphabet[next_rand() % (sizeof alphabet / sizeof *alphabet)];
                memcpy(piece + n, s, strlen(s));
                n += strlen(s);
            }
            TokenIds a = {0}, b = {0};
            bpe_merge_scan(toks[k], &w, (const uint8_t *)piece, n, &a);
            bpe_merge_heap(toks[k], &w, (const uint8_t *)piece, n, &b);
            bad += !same_ids(&a, &b);
            token_ids_free(&a);
            token_ids_free(&b);
        }
    }
    bpe_work_free(&w);
    CHECK(bad == 0, "the linear and heap merge loops disagree on %d pieces", bad);
}

// Megabyte runs of one kind: long pieces go through the heap merge, and the
// regex backtracks once per character (past PCRE2's default match limit).
static void test_long_runs(void) {
    static const char *unit[] = {" ", "\n ", "7", "a", "\xe2\x80", "!", "\t\r\n"};
    size_t n = 1 << 20;
    char *text = xmalloc(n + 1);
    Tokenizer *toks[2] = {gpt2, llama3};
    for (int k = 0; k < 2; k++) {
        for (size_t u = 0; u < sizeof unit / sizeof *unit; u++) {
            size_t L = strlen(unit[u]);
            for (size_t i = 0; i < n; i++) text[i] = unit[u][i % L];
            text[n] = 'x';
            TokenIds ids = {0};
            int rc = tokenizer_encode(toks[k], text, n + 1, &ids);
            size_t len = 0;
            char *back = rc == 0 ? tokenizer_decode(toks[k], ids.ids, ids.len, &len) : NULL;
            CHECK(back && len == n + 1 && memcmp(back, text, len) == 0, "%s, run of '%s': %s", tokenizer_name(toks[k]),
                  unit[u], rc ? scpt_error() : "round trip differs");
            free(back);
            token_ids_free(&ids);
        }
    }
    free(text);
}

// ---- special tokens and Unicode rules ------------------------------------------

static void test_special_tokens(void) {
    CHECK(tokenizer_vocab_size(gpt2) == 50257 && tokenizer_eot(gpt2) == 50256 && tokenizer_bos(gpt2) == -1,
          "gpt2 vocab %d eot %d bos %d", tokenizer_vocab_size(gpt2), tokenizer_eot(gpt2), tokenizer_bos(gpt2));
    CHECK(tokenizer_vocab_size(llama3) == 128256 && tokenizer_eot(llama3) == 128001 && tokenizer_bos(llama3) == 128000,
          "llama3 vocab %d eot %d bos %d", tokenizer_vocab_size(llama3), tokenizer_eot(llama3), tokenizer_bos(llama3));
    CHECK(tokenizer_token_id(llama3, "<|eot_id|>") == 128009, "eot_id %d", tokenizer_token_id(llama3, "<|eot_id|>"));
    CHECK(tokenizer_token_id(llama3, "<|reserved_special_token_250|>") == 128255, "last reserved");
    CHECK(tokenizer_token_id(llama3, "<|start_header_id|>") == 128006, "start_header_id");
    CHECK(tokenizer_token_id(gpt2, " the") == 262 && tokenizer_token_id(gpt2, "<|nope|>") == -1, "lookup");
    CHECK(strcmp(tokenizer_name(gpt2), "gpt2") == 0 && strcmp(tokenizer_name(llama3), "llama3") == 0, "names");
    CHECK(tokenizer_is_special(gpt2, 50256) && !tokenizer_is_special(gpt2, 262), "is_special");

    const char *text = "a<|endoftext|>b";
    TokenIds plain = enc(gpt2, text, strlen(text)), special = {0};
    CHECK(tokenizer_encode_special(gpt2, text, strlen(text), &special) == 0, "%s", scpt_error());
    CHECK(special.len == 3 && special.ids[1] == 50256, "special: %zu ids", special.len);
    CHECK(plain.len > 3, "ordinary encode must not produce the special token");
    for (size_t i = 0; i < plain.len; i++) CHECK(plain.ids[i] != 50256, "ordinary text gave <|endoftext|>");
    size_t len;
    char *back = tokenizer_decode(gpt2, special.ids, special.len, &len);
    CHECK(back && strcmp(back, text) == 0, "decode of specials: %s", back ? back : scpt_error());
    free(back);
    int32_t bad_id = 50257;
    CHECK(tokenizer_decode(gpt2, &bad_id, 1, &len) == NULL && strstr(scpt_error(), "50257"), "%s", scpt_error());
    token_ids_free(&plain);
    token_ids_free(&special);
}

// enc(whole) must equal the concatenation of enc(piece) for the pieces tiktoken's
// Rust regex makes (and must differ from the JavaScript split `other`).
static void expect_pieces(Tokenizer *t, const char *whole, const char **pieces, const char **other) {
    TokenIds w = enc(t, whole, strlen(whole)), a = {0}, b = {0};
    for (const char **p = pieces; *p; p++) CHECK(tokenizer_encode(t, *p, strlen(*p), &a) == 0, "%s", scpt_error());
    for (const char **p = other; *p; p++) CHECK(tokenizer_encode(t, *p, strlen(*p), &b) == 0, "%s", scpt_error());
    CHECK(same_ids(&w, &a), "%s: not split as tiktoken splits it", whole);
    CHECK(!same_ids(&w, &b), "%s: split as the JavaScript regex would", whole);
    token_ids_free(&w);
    token_ids_free(&a);
    token_ids_free(&b);
}

static void test_unicode_rules(void) {
    // U+0085 (NEL) is White_Space: " " and NEL are separate pieces before a letter
    expect_pieces(gpt2, "a \xc2\x85" "b", (const char *[]){"a", " ", "\xc2\x85", "b", NULL},
                  (const char *[]){"a", " \xc2\x85", "b", NULL});
    // U+FEFF and U+180E are not White_Space (Cf): they join the space as punctuation
    expect_pieces(gpt2, "a \xef\xbb\xbf" "b", (const char *[]){"a", " \xef\xbb\xbf", "b", NULL},
                  (const char *[]){"a", " ", "\xef\xbb\xbf", "b", NULL});
    expect_pieces(gpt2, "a \xe1\xa0\x8e" "b", (const char *[]){"a", " \xe1\xa0\x8e", "b", NULL},
                  (const char *[]){"a", " ", "\xe1\xa0\x8e", "b", NULL});
    // Llama 3's (?i:'s) folds case by Unicode, so it matches the long s U+017F:
    // "'ſx" splits after the ſ (the ids cannot tell, so the split pattern is asked)
    pcre2_match_data *m = pcre2_match_data_create_from_pattern(llama3->re, NULL);
    const char *s = "'\xc5\xbfx";
    CHECK(pcre2_match(llama3->re, (PCRE2_SPTR)s, strlen(s), 0, 0, m, NULL) > 0 &&
          pcre2_get_ovector_pointer(m)[1] == 3, "'ſ is not a contraction piece");
    pcre2_match_data_free(m);
}

// ---- threads, cuts -----------------------------------------------------------

static const char *sample =
    "The Fulton County Grand Jury said Friday an investigation of Atlanta's recent primary election produced "
    "no evidence that any irregularities took place. \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e 12345678 \n\n  ok?! ";

typedef struct {
    Tokenizer *t;
    char *text;
    size_t len;
    TokenIds ids;
} Job;

static void *encode_job(void *arg) {
    Job *j = arg;
    for (int rep = 0; rep < 20; rep++) {
        j->ids.len = 0;
        tokenizer_encode(j->t, j->text, j->len, &j->ids);
    }
    return NULL;
}

static void test_threads_share_a_tokenizer(void) {
    size_t n = strlen(sample);
    char *text = xmalloc(200 * n);
    for (int i = 0; i < 200; i++) memcpy(text + i * n, sample, n);
    Tokenizer *toks[2] = {gpt2, llama3};
    for (int k = 0; k < 2; k++) {
        TokenIds serial = enc(toks[k], text, 200 * n);
        Job jobs[4];
        pthread_t th[4];
        for (int i = 0; i < 4; i++) {
            jobs[i] = (Job){toks[k], text, 200 * n, {0}};
            pthread_create(&th[i], NULL, encode_job, &jobs[i]);
        }
        for (int i = 0; i < 4; i++) {
            pthread_join(th[i], NULL);
            CHECK(same_ids(&serial, &jobs[i].ids), "thread %d got other ids", i);
            token_ids_free(&jobs[i].ids);
        }
        token_ids_free(&serial);
    }
    free(text);
}

static void test_safe_cut(void) {
    static char text[1 << 16];
    Tokenizer *toks[2] = {gpt2, llama3};
    int cuts = 0, bad = 0;
    for (int k = 0; k < 2; k++) {
        for (int i = 0; i < 300; i++) {
            size_t n = 0;
            while (n < sizeof text / 2) {   // words, whitespace of all kinds, non-ASCII, random bytes
                size_t m = random_text(text + n, 64);
                n += m;
                n += sprintf(text + n, "%s", (const char *[]){" the", "\n\nWord", "x \n", "'s ", "AB  "}[next_rand() % 5]);
            }
            size_t cut = tokenizer_safe_cut(toks[k], text, 1 + next_rand() % n, 4096);
            if (cut == 0) continue;
            cuts++;
            TokenIds whole = enc(toks[k], text, n), parts = enc(toks[k], text, cut);
            CHECK(tokenizer_encode(toks[k], text + cut, n - cut, &parts) == 0, "%s", scpt_error());
            bad += !same_ids(&whole, &parts);
            token_ids_free(&whole);
            token_ids_free(&parts);
        }
    }
    CHECK(cuts > 400 && bad == 0, "%d of %d cuts changed the ids", bad, cuts);
    Tokenizer *t = small_hf(0);
    CHECK(t && tokenizer_safe_cut(t, "ab cd", 5, 5) == 2, "GPT-2 pattern from tokenizer.json cuts too");
    tokenizer_free(t);
}

// ---- JSONL and text documents ------------------------------------------------

static void expect_field(const char *line, const char *field, int want_rc, const char *want, size_t want_len) {
    ByteBuf out = {0};
    const char *why = "";
    size_t where = 0;
    int rc = jsonl_string_field(line, strlen(line), field, &out, &why, &where);
    CHECK(rc == want_rc, "%s: rc %d (want %d) %s", line, rc, want_rc, why);
    if (rc == 1 && want) CHECK(out.len == want_len && memcmp(out.data, want, want_len) == 0, "%s: wrong value", line);
    byte_buf_free(&out);
}

static void test_jsonl_field(void) {
    expect_field("{\"text\": \"hello\"}", "text", 1, "hello", 5);
    expect_field(" {\"id\": 3, \"meta\": {\"text\": \"inner\"}, \"text\": \"outer\"} ", "text", 1, "outer", 5);
    expect_field("{\"text\": \"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"}", "text", 1, "a\"b\\c/d\b\f\n\r\t", 12);
    expect_field("{\"text\": \"\\u00e9\\ud83d\\ude00\\u0000x\"}", "text", 1, "\xc3\xa9\xf0\x9f\x98\x80\0x", 8);
    expect_field("{\"text\": \"\\ud800 lone\"}", "text", 1, "\xef\xbf\xbd lone", 8);
    expect_field("{\"text\": \"first\", \"text\": \"last\"}", "text", 1, "last", 4);
    expect_field("{\"text\": [1, 2.5e-3, true, null, {\"a\": []}]}", "text", 0, NULL, 0);
    // QuALITY articles: an array of lines, joined as they are
    expect_field("{\"text\": [\"a\\n\", \"\", \"b\"]}", "text", 1, "a\nb", 3);
    expect_field("{\"text\": \"x\", \"text\": [\"y\", 2]}", "text", 0, NULL, 0);
    expect_field("{\"other\": \"x\"}", "text", 0, NULL, 0);
    expect_field("{\"text\": \"abc}", "text", -1, NULL, 0);
    expect_field("{\"text\": \"abc\"} x", "text", -1, NULL, 0);
    expect_field("[\"text\"]", "text", -1, NULL, 0);
    expect_field("{\"text\": \"a\tb\"}", "text", -1, NULL, 0);
    expect_field("{\"text\": tru}", "text", -1, NULL, 0);
}

static void read_all(const char *path, DocMode mode, const char **want, int n_want) {
    DocReader r;
    CHECK(doc_reader_open(&r, path, mode, "text") == 0, "%s", scpt_error());
    ByteBuf doc = {0};
    int starts, rc, i = 0;
    while ((rc = doc_reader_next(&r, &doc, &starts)) == 1) {
        CHECK(i < n_want && strlen(want[i]) == doc.len && memcmp(doc.data, want[i], doc.len) == 0,
              "mode %d doc %d: '%.*s'", mode, i, (int)doc.len, doc.data);
        i++;
    }
    CHECK(rc == 0 && i == n_want, "mode %d: %d docs (rc %d)", mode, i, rc);
    byte_buf_free(&doc);
    doc_reader_close(&r);
}

static void test_doc_readers(void) {
    char path[512];
    path_in_dir(path, "docs.txt");
    const char *text = "\np1 l1\np1 l2\n \n\np2\r\n\nlast";
    write_file(path, text, strlen(text));
    read_all(path, DOCS_PARAGRAPHS, (const char *[]){"p1 l1\np1 l2", "p2", "last"}, 3);
    read_all(path, DOCS_LINES, (const char *[]){"p1 l1", "p1 l2", " ", "p2", "last"}, 5);
    read_all(path, DOCS_FILE, (const char *[]){text}, 1);

    path_in_dir(path, "docs.jsonl");
    const char *jsonl = "{\"text\": \"one\"}\n\n{\"text\": \"\"}\n{\"text\": \"two\"}\r\n{\"text\": oops}\n";
    write_file(path, jsonl, strlen(jsonl));
    DocReader r;
    ByteBuf doc = {0};
    int starts;
    CHECK(doc_reader_open(&r, path, DOCS_JSONL, "text") == 0, "%s", scpt_error());
    CHECK(doc_reader_next(&r, &doc, &starts) == 1 && doc.len == 3, "first record");
    CHECK(doc_reader_next(&r, &doc, &starts) == 1 && doc.len == 3 && memcmp(doc.data, "two", 3) == 0, "empty skipped");
    CHECK(doc_reader_next(&r, &doc, &starts) == -1, "malformed record accepted");
    char want[600];
    snprintf(want, sizeof want, "%s:5: not a valid JSON object", path);
    CHECK(strstr(scpt_error(), want) != NULL, "error '%s' lacks '%s'", scpt_error(), want);
    doc_reader_close(&r);

    path_in_dir(path, "nofield.jsonl");
    write_file(path, "{\"body\": \"x\"}\n", 14);
    CHECK(doc_reader_open(&r, path, DOCS_JSONL, "text") == 0, "%s", scpt_error());
    CHECK(doc_reader_next(&r, &doc, &starts) == -1 && strstr(scpt_error(), ":1: the record has no field \"text\" holding a string"),
          "%s", scpt_error());
    doc_reader_close(&r);
    byte_buf_free(&doc);
    CHECK(doc_reader_open(&r, "/no/such/input.txt", DOCS_FILE, "text") == -1 &&
          strstr(scpt_error(), "/no/such/input.txt: cannot open input"), "%s", scpt_error());
}

static void test_default_path(void) {
    char buf[4096];
    setenv("SCPT_CACHE", "/x/cache", 1);
    CHECK(tokenizer_default_path("llama3", buf, sizeof buf) == 0 && strcmp(buf, "/x/cache/vocab/llama3/tokenizer.model") == 0,
          "%s", buf);
    CHECK(tokenizer_default_path("gpt5", buf, sizeof buf) == -1 && strstr(scpt_error(), "gpt5"), "%s", scpt_error());
    CHECK(tokenizer_open("gpt2") == NULL && strstr(scpt_error(), "/x/cache/vocab/gpt2/r50k_base.tiktoken") &&
          strstr(scpt_error(), "scripts/setup"), "%s", scpt_error());
    unsetenv("SCPT_CACHE");
}

int main(void) {
    if (!mkdtemp(dir)) return perror("mkdtemp"), 1;
    gpt2 = tokenizer_open("gpt2");
    llama3 = tokenizer_open("llama3");
    if (!gpt2 || !llama3) {
        fprintf(stderr, "%s\n", scpt_error());
        return test_tally(0, 1, 0);
    }
    const char *cache = getenv("SCPT_CACHE");
    char *saved = cache ? xstrdup(cache) : NULL;
    RUN_TEST(test_load_errors);
    RUN_TEST(test_hf_merge_priority);
    RUN_TEST(test_round_trip_any_bytes);
    RUN_TEST(test_merge_loops_agree);
    RUN_TEST(test_long_runs);
    RUN_TEST(test_special_tokens);
    RUN_TEST(test_unicode_rules);
    RUN_TEST(test_threads_share_a_tokenizer);
    RUN_TEST(test_safe_cut);
    RUN_TEST(test_jsonl_field);
    RUN_TEST(test_doc_readers);
    RUN_TEST(test_default_path);
    if (saved) setenv("SCPT_CACHE", saved, 1);
    free(saved);
    tokenizer_free(gpt2);
    tokenizer_free(llama3);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return test_summary();
}
