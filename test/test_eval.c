// Tests of the evaluation: QA readers and their errors, option scoring (batched vs
// alone, option order), chance accuracy of an untrained model, memorisation to 100%,
// Wilson intervals, BM25 retrieval.
#include <cjson/cJSON.h>
#include <unistd.h>

#include "bm25.h"
#include "eval.h"
#include "optim.h"
#include "qa_eval.h"
#include "rng.h"
#include "test.h"

static char tmpdir[64];

static const char *write_tmp(const char *name, const char *text) {
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

static void test_simple_reader_and_errors(void) {
    QASet s;
    const char *p = write_tmp("ok.jsonl", "{\"question\": \"q1?\", \"options\": [\"a\", \"b\"], \"answer\": 1}\n\n"
                                          "{\"question\": \"q2?\", \"options\": [\"a\", \"b\", \"c\"], \"answer\": 0, \"doc\": \"d\"}\n");
    CHECK(qa_load(&s, p) == 0, "%s", scpt_error());
    CHECK(s.n_items == 2 && s.items[0].q->gold == 1 && s.items[1].q->n_options == 3, "items");
    CHECK(strcmp(s.corpus.docs[s.items[1].doc].id, "d") == 0, "doc id");
    qa_free(&s);
    struct { const char *text, *want; } bad[] = {
        {"{\"question\": \"q\", \"options\": [\"a\", \"b\"], \"answer\": 0}\n{\"options\": [\"a\", \"b\"], \"answer\": 0}\n",
         "bad.jsonl:2: no \"question\""},
        {"{\"question\": \"q\", \"options\": [\"a\", \"b\"], \"answer\": 2}\n", "bad.jsonl:1: answer 2 out of range 0..1"},
        // checked before any conversion to int (outside its range that is undefined)
        {"{\"question\": \"q\", \"options\": [\"a\", \"b\"], \"answer\": -1e300}\n", "bad.jsonl:1: answer -1e+300 out of range"},
        {"{\"question\": \"q\", \"options\": [\"a\"], \"answer\": 0}\n", "bad.jsonl:1: \"options\" must be"},
        {"{\"question\": \"q\", \"options\": [\"a\", \"b\"]}\n", "bad.jsonl:1: no integer \"answer\""},
        {"{\"question\": \"q\", \"options\": [\"a\", 3], \"answer\": 0}\n", "bad.jsonl:1: option 2 is not a string"},
        {"{\"question\": \"q\", \"options\": [\"a\", \"b\"], \"answer\": 0}\n{oops\n", "bad.jsonl:2: not a JSON object"},
        // the flattened QuALITY layout with a gold label out of range
        {"{\"article_id\": \"7\", \"article\": [\"<p>Some text.</p>\"], \"question1\": \"q?\", \"question1option1\": \"a\","
         " \"question1option2\": \"b\", \"question1option3\": \"c\", \"question1option4\": \"d\", \"question1_gold_label\": 5}\n",
         "bad.jsonl:1: question1 gold label is not 1..4"},
        // gold labels that are not whole numbers are refused, not read as 2 and 3
        {"{\"article_id\": \"7\", \"article\": \"<p>x</p>\", \"questions\": [{\"question\": \"q?\","
         " \"options\": [\"w\", \"x\", \"y\", \"z\"], \"gold_label\": \"2.7\"}]}\n",
         "bad.jsonl:1: question 1 gold label is not 1..4"},
        {"{\"article_id\": \"7\", \"article\": \"<p>x</p>\", \"questions\": [{\"question\": \"q?\","
         " \"options\": [\"w\", \"x\", \"y\", \"z\"], \"gold_label\": \"3xyz\"}]}\n",
         "bad.jsonl:1: question 1 gold label is not 1..4"},
        {"{\"article_id\": \"7\", \"article\": \"<p>x</p>\", \"questions\": [{\"question\": \"q?\","
         " \"options\": [\"w\", \"x\", \"y\", \"z\"], \"gold_label\": 2.7}]}\n",
         "bad.jsonl:1: question 1 gold label is not 1..4"},
        {"{\"article_id\": \"7\", \"article\": \"<p>x</p>\", \"questions\": [{\"question\": \"q?\","
         " \"options\": [\"w\", \"x\", \"y\", \"z\"], \"gold_label\": 1e300}]}\n",
         "bad.jsonl:1: question 1 gold label is not 1..4"},
        {"{\"question\": \"q\", \"options\": [\"a\", \"b\"], \"answer\": 0.5}\n", "bad.jsonl:1: answer 0.5 is not an integer"},
        {"{\"question\": \"q\", \"options\": [\"a\", \"b\"], \"answer\": 1e300}\n", "bad.jsonl:1: answer 1e+300 out of range"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        p = write_tmp("bad.jsonl", bad[i].text);
        CHECK(qa_load(&s, p) == -1, "case %zu accepted", i);
        CHECK(strstr(scpt_error(), bad[i].want) != NULL, "case %zu: '%s' lacks '%s'", i, scpt_error(), bad[i].want);
    }
    CHECK(qa_load(&s, "/nonexistent/x.jsonl") == -1 && strstr(scpt_error(), "/nonexistent/x.jsonl"), "missing file");
}

static void test_quality_layouts(void) {
    // the flattened release (article as an array of HTML lines) and the nested one
    const char *p = write_tmp("q.jsonl",
        "{\"article_id\": \"1\", \"title\": \"T\", \"article\": [\"<html><p>Alpha &amp; beta.</p>\", \"</html>\"],"
        " \"question1\": \"q1?\", \"question1option1\": \"a\", \"question1option2\": \"b\", \"question1option3\": \"c\","
        " \"question1option4\": \"d\", \"question1_gold_label\": 3, \"annotator\": 9}\n"
        "{\"article_id\": \"2\", \"article\": \"<p>Gamma.</p>\", \"questions\": [{\"question\": \"q2?\","
        " \"options\": [\"w\", \"x\", \"y\", \"z\"], \"gold_label\": 1}]}\n");
    QASet s;
    CHECK(qa_load(&s, p) == 0, "%s", scpt_error());
    CHECK(s.n_items == 2, "%d items", s.n_items);
    if (s.n_items == 2) {
        CHECK(s.items[0].q->gold == 2 && s.items[1].q->gold == 0, "gold labels 1-based -> 0-based");
        CHECK(strstr(s.corpus.docs[s.items[0].doc].text, "Alpha & beta.") && !strchr(s.corpus.docs[0].text, '<'),
              "article HTML stripped: '%s'", s.corpus.docs[0].text);
    }
    qa_free(&s);
}

static void test_real_quality_sample(void) {
    const char *path = "../shared/data/quality/quality_sample.jsonl";
    if (access(path, R_OK) != 0) SKIP_TEST("%s is absent", path);
    QASet s;
    CHECK(qa_load(&s, path) == 0, "%s", scpt_error());
    // two rows of article 52845 holding the same 5 questions: merged into one document
    CHECK(s.n_items == 5 && s.corpus.n_docs == 1, "%d items, %d docs", s.n_items, s.corpus.n_docs);
    CHECK(s.n_items < 1 || s.items[0].q->gold == 1, "question1_gold_label 2 -> index 1");
    for (int i = 0; i < s.n_items; i++) CHECK(s.items[i].q->n_options == 4, "4 options");
    qa_free(&s);
}

static void tiny_model(Model *m, int vocab, uint64_t seed) {
    ModelConfig c;
    model_preset(&c, "tiny-gpt2");
    c.vocab_size = vocab;
    c.padded_vocab_size = (vocab + 127) / 128 * 128;
    model_create(m, &c);
    model_init_weights(m, seed);
}

static void random_ids(uint64_t *rng, int32_t *out, int n, int vocab) {
    for (int i = 0; i < n; i++) out[i] = (int32_t)(rng_next(rng) % (uint64_t)vocab);
}

// batched scores equal each option scored alone, and follow the options when permuted;
// 1e-4 absolute: the same float sums in another batch shape (OpenMP splits differ)
static void test_scoring_batch_and_order(void) {
    Model m;
    tiny_model(&m, 100, 3);
    uint64_t rng = 11;
    int32_t prompt[40], o[4][12];
    int lens[4] = {3, 12, 1, 7};
    random_ids(&rng, prompt, 40, 100);   // 40 + 12 > 32: the prompt is cut from the left
    for (int j = 0; j < 4; j++) random_ids(&rng, o[j], lens[j], 100);
    const int32_t *ids[4] = {o[0], o[1], o[2], o[3]};
    double lp[4], alone[4], perm_lp[4];
    int nt[4];
    score_options(&m, prompt, 40, ids, lens, 4, lp, nt);
    for (int j = 0; j < 4; j++) {
        score_options(&m, prompt, 40, &ids[j], &lens[j], 1, &alone[j], NULL);
        CHECK_NEAR(lp[j], alone[j], 1e-4, "batched vs alone");
        CHECK(nt[j] == lens[j], "all option tokens scored");
        CHECK(lp[j] < 0, "log-likelihood negative");
    }
    int perm[4] = {3, 0, 2, 1}, plens[4];
    const int32_t *pids[4];
    for (int j = 0; j < 4; j++) pids[j] = ids[perm[j]], plens[j] = lens[perm[j]];
    score_options(&m, prompt, 40, pids, plens, 4, perm_lp, NULL);
    for (int j = 0; j < 4; j++) CHECK_NEAR(perm_lp[j], lp[perm[j]], 1e-4, "permuted options keep their scores");
    // a reference computed by hand from one forward: log softmax of the logits
    int in[32], n_prompt = 32 + 1 - lens[1];
    for (int t = 0; t < n_prompt; t++) in[t] = prompt[40 - n_prompt + t];
    for (int t = 0; t < lens[1] - 1; t++) in[n_prompt + t] = o[1][t];
    model_forward(&m, in, NULL, 1, 32);
    double ref = 0;
    int Vp = m.config.padded_vocab_size;
    for (int k = 0; k < lens[1]; k++) {
        const real *l = m.acts.logits + (size_t)(n_prompt - 1 + k) * Vp;
        double mx = l[0], z = 0;
        for (int v = 1; v < 100; v++) mx = l[v] > mx ? l[v] : mx;
        for (int v = 0; v < 100; v++) z += exp(l[v] - mx);
        ref += l[o[1][k]] - mx - log(z);
    }
    CHECK_NEAR(lp[1], ref, 1e-3, "against a hand-computed log softmax");
    model_free(&m);
}

// An untrained model has no preference for the right answer. Gold is always option 0
// and all options come from the same distribution, so acc ~ Binomial(n, 1/4)/n:
// n = 600 gives sd 0.0177; |acc - 0.25| < 0.07 is a 3.9 sd bound (false alarm < 1e-4).
static void test_untrained_near_chance(void) {
    Model m;
    tiny_model(&m, 100, 5);
    uint64_t rng = 99;
    int n = 600, correct = 0;
    for (int i = 0; i < n; i++) {
        int32_t prompt[8], o[4][4];
        int lens[4];
        const int32_t *ids[4];
        random_ids(&rng, prompt, 8, 100);
        for (int j = 0; j < 4; j++) {
            lens[j] = 1 + (int)(rng_next(&rng) % 4);
            random_ids(&rng, o[j], lens[j], 100);
            ids[j] = o[j];
        }
        double lp[4], tok[4];
        int nt[4];
        score_options(&m, prompt, 8, ids, lens, 4, lp, nt);
        for (int j = 0; j < 4; j++) tok[j] = lp[j] / nt[j];
        correct += argmax(tok, 4) == 0;
    }
    CHECK(fabs((double)correct / n - 0.25) < 0.07, "untrained accuracy %d/%d", correct, n);
    model_free(&m);
}

// A tiny GPT-2-vocabulary model trained on the right answers of a hand-made set
// scores them all right through the whole QA path (prompt, tokenizer, scoring).
static void test_memorised_set_scores_100(void) {
    // 30 steps of a 50257-token head: seconds here, minutes under ASan+UBSan, whose run
    // still checks this path's memory through test_eval.sh (eval and train --qa)
    if (getenv("SCPT_SANITIZED")) SKIP_TEST("slow under the sanitizers: checked by the plain run");
    Tokenizer *tok = tokenizer_open("gpt2");
    if (!tok) SKIP_TEST("no GPT-2 vocabulary (%s): run scripts/setup --deps-only", scpt_error());
    const char *qa =
        "{\"question\": \"What colour is the moon of Zarn?\", \"options\": [\"red\", \"green\", \"blue\", \"white\"], \"answer\": 2}\n"
        "{\"question\": \"Who built the bridge at Kell?\", \"options\": [\"Ada\", \"Bram\", \"Cora\", \"Dov\"], \"answer\": 0}\n"
        "{\"question\": \"How many towers has Orlen?\", \"options\": [\"two\", \"five\", \"nine\", \"ten\"], \"answer\": 3}\n"
        "{\"question\": \"What does the river Mish carry?\", \"options\": [\"salt\", \"gold\", \"ice\", \"wine\"], \"answer\": 1}\n"
        "{\"question\": \"Where does Pell sleep?\", \"options\": [\"in a cave\", \"on a boat\", \"in a tree\", \"under a bridge\"], \"answer\": 2}\n"
        "{\"question\": \"Which bird guards Tully?\", \"options\": [\"an owl\", \"a crow\", \"a swan\", \"a hawk\"], \"answer\": 0}\n";
    QASet set;
    CHECK(qa_load(&set, write_tmp("mem.jsonl", qa)) == 0, "%s", scpt_error());
    Model m;
    tiny_model(&m, tokenizer_vocab_size(tok), 7);
    // one row per question: EOT + "Question: q\nAnswer: gold", padded with targets -1
    int B = set.n_items, T = 32, eot = tokenizer_eot(tok);
    int *in = xcalloc((size_t)B * T, sizeof *in), *tg = xmalloc((size_t)B * T * sizeof *tg);
    for (int i = 0; i < B * T; i++) tg[i] = -1;
    for (int b = 0; b < B; b++) {
        char text[256];
        const Question *q = set.items[b].q;
        snprintf(text, sizeof text, "Question: %s\nAnswer: %s", q->question, q->options[q->gold]);
        TokenIds ids = {0};
        token_ids_push(&ids, eot);
        tokenizer_encode(tok, text, strlen(text), &ids);
        CHECK(ids.len <= (size_t)T, "row fits");
        for (size_t t = 0; t + 1 < ids.len && t < (size_t)T; t++) in[b * T + t] = ids.ids[t], tg[b * T + t] = ids.ids[t + 1];
        token_ids_free(&ids);
    }
    OptimizerState opt;
    optimizer_init(&opt, 0, m.num_params);
    AdamWConfig ac = {.beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f, .weight_decay = 0};
    float loss = 0;
    for (int step = 0; step < 30; step++) {
        model_zero_grad(&m);
        loss = model_forward(&m, in, tg, B, T);
        model_backward(&m, 1.0f);
        optimizer_step(&m, &opt, &ac, 3e-2f, step + 1);
    }
    QAOptions qo = {0};
    QAResult r;
    CHECK(qa_evaluate(&m, tok, &set, &qo, NULL, &r) == 0, "%s", scpt_error());
    CHECK(r.n == B && r.correct == B, "memorised: %d/%d right (final train loss %.3f)", r.correct, r.n, loss);
    free(in), free(tg);
    optimizer_free(&opt);
    model_free(&m);
    qa_free(&set);
    tokenizer_free(tok);
}

// An option longer than the model's window is scored on its first tokens only; its
// byte count for acc_norm is that of the scored tokens, not of the whole option.
static void test_long_option_bytes_scored(void) {
    Tokenizer *tok = tokenizer_open("gpt2");
    if (!tok) SKIP_TEST("no GPT-2 vocabulary (%s): run scripts/setup --deps-only", scpt_error());
    char longer[2048] = "";
    for (int i = 0; i < 80; i++) strcat(longer, i ? " word" : "word");
    char qa[2300];
    snprintf(qa, sizeof qa, "{\"question\": \"q?\", \"options\": [\"short\", \"%s\"], \"answer\": 0}\n", longer);
    QASet set;
    CHECK(qa_load(&set, write_tmp("long.jsonl", qa)) == 0, "%s", scpt_error());
    Model m;
    tiny_model(&m, tokenizer_vocab_size(tok), 3);   // a window of 32 tokens
    FILE *pred = tmpfile();
    QAOptions qo = {0};
    QAResult r;
    CHECK(qa_evaluate(&m, tok, &set, &qo, pred, &r) == 0, "%s", scpt_error());
    char line[8192] = "";
    rewind(pred);
    CHECK(fgets(line, sizeof line, pred) != NULL, "no prediction record");
    cJSON *rec = cJSON_Parse(line);
    int ntok = (int)cJSON_GetArrayItem(cJSON_GetObjectItem(rec, "tokens"), 1)->valuedouble;
    double nbytes = cJSON_GetArrayItem(cJSON_GetObjectItem(rec, "bytes"), 1)->valuedouble;
    // the bytes of the scored tokens, decoded independently
    TokenIds ids = {0};
    char spaced[2100];
    snprintf(spaced, sizeof spaced, " %s", longer);
    tokenizer_encode(tok, spaced, strlen(spaced), &ids);
    size_t want = 0;
    char *text = tokenizer_decode(tok, ids.ids, (size_t)ntok, &want);
    CHECK(ntok == 31 && (int)ids.len > ntok, "%d of %zu tokens scored", ntok, ids.len);
    CHECK(nbytes == (double)want && want < strlen(spaced), "bytes %g for %d scored tokens (%zu bytes), option %zu bytes",
          nbytes, ntok, want, strlen(spaced));
    free(text);
    token_ids_free(&ids);
    cJSON_Delete(rec);
    fclose(pred);
    model_free(&m);
    qa_free(&set);
    tokenizer_free(tok);
}

static void test_wilson(void) {
    double lo, hi;
    // reference values: statsmodels proportion_confint(k, n, method="wilson")
    wilson_interval(5, 10, &lo, &hi);
    CHECK_NEAR(lo, 0.236593, 1e-6, "5/10 lo");
    CHECK_NEAR(hi, 0.763407, 1e-6, "5/10 hi");
    wilson_interval(0, 20, &lo, &hi);
    CHECK_NEAR(lo, 0, 1e-12, "0/20 lo");
    CHECK_NEAR(hi, 0.161125, 1e-6, "0/20 hi");
}

static void test_bm25(void) {
    const char *passages[] = {
        "The lighthouse keeper on Skerry Rock lit the lamp every evening and logged passing ships in a leather book.",
        "Wheat farmers in the valley rotate their fields with clover to restore nitrogen to the soil.",
        "The orchestra rehearsed the symphony for weeks before the conductor was satisfied with the brass section.",
        "A comet passes the inner solar system every seventy-six years, its tail pointing away from the sun.",
        "The baker rises at four to knead dough for rye loaves sold at the morning market.",
    };
    const char *questions[] = {
        "What did the keeper of the lighthouse write the ships into?", "Why do farmers plant clover in the valley?",
        "Which section of the orchestra did the conductor worry about?", "How often does the comet pass the sun?",
        "What bread does the baker make for the market?",
    };
    BM25 *ix = bm25_create(100);
    for (int d = 0; d < 5; d++) bm25_add(ix, d, passages[d]);
    CHECK(bm25_num_chunks(ix) == 5, "one chunk per passage");
    for (int q = 0; q < 5; q++) {
        int top[2];
        double sc[2];
        int n = bm25_search(ix, questions[q], 2, top, sc);
        CHECK(n >= 1 && bm25_chunk(ix, top[0])->doc == q, "question %d finds its passage", q);
        CHECK(n < 2 || sc[0] >= sc[1], "best first");
    }
    bm25_free(ix);
    // one score by hand: query "cat" over chunks "cat cat dog", "dog", "bird fish"
    ix = bm25_create(100);
    bm25_add(ix, 0, "cat cat dog");
    bm25_add(ix, 1, "dog");
    bm25_add(ix, 2, "bird fish");
    int top[3];
    double sc[3];
    CHECK(bm25_search(ix, "Cat!", 3, top, sc) == 1 && top[0] == 0, "only the chunk with the term");
    double idf = log(1 + (3 - 1 + 0.5) / (1 + 0.5)), avg = 6.0 / 3;
    double want = idf * 2 * 2.5 / (2 + 1.5 * (1 - 0.75 + 0.75 * 3 / avg));
    CHECK_NEAR(sc[0], want, 1e-12, "BM25 score");
    bm25_free(ix);
    // long text: chunks of chunk_words words, and a phrase found in its chunk
    ix = bm25_create(4);
    bm25_add(ix, 0, "one two three four five six seven eight nine ten zebra");
    CHECK(bm25_num_chunks(ix) == 3, "11 words in chunks of 4");
    CHECK(bm25_search(ix, "zebra", 1, top, NULL) == 1 && strcmp(bm25_chunk(ix, top[0])->text, "nine ten zebra") == 0,
          "chunk text");
    bm25_free(ix);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/scpt_test_eval_XXXXXX");
    if (!mkdtemp(tmpdir)) return 1;
    RUN_TEST(test_simple_reader_and_errors);
    RUN_TEST(test_quality_layouts);
    RUN_TEST(test_real_quality_sample);
    RUN_TEST(test_scoring_batch_and_order);
    RUN_TEST(test_untrained_near_chance);
    RUN_TEST(test_memorised_set_scores_100);
    RUN_TEST(test_long_option_bytes_scored);
    RUN_TEST(test_wilson);
    RUN_TEST(test_bm25);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) return 1;
    return test_summary();
}
