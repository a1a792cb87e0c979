// Source documents for synthetic data generation and their multiple-choice
// questions (QuALITY). Three inputs are read:
//   - JSONL, one document a line: {"id", "title", "text"} (id a string or number,
//     title optional);
//   - QuALITY JSONL, recognised by an "article" field: the article is HTML (a
//     string, or a list of lines as in the flattened release) and is stripped to
//     text; questions come from "questions": [{question, options[], gold_label}]
//     or from the flattened question1, question1option1..4, question1_gold_label;
//     rows of the same article_id are merged, identical questions kept once;
//   - a directory: every *.txt file is a document, id and title its file name
//     without .txt.
#ifndef SCPT_CORPUS_H
#define SCPT_CORPUS_H

#include <stddef.h>

typedef struct {
    char *question;
    char **options;
    int n_options;
    int gold;        // index of the right option, 0-based; -1 when not given
    int difficult;   // QuALITY's hard flag: 1 / 0, -1 when not given (derived from the
                     // annotators' answers where only those are given: corpus.c)
} Question;

typedef struct {
    char *id, *title, *author, *year;   // "" when absent
    char *text;
    Question *questions;
    int n_questions;
} Document;

typedef struct {
    Document *docs;
    int n_docs;
} Corpus;

// Reads a JSONL file or a directory of .txt files (see above). -1 with
// "<file>:<line>: what is wrong" on bad input.
int corpus_load(Corpus *c, const char *path);
void corpus_free(Corpus *c);

// HTML to plain text: drops tags, comments and <head>/<script>/<style>, decodes
// character references, collapses white space; block elements become paragraph
// breaks ("\n\n") and <br> a line break. Returns a malloc'd string.
char *html_to_text(const char *html, size_t len);

#endif
