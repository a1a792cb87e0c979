// The `tokenize` program end to end: shard contents equal the library's
// encoding with a separator before each document, the document modes, shard
// sizes, validation splits, identical output for any thread count (long
// documents cut included), stale shards removed, and errors that name the file.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "shard.h"
#include "tokenizer.h"
#include "util.h"
#include "test.h"

static char dir[] = "/tmp/scpt_test_tokenize_XXXXXX";
static Tokenizer *gpt2;

static void in_dir(char *out, const char *name) { sprintf(out, "%s/%s", dir, name); }

static void write_file(const char *name, const char *data, size_t n) {
    char path[512];
    in_dir(path, name);
    FILE *f = fopen(path, "wb");
    fwrite(data, 1, n, f);
    fclose(f);
}

// Runs ./tokenize with arguments (paths relative to the test directory);
// stderr goes to <dir>/stderr. Returns the exit status.
static int tokenize(const char *args) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "cd %s && %s/tokenize --quiet %s 2> stderr", dir, getenv("PWD"), args);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static int stderr_has(const char *text) {
    char path[512], buf[8192] = {0};
    in_dir(path, "stderr");
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return strstr(buf, text) != NULL;
}

// All tokens of the shards <prefix>_<kind>_*.bin, in order; the shard count in *shards.
static TokenIds read_shards(const char *prefix, const char *kind, int *shards, int64_t *largest) {
    TokenIds all = {0};
    *shards = 0;
    if (largest) *largest = 0;
    for (;; (*shards)++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s_%s_%06d.bin", dir, prefix, kind, *shards);
        if (access(path, R_OK) != 0) break;
        Shard s;
        if (shard_open(&s, path, 0) != 0) {
            CHECK(0, "%s", scpt_error());
            break;
        }
        for (int64_t i = 0; i < s.num_tokens; i++) token_ids_push(&all, shard_token(&s, i));
        if (largest && s.num_tokens > *largest) *largest = s.num_tokens;
        shard_close(&s);
    }
    return all;
}

// [eot] + encode(doc) for each document
static TokenIds expected(Tokenizer *t, const char **docs, int n, int bos) {
    TokenIds ids = {0};
    for (int i = 0; i < n; i++) {
        token_ids_push(&ids, tokenizer_eot(t));
        if (bos) token_ids_push(&ids, tokenizer_bos(t));
        CHECK(tokenizer_encode(t, docs[i], strlen(docs[i]), &ids) == 0, "%s", scpt_error());
    }
    return ids;
}

static void check_same(const TokenIds *got, const TokenIds *want, const char *what) {
    size_t i = 0;
    while (i < got->len && i < want->len && got->ids[i] == want->ids[i]) i++;
    CHECK(got->len == want->len && i == got->len, "%s: %zu tokens vs %zu expected, first difference at %zu", what,
          got->len, want->len, i);
}

static int count(const TokenIds *ids, int id) {
    int n = 0;
    for (size_t i = 0; i < ids->len; i++) n += ids->ids[i] == id;
    return n;
}

static void test_text_modes(void) {
    const char *a = "Hello world.\n\nSecond paragraph\nwith two lines.\n", *b = "  Another file <|endoftext|> here";
    write_file("a.txt", a, strlen(a));
    write_file("b.txt", b, strlen(b));
    int shards;
    CHECK(tokenize("--out out/files a.txt b.txt") == 0, "exit status");
    TokenIds got = read_shards("out/files", "train", &shards, NULL), want = expected(gpt2, (const char *[]){a, b}, 2, 0);
    check_same(&got, &want, "one document per file");
    token_ids_free(&got), token_ids_free(&want);

    CHECK(tokenize("--docs paragraphs --out par a.txt") == 0, "exit status");
    got = read_shards("par", "train", &shards, NULL);
    want = expected(gpt2, (const char *[]){"Hello world.", "Second paragraph\nwith two lines."}, 2, 0);
    check_same(&got, &want, "paragraphs");
    token_ids_free(&got), token_ids_free(&want);

    CHECK(tokenize("--docs lines --out lines a.txt") == 0, "exit status");
    got = read_shards("lines", "train", &shards, NULL);
    want = expected(gpt2, (const char *[]){"Hello world.", "Second paragraph", "with two lines."}, 3, 0);
    check_same(&got, &want, "lines");
    token_ids_free(&got), token_ids_free(&want);

    // special-token text stays text unless --special
    CHECK(tokenize("--special --out spec b.txt") == 0, "exit status");
    got = read_shards("spec", "train", &shards, NULL);
    CHECK(count(&got, 50256) == 2, "--special: %d separators+specials", count(&got, 50256));
    token_ids_free(&got);
}

static void test_jsonl_and_llama3(void) {
    const char *jsonl = "{\"uid\": 1, \"entities\": [\"A\", \"B\"], \"body\": \"Entity A relates to B.\"}\n"
                        "\n{\"uid\": 2, \"body\": \"caf\\u00e9 \\ud83d\\ude00\"}\n";
    write_file("gen.jsonl", jsonl, strlen(jsonl));
    int shards;
    CHECK(tokenize("--field body --out gen gen.jsonl") == 0, "exit status");
    TokenIds got = read_shards("gen", "train", &shards, NULL);
    TokenIds want = expected(gpt2, (const char *[]){"Entity A relates to B.", "caf\xc3\xa9 \xf0\x9f\x98\x80"}, 2, 0);
    check_same(&got, &want, "jsonl");
    token_ids_free(&got), token_ids_free(&want);

    Tokenizer *llama3 = tokenizer_open("llama3");
    CHECK(llama3 != NULL, "%s", scpt_error());
    if (!llama3) return;
    CHECK(tokenize("--vocab llama3 --bos --field body --out l3 gen.jsonl") == 0, "exit status");
    char path[512];
    in_dir(path, "l3_train_000000.bin");
    Shard s;
    CHECK(shard_open(&s, path, 0) == 0 && s.token_bytes == 4 && s.vocab_size == 128256 && s.eot == 128001,
          "llama3 shard header: %s", scpt_error());
    shard_close(&s);
    got = read_shards("l3", "train", &shards, NULL);
    want = expected(llama3, (const char *[]){"Entity A relates to B.", "caf\xc3\xa9 \xf0\x9f\x98\x80"}, 2, 1);
    check_same(&got, &want, "llama3 with --bos");
    token_ids_free(&got), token_ids_free(&want);
    tokenizer_free(llama3);
}

// A corpus of many documents plus one 3 MB document (cut into segments).
static void write_corpus(void) {
    FILE *f;
    char path[512];
    in_dir(path, "many.jsonl");
    f = fopen(path, "w");
    for (int i = 0; i < 3000; i++)
        fprintf(f, "{\"text\": \"Document %d says: the %s fox, number %d, jumps \\u00fcber %d lazy dogs.\\n\"}\n", i,
                i % 3 ? "quick" : "QUICK brown", i * 7919 % 1000, i % 17);
    fclose(f);
    in_dir(path, "big.txt");
    f = fopen(path, "w");
    for (int i = 0; i < 60000; i++)
        fprintf(f, "Line %d of a long book, with words and\n\nnumbers %d; \xe6\x97\xa5\xe6\x9c\xac %s ", i, i * 31,
                i % 5 ? "end" : "END  \t");
    fclose(f);
}

static void test_threads_and_shards(void) {
    write_corpus();
    int shards1, shards3, shards_small;
    int64_t largest;
    CHECK(tokenize("--threads 1 --val-frac 0.1 --out t1 many.jsonl big.txt") == 0, "exit status");
    CHECK(tokenize("--threads 3 --val-frac 0.1 --out t3 many.jsonl big.txt") == 0, "exit status");
    TokenIds a = read_shards("t1", "train", &shards1, NULL), b = read_shards("t3", "train", &shards3, NULL);
    check_same(&b, &a, "--threads 3 vs 1 (train)");
    TokenIds va = read_shards("t1", "val", &shards1, NULL), vb = read_shards("t3", "val", &shards3, NULL);
    check_same(&vb, &va, "--threads 3 vs 1 (val)");
    int docs = count(&a, 50256) + count(&va, 50256);
    CHECK(docs == 3001, "%d documents in train + val", docs);
    CHECK(count(&va, 50256) > 200 && count(&va, 50256) < 400, "val-frac 0.1 gave %d of 3001 docs", count(&va, 50256));

    // the big file's document (cut into segments by the program) equals encoding it whole
    char path[512];
    in_dir(path, "big.txt");
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    size_t n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *big = xmalloc(n + 1);
    CHECK(fread(big, 1, n, f) == n, "read");
    fclose(f);
    big[n] = '\0';
    TokenIds whole = expected(gpt2, (const char *[]){big}, 1, 0);
    // it is the last document: at the end of train or of val
    TokenIds *in = NULL;
    for (TokenIds *c = &a; c; c = c == &a ? &va : NULL)
        if (c->len >= whole.len && memcmp(c->ids + c->len - whole.len, whole.ids, whole.len * 4) == 0) in = c;
    CHECK(in != NULL, "the 3 MB document was not encoded as it is whole");
    free(big);
    token_ids_free(&whole);

    // shard sizes: all full but the last, same tokens as one shard
    CHECK(tokenize("--threads 2 --val-frac 0.1 --shard-tokens 50000 --out small many.jsonl big.txt") == 0, "exit status");
    TokenIds c = read_shards("small", "train", &shards_small, &largest);
    check_same(&c, &a, "small shards");
    CHECK(shards_small == (int)((a.len + 49999) / 50000) && largest == 50000, "%d shards, largest %lld",
          shards_small, (long long)largest);
    // a rerun over the prefix is refused without --force and leaves the shards as they are
    CHECK(tokenize("--val-frac 0.1 --out small many.jsonl big.txt") == 2 && stderr_has("--force"),
          "a rerun over an earlier run's shards was not refused");
    TokenIds kept = read_shards("small", "train", &shards1, NULL);
    token_ids_free(&kept);
    CHECK(shards1 == shards_small, "the refused rerun changed the shards: %d, were %d", shards1, shards_small);
    // with --force, a rerun with big shards removes the small ones
    CHECK(tokenize("--force --val-frac 0.1 --out small many.jsonl big.txt") == 0, "exit status");
    TokenIds d = read_shards("small", "train", &shards_small, NULL);
    CHECK(shards_small == 1, "%d shards after the rerun", shards_small);
    token_ids_free(&a), token_ids_free(&b), token_ids_free(&va), token_ids_free(&vb), token_ids_free(&c),
        token_ids_free(&d);

    // --val-tokens: the first documents until at least N tokens
    CHECK(tokenize("--val-tokens 100 --out vt many.jsonl") == 0, "exit status");
    TokenIds v = read_shards("vt", "val", &shards1, NULL);
    CHECK(v.len >= 100 && v.len < 150 && v.ids[0] == 50256, "val-tokens 100 gave %zu", v.len);
    token_ids_free(&v);
}

static void test_errors(void) {
    write_file("bad.jsonl", "{\"text\": \"ok\"}\n{\"text\": \"unterminated}\n", 40);
    CHECK(tokenize("--out e bad.jsonl") == 1, "malformed JSONL accepted");
    CHECK(stderr_has("bad.jsonl:2: not a valid JSON object"), "error does not name file and line");
    CHECK(tokenize("--out e missing.txt") == 1 && stderr_has("missing.txt: cannot open input"), "missing input");
    write_file("vocab.tiktoken", "garbage\n", 8);
    CHECK(tokenize("--vocab vocab.tiktoken --out e a.txt") == 1 && stderr_has("vocab.tiktoken:1: not a tiktoken rank line"),
          "bad vocabulary file");
    CHECK(tokenize("a.txt") == 2 && stderr_has("tokenize: --out is required"), "missing --out");
    CHECK(tokenize("--val-frac 1.5 --out e a.txt") == 2 && stderr_has("--val-frac"), "bad --val-frac");
    CHECK(tokenize("--val-frac nan --out e a.txt") == 2 && stderr_has("--val-frac: 'nan' is not a finite number"),
          "--val-frac nan");
}

// A --force run that fails part-way leaves no shard of the earlier run behind:
// the prefix never mixes two runs.
static void test_force_failure_mixes_nothing(void) {
    char text[4000];
    for (int i = 0; i < (int)sizeof text; i++) text[i] = "abc def "[i % 8];
    write_file("long.txt", text, sizeof text);
    CHECK(tokenize("--shard-tokens 100 --out mix long.txt") == 0, "exit status");
    int before;
    TokenIds old = read_shards("mix", "train", &before, NULL);
    token_ids_free(&old);
    CHECK(before >= 3, "%d shards", before);
    write_file("bad.jsonl", "{\"text\": \"ok\"}\n{\"text\": \"unterminated}\n", 40);
    CHECK(tokenize("--force --shard-tokens 100 --out mix bad.jsonl") == 1, "the failing rerun did not fail");
    int left = 0;
    for (int i = 0; i < before; i++) {
        char name[64], path[512];
        snprintf(name, sizeof name, "mix_train_%06d.bin", i);
        in_dir(path, name);
        left += access(path, F_OK) == 0;
    }
    CHECK(left == 0, "%d shards of the earlier run remain beside the failed run's", left);
}

// --val-frac on a corpus too small for any document to be drawn: an error that points
// to --val-tokens, not a warning followed by `train --val` finding no shard
static void test_empty_val_split(void) {
    write_file("two.jsonl", "{\"text\": \"one small document\"}\n{\"text\": \"and another\"}\n", 55);
    CHECK(tokenize("--val-frac 0.01 --out v two.jsonl") == 1 && stderr_has("validation split is empty") &&
              stderr_has("--val-tokens"),
          "an empty validation split passed");
    CHECK(tokenize("--force --val-tokens 3 --out v two.jsonl") == 0, "--val-tokens on the same corpus failed");
}

int main(void) {
    if (!mkdtemp(dir)) return perror("mkdtemp"), 1;
    if (access("./tokenize", X_OK) != 0) {
        fprintf(stderr, "./tokenize is not built\n");
        return test_tally(0, 1, 0);
    }
    gpt2 = tokenizer_open("gpt2");
    if (!gpt2) {
        fprintf(stderr, "%s\n", scpt_error());
        return test_tally(0, 1, 0);
    }
    RUN_TEST(test_text_modes);
    RUN_TEST(test_jsonl_and_llama3);
    RUN_TEST(test_threads_and_shards);
    RUN_TEST(test_errors);
    RUN_TEST(test_empty_val_split);
    RUN_TEST(test_force_failure_mixes_nothing);
    tokenizer_free(gpt2);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return test_summary();
}
