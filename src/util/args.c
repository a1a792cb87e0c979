#include "args.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void print_help(const ArgSpec *specs, int n, const char *usage) {
    printf("%s\n\nOptions:\n", usage);
    for (int i = 0; i < n; i++) {
        const ArgSpec *s = &specs[i];
        char flag[64];
        snprintf(flag, sizeof flag, "%s%s", s->name,
                 s->type == ARG_INT ? " N" : s->type == ARG_FLOAT ? " X" : s->type == ARG_STRING ? " S" : "");
        printf("  %-22s %s", flag, s->help);
        if (s->type == ARG_INT) printf(" (default %d)", *(int *)s->value);
        if (s->type == ARG_FLOAT) printf(" (default %g)", *(float *)s->value);
        if (s->type == ARG_STRING && *(const char **)s->value) printf(" (default %s)", *(const char **)s->value);
        printf("\n");
    }
    printf("  %-22s %s\n", "--help", "print this help");
}

static void bad(const char *fmt, const char *a, const char *b) {
    fprintf(stderr, "scpt: ");
    fprintf(stderr, fmt, a, b);
    fprintf(stderr, " (see --help)\n");
    exit(2);
}

void args_parse(int argc, char **argv, const ArgSpec *specs, int n, const char *usage) {
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            print_help(specs, n, usage);
            exit(0);
        }
        const ArgSpec *s = NULL;
        for (int k = 0; k < n; k++)
            if (strcmp(argv[i], specs[k].name) == 0) s = &specs[k];
        if (!s) bad("unknown option '%s'%s", argv[i], "");
        if (s->type == ARG_FLAG) {
            *(int *)s->value = 1;
            continue;
        }
        if (i + 1 >= argc) bad("%s needs a value%s", s->name, "");
        const char *v = argv[++i];
        char *end;
        errno = 0;
        if (s->type == ARG_STRING) {
            *(const char **)s->value = v;
            continue;
        }
        double x = s->type == ARG_INT ? (double)strtoll(v, &end, 10) : strtod(v, &end);
        if (end == v || *end || errno) bad("%s: '%s' is not a number", s->name, v);
        if (x < s->min || x > s->max) {
            char range[96];
            snprintf(range, sizeof range, "%g..%g", s->min, s->max);
            fprintf(stderr, "scpt: %s %s is outside %s (see --help)\n", s->name, v, range);
            exit(2);
        }
        if (s->type == ARG_INT) *(int *)s->value = (int)x;
        else *(float *)s->value = (float)x;
    }
}
