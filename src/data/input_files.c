// Input names for `tokenize` (see include/tokenize_input.h): folders become the
// text and JSONL files under them, compressed or not, in a fixed (sorted) order
// so that a folder tokenizes to the same shards on every machine.
#define _GNU_SOURCE
#include "tokenize_input.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "util.h"

static int ends_with(const char *s, size_t n, const char *tail) {
    size_t t = strlen(tail);
    return n >= t && memcmp(s + n - t, tail, t) == 0;
}

// The length of the name without a .gz or .zst ending.
static size_t plain_length(const char *name) {
    size_t n = strlen(name);
    if (ends_with(name, n, ".gz")) return n - 3;
    if (ends_with(name, n, ".zst")) return n - 4;
    return n;
}

int input_name_is_jsonl(const char *path) { return ends_with(path, plain_length(path), ".jsonl"); }

static int is_input_name(const char *name) {
    size_t n = plain_length(name);
    return name[0] != '.' && (ends_with(name, n, ".jsonl") || ends_with(name, n, ".txt"));
}

typedef struct {
    char **paths;
    int n, cap, skipped;
} PathList;

static void push(PathList *l, char *path) {
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 16;
        l->paths = realloc(l->paths, l->cap * sizeof *l->paths);
        if (!l->paths) die("out of memory listing inputs");
    }
    l->paths[l->n++] = path;
}

static int by_name(const struct dirent **a, const struct dirent **b) { return strcmp((*a)->d_name, (*b)->d_name); }

static int add_folder(PathList *l, const char *dir, int depth) {
    if (depth > 64) {
        scpt_set_error("%s: folders nested more than 64 deep (a link loop?)", dir);
        return -1;
    }
    struct dirent **entries;
    int n = scandir(dir, &entries, NULL, by_name), rc = 0;
    if (n < 0) {
        scpt_set_error("%s: cannot list the folder: %s", dir, strerror(errno));
        return -1;
    }
    for (int i = 0; i < n; i++) {
        const char *name = entries[i]->d_name;
        char *path = NULL;
        struct stat st;
        if (rc == 0 && name[0] != '.' && asprintf(&path, "%s/%s", dir, name) >= 0 && stat(path, &st) == 0) {
            if (S_ISDIR(st.st_mode)) rc = add_folder(l, path, depth + 1);
            else if (S_ISREG(st.st_mode) && is_input_name(name)) push(l, path), path = NULL;
            else l->skipped++;
        }
        free(path);
        free(entries[i]);
    }
    free(entries);
    return rc;
}

int input_files_expand(char *const *args, int n_args, char ***paths, int *n_paths, int *skipped) {
    PathList l = {0};
    for (int i = 0; i < n_args; i++) {
        struct stat st;
        if (strcmp(args[i], "-") != 0 && stat(args[i], &st) == 0 && S_ISDIR(st.st_mode)) {
            int before = l.n;
            if (add_folder(&l, args[i], 0) != 0) {
                free_paths(l.paths, l.n);
                return -1;
            }
            if (l.n == before) {
                scpt_set_error("%s: the folder holds no .jsonl or .txt files (plain, .gz or .zst)", args[i]);
                free_paths(l.paths, l.n);
                return -1;
            }
        } else {
            push(&l, xstrdup(args[i]));
        }
    }
    *paths = l.paths;
    *n_paths = l.n;
    *skipped = l.skipped;
    return 0;
}
