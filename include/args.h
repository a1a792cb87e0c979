// Command-line flags from a table: parsing, range checks, --help and --version in
// one place, so every program follows one convention (README "Command line"):
// -h/--help to stdout and exit 0, --version, errors prefixed with
// the program's name, exit 2 for a usage error and 1 for a failure at run time.
#ifndef SCPT_ARGS_H
#define SCPT_ARGS_H

#define SCPT_VERSION "0.1.0"

typedef enum { ARG_INT, ARG_INT64, ARG_FLOAT, ARG_STRING, ARG_FLAG } ArgType;

typedef struct {
    const char *name;    // "--batch"
    ArgType type;
    void *value;         // int*, int64_t*, float*, const char**, int* (flag: set to 1)
    const char *help;    // the default is appended from *value
    double min, max;     // accepted range for numbers (inclusive); floats must also be finite
} ArgSpec;

// Parses argv into the table's variables. --help prints `usage` and the table to
// stdout and exits 0; --version prints the version and exits 0; an unknown flag, a
// missing or malformed value, a non-finite float (nan, inf) or a number out of range
// prints what is wrong and exits 2. Arguments that are not flags are refused.
void args_parse(int argc, char **argv, const ArgSpec *specs, int n, const char *usage);

// The same, but arguments that are not flags (and "-", and all after "--") are
// inputs: they are moved, in order, to argv[1..k]; returns k.
int args_parse_inputs(int argc, char **argv, const ArgSpec *specs, int n, const char *usage);

// A usage error found after parsing (a missing required flag, flags that exclude
// each other, a bad choice): "<program>: <message> (see --help)" on stderr, exit 2.
void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

// A usage error when `path` (the value of `flag`) is a directory where a file
// belongs; `hint` (may be NULL) says what to give instead.
void args_want_file(const char *flag, const char *path, const char *hint);

#endif
