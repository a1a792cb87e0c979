// eval --server's pieces without a server: answer extraction on hostile
// completions, the majority vote, the exact prompt text and chat messages from the
// shipped prompt file and exemplars, exemplar file errors, the embedding cache key.
#include <cjson/cJSON.h>

#include "eval_gen.h"
#include "test.h"

static const char *scratch_dir(void) {
    static char dir[] = "/tmp/scpt_test_eval_gen_XXXXXX";
    static int made;
    if (!made && mkdtemp(dir)) made = 1;
    return dir;
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

#define A(text, want) CHECK(extract_answer(text, 4) == (want), "%s -> %d, want %d", text, extract_answer(text, 4), want)

static void test_answer_plain_forms(void) {
    A("Answer: B", 1);
    A("Answer: B.", 1);
    A("answer: b", 1);
    A("Answer: (C)", 2);
    A("Answer: [d]", 3);
    A("Answer:C", 2);
    A("**Answer:** A", 0);
    A("Answer: option D", 3);
    A("B", 1);
    A("(B)", 1);
    A(" c. ", 2);
    A("Answer: B)", 1);
}

static void test_answer_with_rationale(void) {
    // letters in the rationale do not count
    A("Option A is wrong because the ship sinks; C fits best.\nAnswer: C", 2);
    A("A man rows out to the rock. He saves eleven sailors.\nAnswer: D\n", 3);
    A("Mara kept the light. So the answer is (B).", 1);
    A("The story says B happens first, then A.\nThe answer is D", 3);
    // only the first Answer: line: the rest is the model running on
    A("It is the storm.\nAnswer: B\n\nArticle: \"X\"\nQuestion: y\nAnswer: C", 1);
}

static void test_answer_hostile(void) {
    A("", -1);
    A("I do not know which one.", -1);             // no letter
    A("Answer: B or C", -1);                       // two letters
    A("Answer: B, C", -1);
    A("Answer: E", -1);                            // not one of four options
    A("Answer: A man rows out to the rock.", -1);  // a word, not a label
    A("The answer is a bit unclear.", -1);
    A("Answer: none of them", -1);
    A("Answer: B. C is tempting but wrong.", 1);   // the second letter is in the next sentence
    A("Answers vary", -1);
    A("Z", -1);
    CHECK(extract_answer("Answer: B", 2) == 1, "two options");
    CHECK(extract_answer("Answer: C", 2) == -1, "C of two options");
    CHECK(extract_answer(NULL, 4) == -1, "NULL");
}

static void test_majority_vote(void) {
    int a[] = {1, 2, 2, -1, 1, 2};
    CHECK(majority_vote(a, 6) == 2, "2 has three votes");
    int b[] = {3, 1, 1, 3};
    CHECK(majority_vote(b, 4) == 3, "tie: the first seen");
    int c[] = {-1, -1};
    CHECK(majority_vote(c, 2) == -1, "no answers");
    int d[] = {-1, 0};
    CHECK(majority_vote(d, 2) == 0, "-1 ignored");
}

static PromptSet shipped(int shots) {
    PromptSet ps;
    int rc = prompt_set_load(&ps, "doc/prompts/qa_cot.txt", "doc/prompts/qa_exemplars.jsonl", shots);
    CHECK(rc == 0, "%s", scpt_error());
    return ps;
}

static char *opts4[] = {"red", "blue", "green", "white"};

static void test_prompt_text_exact(void) {
    PromptSet ps = shipped(1);
    QuestionText q = {"The Lamp", "Doe, Jan", "1950", "What colour is the lamp?", NULL, opts4, 4};
    char *p = gen_prompt_text(&ps, 1, &q);
    const char *want_tail =
        "Answer: B\n\n"
        "Article: \"The Lamp\" by Doe, Jan (1950)\n"
        "Question: What colour is the lamp?\n"
        "A. red\nB. blue\nC. green\nD. white\n"
        "Reasoning:";
    CHECK(strncmp(p, ps.prompt.system, strlen(ps.prompt.system)) == 0, "starts with the instruction");
    CHECK(strstr(p, "\n\nArticle: \"The Ferryman of Low Wend\" by Ashdown, Clara (1934)\nQuestion: Why does Tobias"),
          "the first exemplar follows the instruction");
    CHECK(strlen(p) > strlen(want_tail) && strcmp(p + strlen(p) - strlen(want_tail), want_tail) == 0,
          "ends with the exemplar's answer and the question block:\n%s", p);
    CHECK(strstr(p, "Reasoning: Tobias is not shown") != NULL, "rationale after the exemplar's Reasoning:");
    free(p);
    // no author and year: the article line leaves them out; retrieved context first
    QuestionText q2 = {"Notes", "", "", "Why?", "passage one\n\npassage two", opts4, 2};
    p = gen_prompt_text(&ps, 0, &q2);
    char want[1024];
    snprintf(want, sizeof want,
             "%s\n\nContext:\npassage one\n\npassage two\n\nArticle: \"Notes\"\nQuestion: Why?\nA. red\nB. blue\nReasoning:",
             ps.prompt.system);
    CHECK(strcmp(p, want) == 0, "zero-shot with context:\n%s", p);
    free(p);
    prompt_set_free(&ps);
}

static void test_prompt_messages(void) {
    PromptSet ps = shipped(5);
    QuestionText q = {"The Lamp", "", "1950", "What colour?", NULL, opts4, 4};
    char *m = gen_prompt_messages(&ps, 5, &q);
    cJSON *a = cJSON_Parse(m);
    CHECK(cJSON_GetArraySize(a) == 12, "system + 5 x (user, assistant) + user: %d", cJSON_GetArraySize(a));
    const char *roles[] = {"system", "user", "assistant"};
    for (int i = 0; i < 3; i++)
        CHECK(!strcmp(cJSON_GetObjectItem(cJSON_GetArrayItem(a, i), "role")->valuestring, roles[i]), "role %d", i);
    const char *ans = cJSON_GetObjectItem(cJSON_GetArrayItem(a, 2), "content")->valuestring;
    CHECK(extract_answer(ans, 4) == ps.ex[0].answer, "the exemplar's own answer extracts to its letter");
    const char *last = cJSON_GetObjectItem(cJSON_GetArrayItem(a, 11), "content")->valuestring;
    CHECK(!strcmp(last, "Article: \"The Lamp\" (1950)\nQuestion: What colour?\nA. red\nB. blue\nC. green\nD. white\nReasoning:"),
          "last user message: %s", last);
    // every shipped exemplar's answer is what its rationale leads to, and extraction agrees
    for (int i = 0; i < ps.n_ex; i++) {
        char text[4096];
        snprintf(text, sizeof text, "%s\nAnswer: %c", ps.ex[i].rationale, 'A' + ps.ex[i].answer);
        CHECK(extract_answer(text, ps.ex[i].n_options) == ps.ex[i].answer, "exemplar %d", i);
    }
    cJSON_Delete(a);
    free(m);
    prompt_set_free(&ps);
}

static void test_exemplar_errors(void) {
    char path[256];
    snprintf(path, sizeof path, "%s/ex.jsonl", scratch_dir());
    PromptSet ps;
    write_file(path, "{\"title\": \"t\", \"question\": \"q\", \"options\": [\"a\", \"b\"], \"answer\": \"C\", \"rationale\": \"r\"}\n");
    CHECK(prompt_set_load(&ps, "doc/prompts/qa_cot.txt", path, 1) != 0 && strstr(scpt_error(), "ex.jsonl:1: \"answer\""),
          "answer out of range: %s", scpt_error());
    write_file(path, "\n{\"title\": \"t\", \"question\": \"q\", \"options\": [\"a\", \"b\"], \"answer\": \"B\"}\n");
    CHECK(prompt_set_load(&ps, "doc/prompts/qa_cot.txt", path, 1) != 0 && strstr(scpt_error(), "ex.jsonl:2: no \"rationale\""),
          "missing rationale: %s", scpt_error());
    write_file(path, "{\"title\": \"t\", \"question\": \"q\", \"options\": [\"a\", \"b\"], \"answer\": \"B\", \"rationale\": \"r\"}\n");
    CHECK(prompt_set_load(&ps, "doc/prompts/qa_cot.txt", path, 2) != 0 && strstr(scpt_error(), "fewer than --shots 2"),
          "too few: %s", scpt_error());
    CHECK(prompt_set_load(&ps, "doc/prompts/qa_cot.txt", path, 1) == 0, "one is enough for one shot: %s", scpt_error());
    prompt_set_free(&ps);
    char prompt[256];
    snprintf(prompt, sizeof prompt, "%s/p.txt", scratch_dir());
    write_file(prompt, "@user\nQuestion: {question}\n");
    CHECK(prompt_set_load(&ps, prompt, path, 0) != 0 && strstr(scpt_error(), "needs {question} and {options}"),
          "prompt without options: %s", scpt_error());
    write_file(prompt, "@user\n{question} {options} {nonsense}\n");
    CHECK(prompt_set_load(&ps, prompt, path, 0) != 0 && strstr(scpt_error(), "{nonsense}"), "unknown placeholder: %s",
          scpt_error());
}

// QuALITY's hard flag from the annotators' answers in the flattened release
static void test_hard_flag_from_answers(void) {
    char path[256];
    snprintf(path, sizeof path, "%s/flat.jsonl", scratch_dir());
    // q1: untimed right, 3 of 5 timed wrong: hard; q2: 2 of 4 timed wrong (no majority); q3: untimed
    // mostly wrong; q4: an explicit flag wins; q5: no answers at all
    write_file(path,
               "{\"article_id\": 1, \"article\": \"<p>x</p>\", \"title\": \"T\","
               " \"question1\": \"a\", \"question1option1\": \"x\", \"question1option2\": \"y\", \"question1_gold_label\": 2,"
               " \"question1_annotator_answers\": [2, 2, 1], \"question1_annotator_speed_answers\": [1, 1, 2, 1, 2],"
               " \"question2\": \"b\", \"question2option1\": \"x\", \"question2option2\": \"y\", \"question2_gold_label\": 1,"
               " \"question2_annotator_answers\": [1, 1, 1], \"question2_annotator_speed_answers\": [2, 2, 1, 1],"
               " \"question3\": \"c\", \"question3option1\": \"x\", \"question3option2\": \"y\", \"question3_gold_label\": 1,"
               " \"question3_annotator_answers\": [2, 2, 1], \"question3_annotator_speed_answers\": [2, 2, 2],"
               " \"question4\": \"d\", \"question4option1\": \"x\", \"question4option2\": \"y\", \"question4_gold_label\": 1,"
               " \"question4_difficult\": 0, \"question4_annotator_answers\": [1], \"question4_annotator_speed_answers\": [2],"
               " \"question5\": \"e\", \"question5option1\": \"x\", \"question5option2\": \"y\", \"question5_gold_label\": 1}\n");
    QASet set;
    CHECK(qa_load(&set, path) == 0, "%s", scpt_error());
    int want[] = {1, 0, 0, 0, -1};
    CHECK(set.n_items == 5, "%d questions", set.n_items);
    for (int i = 0; i < set.n_items && i < 5; i++)
        CHECK(set.items[i].q->difficult == want[i], "question %d: %d, want %d", i + 1, set.items[i].q->difficult, want[i]);
    qa_free(&set);
    // the shared sample: 5 questions, 4 of them hard by the annotators' answers (counted by hand)
    const char *sample = "../shared/data/quality/quality_sample.jsonl";
    FILE *f = fopen(sample, "r");
    if (!f) SKIP_TEST("%s is absent", sample);
    fclose(f);
    CHECK(qa_load(&set, sample) == 0, "%s", scpt_error());
    int hard = 0;
    for (int i = 0; i < set.n_items; i++) hard += set.items[i].q->difficult == 1;
    CHECK(set.n_items == 5 && hard == 4, "%d questions, %d hard", set.n_items, hard);
    qa_free(&set);
}

static void test_cache_key(void) {
    const char *a[] = {"one", "two"}, *b[] = {"onet", "wo"}, *c[] = {"one", "two"};
    CHECK(dense_chunks_key("m", a, 2) == dense_chunks_key("m", c, 2), "same chunks, same key");
    CHECK(dense_chunks_key("m", a, 2) != dense_chunks_key("m", b, 2), "chunk boundaries are part of the key");
    CHECK(dense_chunks_key("m", a, 2) != dense_chunks_key("n", a, 2), "the model is part of the key");
}

int main(void) {
    RUN_TEST(test_answer_plain_forms);
    RUN_TEST(test_answer_with_rationale);
    RUN_TEST(test_answer_hostile);
    RUN_TEST(test_majority_vote);
    RUN_TEST(test_prompt_text_exact);
    RUN_TEST(test_prompt_messages);
    RUN_TEST(test_exemplar_errors);
    RUN_TEST(test_hard_flag_from_answers);
    RUN_TEST(test_cache_key);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", scratch_dir());
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", scratch_dir());
    return test_summary();
}
