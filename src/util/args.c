#define _GNU_SOURCE   // program_invocation_short_name
#include "args.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void print_help(const ArgSpec *specs, int n, const char *usage) {
    printf("%s\n\nOptions:\n", usage);
    for (int i = 0; i < n; i++) {
        const ArgSpec *s = &specs[i];
        char flag[64];
        snprintf(flag, sizeof flag, "%s%s", s->name,
                 s->type == ARG_INT || s->type == ARG_INT64 ? " N" : s->type == ARG_FLOAT ? " X"
                 : s->type == ARG_STRING                    ? " S" : "");
        printf("  %-22s %s", flag, s->help);
        if (s->type == ARG_INT) printf(" (default %d)", *(int *)s->value);
        if (s->type == ARG_INT64) printf(" (default %lld)", (long long)*(int64_t *)s->value);
        if (s->type == ARG_FLOAT) printf(" (default %g)", *(float *)s->value);
        if (s->type == ARG_STRING && *(const char **)s->value) printf(" (default %s)", *(const char **)s->value);
        printf("\n");
    }
    printf("  %-22s %s\n", "-h, --help", "print this help");
    printf("  %-22s %s\n", "--version", "print the version");
}

void usage_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", program_invocation_short_name);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see --help)\n");
    va_end(ap);
    exit(2);
}

void args_want_file(const char *flag, const char *path, const char *hint) {
    struct stat st;
    if (path && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        usage_error("%s %s is a directory: %s", flag, path, hint ? hint : "give a file");
}

// Stores one flag's value; exits 2 when it is malformed or out of range.
static void set_value(const ArgSpec *s, const char *v) {
    if (s->type == ARG_STRING) {
        *(const char **)s->value = v;
        return;
    }
    char *end;
    errno = 0;
    if (s->type == ARG_FLOAT) {
        double x = strtod(v, &end);
        if (end == v || *end || errno) usage_error("%s: '%s' is not a number", s->name, v);
        // NaN passes every `x < min || x > max` test, so finiteness is checked first
        if (!isfinite(x) || !isfinite((float)x)) usage_error("%s: '%s' is not a finite number", s->name, v);
        if (x < s->min || x > s->max) usage_error("%s %s is outside %g..%g", s->name, v, s->min, s->max);
        *(float *)s->value = (float)x;
        return;
    }
    long long x = strtoll(v, &end, 10);
    if (end == v || *end || errno) usage_error("%s: '%s' is not an integer", s->name, v);
    if ((double)x < s->min || (double)x > s->max) usage_error("%s %s is outside %.0f..%.0f", s->name, v, s->min, s->max);
    if (s->type == ARG_INT) *(int *)s->value = (int)x;
    else *(int64_t *)s->value = x;
}

static int parse(int argc, char **argv, const ArgSpec *specs, int n, const char *usage, int inputs) {
    int k = 0, only_inputs = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (only_inputs || arg[0] != '-' || strcmp(arg, "-") == 0) {
            if (!inputs) usage_error("unexpected argument '%s'", arg);
            argv[1 + k++] = argv[i];   // never overtakes i: k < i
            continue;
        }
        if (strcmp(arg, "--") == 0 && inputs) {
            only_inputs = 1;
            continue;
        }
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            print_help(specs, n, usage);
            exit(0);
        }
        if (strcmp(arg, "--version") == 0) {
            printf("%s (scpt) %s\n", program_invocation_short_name, SCPT_VERSION);
            exit(0);
        }
        const ArgSpec *s = NULL;
        for (int j = 0; j < n; j++)
            if (strcmp(arg, specs[j].name) == 0) s = &specs[j];
        if (!s) usage_error("unknown option '%s'", arg);
        if (s->type == ARG_FLAG) {
            *(int *)s->value = 1;
            continue;
        }
        if (i + 1 >= argc) usage_error("%s needs a value", s->name);
        set_value(s, argv[++i]);
    }
    return k;
}

void args_parse(int argc, char **argv, const ArgSpec *specs, int n, const char *usage) {
    parse(argc, argv, specs, n, usage, 0);
}

int args_parse_inputs(int argc, char **argv, const ArgSpec *specs, int n, const char *usage) {
    return parse(argc, argv, specs, n, usage, 1);
}
