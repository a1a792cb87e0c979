// Command-line flags from a table: parsing, range checks and --help in one place.
#ifndef SCPT_ARGS_H
#define SCPT_ARGS_H

typedef enum { ARG_INT, ARG_FLOAT, ARG_STRING, ARG_FLAG } ArgType;

typedef struct {
    const char *name;    // "--batch"
    ArgType type;
    void *value;         // int*, float*, const char**, int* (flag: set to 1)
    const char *help;    // the default is appended from *value
    double min, max;     // accepted range for numbers (inclusive)
} ArgSpec;

// Parses argv into the table's variables. --help prints `usage` and the table and
// exits 0; an unknown flag, a missing or malformed value, or a number out of range
// prints what is wrong and exits 2.
void args_parse(int argc, char **argv, const ArgSpec *specs, int n, const char *usage);

#endif
