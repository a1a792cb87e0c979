// The EntiGraph client's parts without a server: prompt files, entity lists,
// the plan (all pairs, sampled triples, order from the seed), the scheduler,
// rephrase chunks, resume keys, the journal (torn tails, locking), and the
// OpenAI request/response bodies. The run as a whole (budget, retries, resume
// after kill -9) is tested by test/test_entigraph_faults.sh.
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "entigraph.h"
#include "test.h"
#include "test_files.h"

// ---- prompts ----------------------------------------------------------------------------

static const char *const doc_names[] = {"title", "author", "year", "document", NULL};

static void test_prompt_load_fill(void) {
    const char *p = test_put("ok.txt", "# a comment\n# {not_checked} in comments\n\n@system\n  Be brief about {title}.  \n"
                                  "@user\nTitle: {title}\n{document}\n{ not a placeholder } {Upper} {}\n");
    Prompt pr;
    CHECK(prompt_load(&pr, p, doc_names) == 0, "%s", scpt_error());
    CHECK(!strcmp(pr.system, "Be brief about {title}."), "system [%s]", pr.system);
    const char *names[] = {"title", "document"}, *values[] = {"Moby {Dick}", "Call me Ishmael."};
    char *u = prompt_fill(pr.user, names, values, 2);
    // values are inserted as they are: a brace in a value is not expanded again
    CHECK(!strcmp(u, "Title: Moby {Dick}\nCall me Ishmael.\n{ not a placeholder } {Upper} {}"), "user [%s]", u);
    free(u);
    // a name used many times with a long value outgrows the first guess of the size
    char big[3000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    const char *bv[] = {big};
    u = prompt_fill("{title}{title}{title}-", names, bv, 1);
    CHECK(strlen(u) == 3 * strlen(big) + 1 && u[strlen(u) - 1] == '-', "length %zu", strlen(u));
    free(u);
    prompt_free(&pr);
}

static void expect_prompt_error(const char *name, const char *text, const char *needle) {
    Prompt pr;
    const char *p = test_put(name, text);
    CHECK(prompt_load(&pr, p, doc_names) == -1, "%s loaded", name);
    CHECK(strstr(scpt_error(), name) && strstr(scpt_error(), needle), "%s: [%s] lacks [%s]", name, scpt_error(), needle);
}

static void test_prompt_errors(void) {
    expect_prompt_error("unknown.txt", "@user\n{document} {entity1}\n", "unknown placeholder {entity1}");
    expect_prompt_error("before.txt", "stray text\n@user\nx\n", "text before the first");
    expect_prompt_error("nouser.txt", "@system\nx\n", "no @user section");
    expect_prompt_error("twice.txt", "@user\nx\n@user\ny\n", "@user appears twice");
    Prompt pr;
    CHECK(prompt_load(&pr, "/nonexistent/p.txt", doc_names) == -1 && strstr(scpt_error(), "/nonexistent/p.txt"), "%s",
          scpt_error());
}

// the shipped prompts load with the names the program gives them
static void test_shipped_prompts(void) {
    static const char *const pair[] = {"title", "author", "year", "document", "entity1", "entity2", NULL};
    static const char *const triple[] = {"title", "author", "year", "document", "entity1", "entity2", "entity3", NULL};
    static const char *const reph[] = {"title", "author", "year", "chunk", NULL};
    struct { const char *file; const char *const *names; const char *must; } cases[] = {
        {"doc/prompts/entities.txt", doc_names, "{document}"}, {"doc/prompts/pair.txt", pair, "{entity2}"},
        {"doc/prompts/triple.txt", triple, "{entity3}"}, {"doc/prompts/rephrase_wiki.txt", reph, "{chunk}"},
        {"doc/prompts/rephrase_qa.txt", reph, "{chunk}"}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        Prompt pr;
        CHECK(prompt_load(&pr, cases[i].file, cases[i].names) == 0, "%s", scpt_error());
        CHECK(pr.user && strstr(pr.user, cases[i].must), "%s lacks %s", cases[i].file, cases[i].must);
        prompt_free(&pr);
    }
    FILE *f = fopen("doc/prompts/entities.schema.json", "rb");
    char buf[4096] = {0};
    CHECK(f && fread(buf, 1, sizeof buf - 1, f) > 0, "schema missing");
    if (f) fclose(f);
    cJSON *s = cJSON_Parse(buf);
    CHECK(cJSON_IsObject(s), "schema is not JSON");
    cJSON_Delete(s);
}

// ---- entity lists and the plan -------------------------------------------------------------

static void test_normalize_entities(void) {
    char *in[] = {"  Captain Ahab ", "the\n whale", "", "captain ahab", "Ishmael", "   ", "The Whale", "Queequeg"};
    char **out;
    int n = normalize_entities(in, 8, 0, &out);
    CHECK(n == 4, "%d names", n);
    if (n == 4)
        CHECK(!strcmp(out[0], "Captain Ahab") && !strcmp(out[1], "the whale") && !strcmp(out[2], "Ishmael") &&
              !strcmp(out[3], "Queequeg"), "%s|%s|%s|%s", out[0], out[1], out[2], out[3]);
    for (int i = 0; i < n; i++) free(out[i]);
    free(out);
    n = normalize_entities(in, 8, 2, &out);   // the cut counts kept names, not inputs
    CHECK(n == 2 && !strcmp(out[1], "the whale"), "max 2: %d", n);
    for (int i = 0; i < n; i++) free(out[i]);
    free(out);
}

static char **names_n(int n) {
    char **names = xcalloc((size_t)n, sizeof *names);
    for (int i = 0; i < n; i++) {
        names[i] = xmalloc(16);
        snprintf(names[i], 16, "E%d", i);
    }
    return names;
}

static void free_names(char **names, int n) {
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
}

// counts pairs and triples, checks each is valid and appears once
static void census(const DocPlan *dp, int *pairs, int *triples) {
    size_t m = (size_t)dp->n_entities;
    char *seen_pair = xcalloc(m * m, 1), *seen_triple = xcalloc(m * m * m, 1);
    *pairs = *triples = 0;
    for (int i = 0; i < dp->n_items; i++) {
        const WorkItem *it = &dp->items[i];
        int a = it->ent[0], b = it->ent[1], c = it->ent[2], pair = it->kind == KIND_PAIR;
        int ok = a >= 0 && a < b && b < (int)m && (pair || (b < c && c < (int)m));
        CHECK(ok, "item %d: %d %d %d of %zu", i, a, b, c, m);
        if (!ok) continue;
        char *seen = pair ? &seen_pair[a * m + b] : &seen_triple[(a * m + b) * m + c];
        CHECK(!*seen, "item %d repeats", i);
        *seen = 1;
        ++*(pair ? pairs : triples);
    }
    free(seen_pair);
    free(seen_triple);
}

static void test_plan_pairs_triples(void) {
    PlanConfig cfg = {.max_pairs = -1, .max_triples = -2, .seed = 42};
    char **names = names_n(9);
    DocPlan dp = {0};
    plan_entities(&dp, "doc1", names, 9, &cfg);
    int pairs, triples;
    census(&dp, &pairs, &triples);
    CHECK(dp.entities_state == 2 && dp.n_entities == 9, "state %d n %d", dp.entities_state, dp.n_entities);
    CHECK(pairs == 36 && triples == 36, "default: all 36 pairs and as many triples: %d %d", pairs, triples);
    for (int i = 0; i < dp.n_items; i++)   // pairs come first, then triples
        CHECK(dp.items[i].kind == (i < 36 ? KIND_PAIR : KIND_TRIPLE), "item %d kind", i);
    plan_free(&dp);

    cfg.max_triples = -1;   // all triples: C(9,3) = 84
    plan_entities(&dp, "doc1", names, 9, &cfg);
    census(&dp, &pairs, &triples);
    CHECK(pairs == 36 && triples == 84, "all triples: %d %d", pairs, triples);
    plan_free(&dp);

    cfg.max_pairs = 5, cfg.max_triples = 1000;   // more than exist: all of them
    plan_entities(&dp, "doc1", names, 9, &cfg);
    census(&dp, &pairs, &triples);
    CHECK(pairs == 5 && triples == 84, "max 5 pairs, 1000 triples: %d %d", pairs, triples);
    plan_free(&dp);

    cfg = (PlanConfig){.max_entities = 2, .max_pairs = -1, .max_triples = -1, .seed = 1};
    plan_entities(&dp, "doc1", names, 9, &cfg);
    census(&dp, &pairs, &triples);
    CHECK(dp.n_entities == 2 && pairs == 1 && triples == 0, "2 entities: %d %d", pairs, triples);
    plan_free(&dp);
    free_names(names, 9);

    // many entities: a few triples are drawn (rejection sampling), still distinct
    names = names_n(60);
    cfg = (PlanConfig){.max_pairs = 0, .max_triples = 500, .seed = 3};
    plan_entities(&dp, "big", names, 60, &cfg);
    census(&dp, &pairs, &triples);
    CHECK(pairs == 0 && triples == 500, "sampled: %d %d", pairs, triples);
    plan_free(&dp);
    free_names(names, 60);
}

// the order depends on the seed and the document id, and on nothing else
static void test_plan_order(void) {
    char **names = names_n(8);
    PlanConfig cfg = {.max_pairs = -1, .max_triples = 10, .seed = 42};
    DocPlan a = {0}, b = {0}, c = {0}, d = {0};
    plan_entities(&a, "doc1", names, 8, &cfg);
    plan_entities(&b, "doc1", names, 8, &cfg);
    cfg.seed = 43;
    plan_entities(&c, "doc1", names, 8, &cfg);
    cfg.seed = 42;
    plan_entities(&d, "doc2", names, 8, &cfg);
    CHECK(a.n_items == 38 && b.n_items == 38 && c.n_items == 38 && d.n_items == 38, "items %d", a.n_items);
    CHECK(!memcmp(a.items, b.items, (size_t)a.n_items * sizeof *a.items), "same seed, same order");
    // 28! orders of the pairs: equal orders by chance have probability ~1e-29
    CHECK(memcmp(a.items, c.items, 28 * sizeof *a.items) != 0, "another seed, same pair order");
    CHECK(memcmp(a.items, d.items, 28 * sizeof *a.items) != 0, "another document, same pair order");
    // not the enumeration order either
    int sorted = 1;
    for (int i = 1; i < 28; i++) sorted &= a.items[i - 1].ent[0] * 8 + a.items[i - 1].ent[1] < a.items[i].ent[0] * 8 + a.items[i].ent[1];
    CHECK(!sorted, "pairs are in enumeration order");
    plan_free(&a), plan_free(&b), plan_free(&c), plan_free(&d);
    free_names(names, 8);
}

// round robin: position 0 of every document, then position 1, ...; documents join
// as their entities arrive
static void test_scheduler(void) {
    PlanConfig cfg = {.max_pairs = -1, .max_triples = 0, .seed = 7};
    char **names = names_n(3);
    DocPlan plans[3] = {{0}};
    Scheduler s;
    sched_init(&s, plans, 3);
    plan_entities(&plans[2], "c", names, 3, &cfg);   // 3 pairs
    plan_entities(&plans[0], "a", names, 2, &cfg);   // 1 pair
    sched_add(&s, 2);
    sched_add(&s, 0);
    sched_add(&s, 1);                               // no items yet: not added
    WorkItem it;
    int order[8], n = 0;
    while (n < 2 && sched_next(&s, plans, &it)) order[n++] = it.doc;
    plan_entities(&plans[1], "b", names, 3, &cfg);  // joins late, at its position 0
    sched_add(&s, 1);
    while (n < 8 && sched_next(&s, plans, &it)) order[n++] = it.doc;
    int want[] = {0, 2, 1, 1, 2, 1, 2};
    CHECK(n == 7, "%d items", n);
    for (int i = 0; i < n && i < 7; i++) CHECK(order[i] == want[i], "item %d from doc %d, want %d", i, order[i], want[i]);
    sched_free(&s);
    for (int i = 0; i < 3; i++) plan_free(&plans[i]);
    free_names(names, 3);
}

static int count_words(const char *s) {
    int n = 0;
    for (const char *p = s; *p;) {
        p += strspn(p, " \t\r\n");
        if (!*p) break;
        p += strcspn(p, " \t\r\n");
        n++;
    }
    return n;
}

static void test_rephrase_chunks(void) {
    // 3 paragraphs of 4, 6 and 12 words; chunks of at most 8 words
    const char *text = "one two three four\n\nfive six seven eight nine ten\n\n"
                       "a b c d e f g h i j k l\n";
    DocPlan dp = {0};
    plan_rephrase(&dp, text, 8, 2);
    // para 1 ends at 4 words = half of 8: a chunk; para 2 (6); para 3 cut at 8, rest 4
    CHECK(dp.n_chunks == 4, "%d chunks", dp.n_chunks);
    int total = 0;
    for (int i = 0; i < dp.n_chunks; i++) {
        CHECK(count_words(dp.chunks[i]) <= 8, "chunk %d has %d words", i, count_words(dp.chunks[i]));
        total += count_words(dp.chunks[i]);
    }
    CHECK(total == 22, "words lost or repeated: %d", total);
    if (dp.n_chunks == 4) CHECK(!strcmp(dp.chunks[0], "one two three four") && !strcmp(dp.chunks[3], "i j k l"),
                               "[%s] [%s]", dp.chunks[0], dp.chunks[3]);
    CHECK(dp.n_items == 8 && dp.items[1].style == 1 && dp.items[1].chunk == 0 && dp.items[7].chunk == 3,
          "every chunk in every style: %d items", dp.n_items);
    plan_free(&dp);
}

static void test_keys(void) {
    Corpus c = {0};
    Document docs[2] = {{.id = "d1"}, {.id = "d2"}};
    c.docs = docs, c.n_docs = 2;
    DocPlan plans[2] = {{0}};
    char *ents[] = {"A", "B", "C"};
    PlanConfig cfg = {.max_pairs = -1, .max_triples = -1, .seed = 1};
    plan_entities(&plans[0], "d1", ents, 3, &cfg);
    plan_entities(&plans[1], "d2", ents, 3, &cfg);
    StrSet set = {0};
    const char *styles[] = {"wiki"};
    for (int d = 0; d < 2; d++) {
        WorkItem e = {d, KIND_ENTITIES, {0, 0, 0}, 0, 0};
        char *k = item_key(&c, plans, &e, styles);
        CHECK(strset_add(&set, k) == 1, "key %s repeats", k);
        free(k);
        for (int i = 0; i < plans[d].n_items; i++) {
            WorkItem it = plans[d].items[i];
            it.doc = d;
            k = item_key(&c, plans, &it, styles);
            CHECK(strset_add(&set, k) == 1, "key repeats");
            CHECK(strset_add(&set, k) == 0 && strset_has(&set, k), "second add");
            free(k);
        }
    }
    CHECK(set.n == 2 * (1 + 3 + 1), "%zu keys", set.n);
    WorkItem p = {0, KIND_PAIR, {0, 2, 0}, 0, 0};
    char *k = item_key(&c, plans, &p, styles);
    CHECK(!strcmp(k, "2:d14:pair1:A1:C"), "pair key [%s]", k);
    free(k);
    // many keys: the table grows and keeps them all
    StrSet big = {0};
    char name[32];
    for (int i = 0; i < 5000; i++) snprintf(name, sizeof name, "k%d", i), strset_add(&big, name);
    int all = 1;
    for (int i = 0; i < 5000; i++) snprintf(name, sizeof name, "k%d", i), all &= strset_has(&big, name);
    CHECK(all && big.n == 5000 && !strset_has(&big, "k5000"), "big set");
    strset_free(&big);
    strset_free(&set);
    plan_free(&plans[0]), plan_free(&plans[1]);
}

// Entity names holding control characters (U+001F, the old key separator, among
// them): every planned item has its own key, so none is skipped as already done.
static void test_keys_control_characters(void) {
    Corpus c = {0};
    Document doc = {.id = "d\x1f" "1"};
    c.docs = &doc, c.n_docs = 1;
    DocPlan plan = {0};
    char *ents[] = {"a\x1f" "b", "c", "a", "b\x1f" "c", "\x01x\x1f"};
    PlanConfig cfg = {.max_pairs = -1, .max_triples = -1, .seed = 1};
    plan_entities(&plan, doc.id, ents, 5, &cfg);
    CHECK(plan.n_entities == 5 && plan.n_items == 10 + 10, "%d entities, %d items", plan.n_entities, plan.n_items);
    // the run's loop: an item whose key is already done is skipped
    StrSet done = {0};
    int written = 0;
    for (int i = 0; i < plan.n_items; i++) {
        char *k = item_key(&c, &plan, &plan.items[i], NULL);
        if (!strset_has(&done, k)) strset_add(&done, k), written++;
        free(k);
    }
    CHECK(written == plan.n_items, "%d of %d planned items would be written", written, plan.n_items);
    strset_free(&done);
    plan_free(&plan);
}

// ---- journal ------------------------------------------------------------------------------

static int seen_lines;
static long seen_last_lineno;
static void count_record(void *ctx, const char *line, size_t len, long lineno) {
    seen_lines++;
    seen_last_lineno = lineno;
    CHECK(line[len - 1] == '\n', "record without newline");
}

static void test_journal(void) {
    char path[512];
    snprintf(path, sizeof path, "%s/out.jsonl", test_dir);
    Journal j;
    CHECK(journal_open(&j, path, count_record, NULL) == 0, "%s", scpt_error());
    CHECK(journal_append(&j, "{\"a\":1}\n", 8) == 0 && journal_append(&j, "{\"a\":2}\n", 8) == 0, "append");
    CHECK(journal_sync(&j) == 0, "sync");
    Journal k;   // a second writer is refused while the first holds the file
    CHECK(journal_open(&k, path, NULL, NULL) == -1 && strstr(scpt_error(), "locked"), "%s", scpt_error());
    journal_close(&j);

    // a kill -9 mid-write leaves a torn tail: the next open cuts it and appends after
    FILE *f = fopen(path, "ab");
    fputs("{\"a\":3, \"tor", f);
    fclose(f);
    seen_lines = 0;
    CHECK(journal_open(&j, path, count_record, NULL) == 0, "%s", scpt_error());
    CHECK(seen_lines == 2 && seen_last_lineno == 2, "%d records seen", seen_lines);
    CHECK(j.torn_bytes == 12, "torn %ld", j.torn_bytes);
    CHECK(journal_append(&j, "{\"a\":4}\n", 8) == 0, "append");
    journal_close(&j);
    f = fopen(path, "rb");
    char buf[256] = {0};
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    CHECK(n == 24 && !strcmp(buf, "{\"a\":1}\n{\"a\":2}\n{\"a\":4}\n"), "file [%s]", buf);

    // a complete line that is not JSON is not ours to cut: refuse with its line number
    f = fopen(path, "ab");
    fputs("hello\n{\"a\":5}\n", f);
    fclose(f);
    CHECK(journal_open(&j, path, count_record, NULL) == -1 && strstr(scpt_error(), "out.jsonl:4: not a JSON object"),
          "%s", scpt_error());
    CHECK(journal_open(&j, "/nonexistent/dir/o.jsonl", NULL, NULL) == -1 && strstr(scpt_error(), "/nonexistent/dir"),
          "%s", scpt_error());
}

// ---- request and response bodies ------------------------------------------------------------

static void test_chat_request(void) {
    ApiConfig cfg = {.model = "m1", .temperature = 0.5, .max_completion_tokens = 77, .json_mode = 2,
                     .entity_schema = "{\"type\":\"object\"}"};
    size_t len;
    char *body = api_chat_request(&cfg, "sys \"q\"", "user\ntext", 1, &len);
    cJSON *r = cJSON_Parse(body);
    CHECK(cJSON_IsObject(r) && len == strlen(body), "not JSON: %s", body);
    CHECK(!strcmp(cJSON_GetObjectItem(r, "model")->valuestring, "m1"), "model");
    cJSON *msgs = cJSON_GetObjectItem(r, "messages");
    CHECK(cJSON_GetArraySize(msgs) == 2 && !strcmp(cJSON_GetObjectItem(cJSON_GetArrayItem(msgs, 0), "content")->valuestring, "sys \"q\""),
          "messages");
    CHECK(cJSON_GetObjectItem(r, "max_tokens")->valueint == 77, "max_tokens");
    cJSON *fmt = cJSON_GetObjectItem(r, "response_format");
    CHECK(fmt && !strcmp(cJSON_GetObjectItem(fmt, "type")->valuestring, "json_schema") &&
          cJSON_IsObject(cJSON_GetObjectItem(cJSON_GetObjectItem(fmt, "json_schema"), "schema")), "json_schema");
    cJSON_Delete(r);
    free(body);
    body = api_chat_request(&cfg, "", "u", 0, &len);   // relations: no format, no empty system message
    r = cJSON_Parse(body);
    CHECK(!cJSON_GetObjectItem(r, "response_format") && cJSON_GetArraySize(cJSON_GetObjectItem(r, "messages")) == 1, "%s", body);
    cJSON_Delete(r);
    free(body);
}

static void test_parse_chat(void) {
    const char *ok = "{\"model\":\"tiny\",\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":\"Hi\"},"
                     "\"finish_reason\":\"length\"}],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":3},"
                     "\"timings\":{\"prompt_ms\":1.5,\"predicted_ms\":9.25}}";
    ChatResult r;
    char reason[256];
    CHECK(api_parse_chat(ok, strlen(ok), &r, reason, sizeof reason) == 0, "%s", reason);
    CHECK(!strcmp(r.content, "Hi") && !strcmp(r.finish_reason, "length") && !strcmp(r.model, "tiny"), "fields");
    CHECK(r.prompt_tokens == 12 && r.completion_tokens == 3 && r.server_prompt_ms == 1.5 && r.server_predicted_ms == 9.25,
          "usage");
    chat_result_free(&r);
    struct { const char *body; const char *reason; } bad[] = {
        {"{\"choices\":[{\"message\":{\"content\":\"cut", "not a JSON object"},
        {"<html>502</html>", "not a JSON object"},
        {"{\"choices\":[]}", "no choices[0].message.content"},
        {"{\"error\":{\"message\":\"overloaded\"}}", "server error: overloaded"},
        {"{\"choices\":[{\"message\":{\"content\":null}}]}", "no choices"}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK(api_parse_chat(bad[i].body, strlen(bad[i].body), &r, reason, sizeof reason) == -1, "%s parsed", bad[i].body);
        CHECK(strstr(reason, bad[i].reason), "[%s] lacks [%s]", reason, bad[i].reason);
    }
}

static void test_parse_entities(void) {
    char *summary, **ents, reason[256];
    int n;
    const char *fenced = "Sure! ```json\n{\"summary\": \"S\", \"entities\": [\"A\", \" \", \"B\"]}\n``` done";
    CHECK(api_parse_entities(fenced, &summary, &ents, &n, reason, sizeof reason) == 0, "%s", reason);
    CHECK(!strcmp(summary, "S") && n == 3 && !strcmp(ents[2], "B"), "n %d", n);
    for (int i = 0; i < n; i++) free(ents[i]);
    free(ents), free(summary);
    struct { const char *content; const char *reason; } bad[] = {
        {"no json here", "no JSON object"},
        {"{\"summary\": \"S\", \"entities\": [\"A\",}", "not valid JSON"},
        {"{\"summary\": \"S\", \"entities\": \"A, B\"}", "\"entities\" is not a list"},
        {"{\"summary\": \"S\", \"entities\": [\"A\", 3]}", "an entity is not a string"},
        {"{\"summary\": \"S\", \"entities\": [\"  \"]}", "no entity names"},
        {"{\"summary\": 5, \"entities\": [\"A\"]}", "\"summary\" is not a string"},
        {"{\"summary\": \"S\"}", "\"entities\" is not a list"}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK(api_parse_entities(bad[i].content, &summary, &ents, &n, reason, sizeof reason) == -1, "%s parsed",
              bad[i].content);
        CHECK(strstr(reason, "malformed entity list") && strstr(reason, bad[i].reason), "[%s] lacks [%s]", reason,
              bad[i].reason);
    }
}

// The key at every offset of an error body, across the snippet's 200-byte cut:
// no piece of it (4 bytes or more) reaches the message.
static void test_snippet_redacts_before_cut(void) {
    const char *key = "sk-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    size_t kn = strlen(key);
    int leaks = 0;
    for (size_t off = 0; off <= 260; off++) {
        char body[400], out[256];
        memset(body, '.', sizeof body);
        memcpy(body + off, key, kn);
        if (off >= 2) body[1] = '\0';   // a NUL in the body hides nothing
        http_error_snippet(body, off + kn + 5, key, out, sizeof out);
        for (size_t i = 0; i + 4 <= kn; i++) {
            char piece[5];
            memcpy(piece, key + i, 4), piece[4] = '\0';
            if (strstr(out, piece)) {
                if (!leaks++) CHECK(0, "offset %zu: [%s] shows %s", off, out, piece);
                break;
            }
        }
        CHECK(strlen(out) <= 200, "offset %zu: %zu bytes", off, strlen(out));
    }
    CHECK(leaks == 0, "the key leaked at %d offsets", leaks);
    char raw[] = "a\0sk-SECRET123 b";
    size_t n = redact_secret_bytes(raw, sizeof raw - 1, "sk-SECRET123");
    CHECK(n == 7 && !memcmp(raw, "a\0*** b", 7), "redact past a NUL: %zu bytes", n);
}

static void test_redact(void) {
    char s[128] = "HTTP 401: invalid key sk-SECRET123, key sk-SECRET123 again";
    redact_secret(s, "sk-SECRET123");
    CHECK(!strcmp(s, "HTTP 401: invalid key ***, key *** again"), "[%s]", s);
    redact_secret(s, NULL);
    redact_secret(s, "");
    CHECK(!strcmp(s, "HTTP 401: invalid key ***, key *** again"), "[%s]", s);
}

int main(void) {
    test_dir_make();
    RUN_TEST(test_prompt_load_fill);
    RUN_TEST(test_prompt_errors);
    RUN_TEST(test_shipped_prompts);
    RUN_TEST(test_normalize_entities);
    RUN_TEST(test_plan_pairs_triples);
    RUN_TEST(test_plan_order);
    RUN_TEST(test_scheduler);
    RUN_TEST(test_rephrase_chunks);
    RUN_TEST(test_keys);
    RUN_TEST(test_keys_control_characters);
    RUN_TEST(test_journal);
    RUN_TEST(test_chat_request);
    RUN_TEST(test_parse_chat);
    RUN_TEST(test_parse_entities);
    RUN_TEST(test_redact);
    RUN_TEST(test_snippet_redacts_before_cut);
    test_dir_remove();
    return test_summary();
}
