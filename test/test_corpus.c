// Corpus reading: plain JSONL, both QuALITY layouts (the real sample when
// ../shared is there), folders of .txt files, HTML stripping, and the errors bad
// input must give (file and line named).
#define _GNU_SOURCE
#include <stdlib.h>
#include <unistd.h>

#include "corpus.h"
#include "test.h"
#include "test_files.h"

#define QUALITY_SAMPLE "../shared/data/quality/quality_sample.jsonl"

static void test_html_to_text(void) {
    const char *html = "<html><head><title>T</title><style>p{x}</style></head><body>"
                       "<h1>  The  Title </h1><p>One\n line<br/>two &amp; three &#8212; &#x41;&eacute;"
                       "&bogus; <!-- hidden --></p><script>var a = '<p>';</script><p>Last</p></body></html>";
    char *t = html_to_text(html, strlen(html));
    CHECK(strcmp(t, "The Title\n\nOne line\ntwo & three \xe2\x80\x94 A\xc3\xa9&bogus;\n\nLast") == 0, "got [%s]", t);
    free(t);
    t = html_to_text("a < b", 5);   // a lone '<' with no '>' ends the text: dropped, no crash
    CHECK(strcmp(t, "a") == 0, "got [%s]", t);
    free(t);
}

static void test_plain_jsonl(void) {
    const char *p = test_put("plain.jsonl", "{\"id\": \"a\", \"title\": \"First\", \"text\": \"Hello world.\"}\n"
                                       "\n"
                                       "{\"id\": 7, \"text\": \"Second <b>not html</b> here.\"}\n");
    Corpus c;
    CHECK(corpus_load(&c, p) == 0, "%s", scpt_error());
    CHECK(c.n_docs == 2, "%d docs", c.n_docs);
    if (c.n_docs == 2) {
        CHECK(!strcmp(c.docs[0].id, "a") && !strcmp(c.docs[0].title, "First"), "doc 0 %s %s", c.docs[0].id, c.docs[0].title);
        CHECK(!strcmp(c.docs[1].id, "7") && !strcmp(c.docs[1].title, ""), "numeric id -> %s", c.docs[1].id);
        // plain text is taken as it is, even when it holds markup
        CHECK(!strcmp(c.docs[1].text, "Second <b>not html</b> here."), "text %s", c.docs[1].text);
        CHECK(c.docs[0].n_questions == 0, "questions");
    }
    corpus_free(&c);
}

// a bad file must fail with the message naming the file, the line and the problem
static void expect_error(const char *name, const char *text, const char *needle) {
    const char *p = test_put(name, text);
    Corpus c;
    CHECK(corpus_load(&c, p) == -1, "%s loaded", name);
    CHECK(strstr(scpt_error(), name) && strstr(scpt_error(), needle), "%s: message [%s] lacks [%s]", name,
          scpt_error(), needle);
}

static void test_bad_input(void) {
    expect_error("noid.jsonl", "{\"text\": \"x\"}\n", ":1: no \"id\"");
    expect_error("notext.jsonl", "{\"id\": \"a\", \"text\": \"x\"}\n{\"id\": \"b\"}\n", ":2: no \"text\"");
    expect_error("empty_text.jsonl", "{\"id\": \"a\", \"text\": \" \\n \"}\n", "empty text");
    expect_error("garbage.jsonl", "{\"id\": \"a\", \"text\": \"x\"}\n[1,2]\n", ":2: not a JSON object");
    expect_error("torn.jsonl", "{\"id\": \"a\", \"text\": \"x\"", ":1: not a JSON object");
    expect_error("blank.jsonl", "\n\n", "no documents");
    expect_error("dup.jsonl", "{\"id\": \"a\", \"text\": \"x\"}\n{\"id\": \"a\", \"text\": \"y\"}\n",
                 ":2: document id a appears again with a different text");
    expect_error("badgold.jsonl",
                 "{\"article_id\": 1, \"article\": \"<p>x</p>\", \"question1\": \"q?\", \"question1option1\": \"a\","
                 " \"question1option2\": \"b\", \"question1_gold_label\": 3}\n",
                 "question1 gold label is not 1..2");
    expect_error("hugegold.jsonl",   // range-checked before the conversion, which 1e300 overflows
                 "{\"article_id\": 1, \"article\": \"<p>x</p>\", \"question1\": \"q?\", \"question1option1\": \"a\","
                 " \"question1option2\": \"b\", \"question1_gold_label\": 1e300}\n",
                 "question1 gold label is not 1..2");
    expect_error("badarticle.jsonl", "{\"article_id\": 1, \"article\": [\"<p>\", 5]}\n",
                 "neither a string nor a list of strings");
    Corpus c;
    CHECK(corpus_load(&c, "/nonexistent/corpus.jsonl") == -1 && strstr(scpt_error(), "/nonexistent/corpus.jsonl"),
          "missing file: %s", scpt_error());
}

// the flattened layout (article as HTML lines, question<k>...) with a repeated
// row, and the nested layout; extra annotator fields are ignored
static void test_quality_layouts(void) {
    const char *row = "{\"article_id\": 9, \"title\": \"Tale\", \"author\": \"Poe\", \"year\": 1843, "
                      "\"article\": [\"<html><body>\\n\", \"<p>\\n\", \"  Once upon\\n\", \"a time.\\n\", \"</p>\\n\","
                      " \"<p>The end.</p></body></html>\\n\"], "
                      "\"question1\": \"Who?\", \"question1option1\": \"A\", \"question1option2\": \"B\", "
                      "\"question1option3\": \"C\", \"question1option4\": \"D\", \"question1_gold_label\": 2, "
                      "\"question1_annotator_answers\": [1, 2], \"question1_difficult\": 1, "
                      "\"question2\": \"Why?\", \"question2option1\": \"E\", \"question2option2\": \"F\", "
                      "\"question2option3\": \"G\", \"question2option4\": \"H\", \"question2_gold_label\": \"4\"}\n";
    char text[4096];
    snprintf(text, sizeof text, "%s%s", row, row);
    const char *p = test_put("flat.jsonl", text);
    Corpus c;
    CHECK(corpus_load(&c, p) == 0, "%s", scpt_error());
    CHECK(c.n_docs == 1, "%d docs (a repeated row must merge)", c.n_docs);
    if (c.n_docs == 1) {
        Document *d = &c.docs[0];
        CHECK(!strcmp(d->id, "9") && !strcmp(d->title, "Tale") && !strcmp(d->author, "Poe") && !strcmp(d->year, "1843"),
              "fields %s %s %s %s", d->id, d->title, d->author, d->year);
        CHECK(!strcmp(d->text, "Once upon a time.\n\nThe end."), "text [%s]", d->text);
        CHECK(d->n_questions == 2, "%d questions (repeats kept once)", d->n_questions);
        if (d->n_questions == 2) {
            CHECK(!strcmp(d->questions[0].question, "Who?") && d->questions[0].n_options == 4, "q1");
            CHECK(d->questions[0].gold == 1 && d->questions[0].difficult == 1, "q1 gold %d", d->questions[0].gold);
            CHECK(!strcmp(d->questions[1].options[3], "H") && d->questions[1].gold == 3 && d->questions[1].difficult == -1,
                  "q2 gold %d", d->questions[1].gold);
        }
    }
    corpus_free(&c);

    p = test_put("nested.jsonl", "{\"article_id\": \"x1\", \"title\": \"N\", \"article\": \"plain text, no tags\", "
                            "\"questions\": [{\"question\": \"Q?\", \"options\": [\"a\", \"b\", \"c\"], \"gold_label\": 3}]}\n");
    CHECK(corpus_load(&c, p) == 0, "%s", scpt_error());
    if (c.n_docs == 1) {
        CHECK(!strcmp(c.docs[0].text, "plain text, no tags"), "text [%s]", c.docs[0].text);
        CHECK(c.docs[0].n_questions == 1 && c.docs[0].questions[0].gold == 2 && c.docs[0].questions[0].n_options == 3,
              "nested question");
    }
    corpus_free(&c);
}

static void test_txt_folder(void) {
    char dir[600];
    snprintf(dir, sizeof dir, "%s/docs", test_dir);
    CHECK(make_dirs(dir) == 0, "mkdir");
    test_put("docs/b.txt", "Second document.\n");
    test_put("docs/a.txt", "First document.\n");
    test_put("docs/notes.md", "not a document");
    Corpus c;
    CHECK(corpus_load(&c, dir) == 0, "%s", scpt_error());
    CHECK(c.n_docs == 2, "%d docs", c.n_docs);
    if (c.n_docs == 2)
        CHECK(!strcmp(c.docs[0].id, "a") && !strcmp(c.docs[1].title, "b") && !strcmp(c.docs[0].text, "First document.\n"),
              "sorted by name: %s %s", c.docs[0].id, c.docs[1].id);
    corpus_free(&c);
    snprintf(dir, sizeof dir, "%s/empty", test_dir);
    make_dirs(dir);
    CHECK(corpus_load(&c, dir) == -1 && strstr(scpt_error(), "no .txt files"), "%s", scpt_error());
}

// The real QuALITY sample: two rows of article 52845 with the same five questions.
static void test_quality_sample(void) {
    if (access(QUALITY_SAMPLE, R_OK) != 0) SKIP_TEST("%s is absent", QUALITY_SAMPLE);
    Corpus c;
    CHECK(corpus_load(&c, QUALITY_SAMPLE) == 0, "%s", scpt_error());
    CHECK(c.n_docs == 1, "%d docs", c.n_docs);
    if (c.n_docs != 1) return;
    Document *d = &c.docs[0];
    CHECK(!strcmp(d->id, "52845") && !strcmp(d->title, "The Girl in His Mind") && !strcmp(d->author, "Young, Robert F.")
          && !strcmp(d->year, "1950"), "fields %s / %s / %s / %s", d->id, d->title, d->author, d->year);
    CHECK(!strncmp(d->text, "THE GIRL IN HIS MIND\n\nBy ROBERT F. YOUNG", 38), "start [%.60s]", d->text);
    CHECK(!strchr(d->text, '<') && !strchr(d->text, '>'), "tags left in the text");
    CHECK(strstr(d->text, "every man's mind is a universe") || strstr(d->text, "Every man's mind is a universe"), "text");
    CHECK(strstr(d->text, "The grill-work of the hearth was begrimed with grease."), "the last sentence");
    CHECK(strlen(d->text) > 20000, "only %zu bytes of text", strlen(d->text));
    static const int gold[5] = {1, 2, 3, 0, 3};   // question<k>_gold_label 2 3 4 1 4, 0-based
    CHECK(d->n_questions == 5, "%d questions", d->n_questions);
    for (int k = 0; k < d->n_questions && k < 5; k++)
        CHECK(d->questions[k].gold == gold[k] && d->questions[k].n_options == 4, "question %d gold %d", k + 1,
              d->questions[k].gold);
    if (d->n_questions >= 4) CHECK(!strncmp(d->questions[3].question, "Sabrina York is", 15), "q4 [%s]", d->questions[3].question);
    corpus_free(&c);
}

int main(void) {
    test_dir_make();
    RUN_TEST(test_html_to_text);
    RUN_TEST(test_plain_jsonl);
    RUN_TEST(test_bad_input);
    RUN_TEST(test_quality_layouts);
    RUN_TEST(test_txt_folder);
    RUN_TEST(test_quality_sample);
    test_dir_remove();
    return test_summary();
}
