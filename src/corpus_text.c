// corpus_text: any corpus the corpus reader takes (JSONL id/title/text, QuALITY with
// HTML articles, a folder of .txt) as plain JSONL {"id", "title", "text"}, written
// atomically: the Raw CPT baseline's input to `tokenize`.
#include <cjson/cJSON.h>
#include <stdlib.h>

#include "args.h"
#include "corpus.h"
#include "util.h"

int main(int argc, char **argv) {
    int n = args_parse_inputs(argc, argv, NULL, 0, "usage: corpus_text CORPUS OUT.jsonl\n\n"
                                                  "Writes the corpus as plain JSONL {\"id\", \"title\", \"text\"}.");
    if (n != 2) usage_error("expected CORPUS and OUT.jsonl, got %d argument%s", n, n == 1 ? "" : "s");
    args_want_file("OUT.jsonl", argv[2], NULL);
    Corpus c;
    if (corpus_load(&c, argv[1]) != 0) die("%s", scpt_error());
    AtomicFile af;
    if (atomic_open(&af, argv[2]) != 0) die("%s", scpt_error());
    for (int i = 0; i < c.n_docs; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "id", c.docs[i].id);
        cJSON_AddStringToObject(o, "title", c.docs[i].title);
        cJSON_AddStringToObject(o, "text", c.docs[i].text);
        char *s = cJSON_PrintUnformatted(o);
        fprintf(af.f, "%s\n", s);
        free(s);
        cJSON_Delete(o);
    }
    if (atomic_commit(&af) != 0) die("%s", scpt_error());
    printf("%d documents -> %s\n", c.n_docs, argv[2]);
    corpus_free(&c);
    return 0;
}
