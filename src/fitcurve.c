// fitcurve: fits the log-linear line and the mixture-of-exponential curve (fit.h)
// to accuracy-vs-synthetic-tokens points of each method, writes the parameters as
// JSON and, for plotting, as gnuplot function definitions.
//
// Input CSV, a header line then: method,tokens,acc (acc as a fraction 0..1).
#include <cjson/cJSON.h>
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "fit.h"
#include "util.h"

#define MAX_POINTS 4096
#define MAX_METHODS 16

typedef struct {
    char name[64];
    double n[MAX_POINTS], acc[MAX_POINTS];
    int count;
} Method;

static int read_points(const char *path, Method *m, int *n_methods) {
    FILE *f = fopen(path, "r");
    if (!f) return scpt_set_error("%s: cannot open", path), -1;
    char line[1024];
    long lineno = 0;
    *n_methods = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        if (lineno == 1 || line[strspn(line, " \t\r\n")] == '\0' || line[0] == '#') continue;
        char name[64];
        double tokens, acc;
        if (sscanf(line, " %63[^,],%lf,%lf", name, &tokens, &acc) != 3 || tokens < 0 || !(acc >= 0 && acc <= 1)) {
            fclose(f);
            return scpt_set_error("%s:%ld: expected method,tokens,acc with tokens >= 0 and 0 <= acc <= 1", path, lineno), -1;
        }
        int i = 0;
        while (i < *n_methods && strcmp(m[i].name, name) != 0) i++;
        if (i == *n_methods) {
            if (i == MAX_METHODS) {
                fclose(f);
                return scpt_set_error("%s:%ld: more than %d methods", path, lineno, MAX_METHODS), -1;
            }
            ++*n_methods;
            snprintf(m[i].name, sizeof m[i].name, "%s", name);
            m[i].count = 0;
        }
        if (m[i].count == MAX_POINTS) {
            fclose(f);
            return scpt_set_error("%s:%ld: more than %d points for %s", path, lineno, MAX_POINTS, name), -1;
        }
        m[i].n[m[i].count] = tokens, m[i].acc[m[i].count++] = acc;
    }
    fclose(f);
    if (*n_methods == 0) return scpt_set_error("%s: no points", path), -1;
    return 0;
}

// a gnuplot-safe identifier from a method name
static void ident(char *out, size_t cap, const char *name) {
    size_t k = 0;
    for (; *name && k + 1 < cap; name++) out[k++] = isalnum((unsigned char)*name) ? *name : '_';
    out[k] = '\0';
}

int main(int argc, char **argv) {
    const char *in = NULL, *out = "fit.json", *gp = NULL;
    ArgSpec specs[] = {
        {"--in", ARG_STRING, &in, "CSV of method,tokens,acc", 0, 0},
        {"--out", ARG_STRING, &out, "fit parameters (JSON)", 0, 0},
        {"--gnuplot", ARG_STRING, &gp, "also write gnuplot definitions mix_<method>(x), loglin_<method>(x)", 0, 0},
    };
    args_parse(argc, argv, specs, 3, "usage: fitcurve --in points.csv [--out fit.json] [--gnuplot defs.gp]\n\n"
                                     "Log-linear and mixture-of-exponential fits of accuracy vs synthetic tokens.");
    if (!in) usage_error("--in is required");
    args_want_file("--in", in, "give the CSV of method,tokens,acc");
    static Method m[MAX_METHODS];
    int nm;
    if (read_points(in, m, &nm) != 0) die("%s", scpt_error());
    cJSON *root = cJSON_CreateObject();
    AtomicFile g;
    if (gp && atomic_open(&g, gp) != 0) die("%s", scpt_error());
    for (int i = 0; i < nm; i++) {
        cJSON *o = cJSON_AddObjectToObject(root, m[i].name);
        char id[64];
        ident(id, sizeof id, m[i].name);
        LogLinFit l;
        MixExpFit x;
        double err_l = 0, err_x = 0;
        if (fit_loglinear(m[i].n, m[i].acc, m[i].count, &l) == 0) {
            for (int k = 0; k < m[i].count; k++)
                if (m[i].n[k] > 0) err_l = fmax(err_l, fabs(loglinear_at(&l, m[i].n[k]) - m[i].acc[k]));
            cJSON *c = cJSON_AddObjectToObject(o, "loglinear");
            cJSON_AddNumberToObject(c, "a", l.a), cJSON_AddNumberToObject(c, "b", l.b);
            cJSON_AddNumberToObject(c, "max_abs_err", err_l);
            if (gp) fprintf(g.f, "loglin_%s(x) = %.17g + %.17g * log(x)\n", id, l.a, l.b);
            printf("%-12s log-linear  acc = %.4f + %.4f ln n            max |err| %.4f\n", m[i].name, l.a, l.b, err_l);
        }
        if (fit_mixexp(m[i].n, m[i].acc, m[i].count, &x) == 0) {
            for (int k = 0; k < m[i].count; k++) err_x = fmax(err_x, fabs(mixexp_at(&x, m[i].n[k]) - m[i].acc[k]));
            cJSON *c = cJSON_AddObjectToObject(o, "mixexp"), *rates = cJSON_AddArrayToObject(c, "rates");
            cJSON_AddNumberToObject(c, "a0", x.a0);
            if (gp) fprintf(g.f, "mix_%s(x) = %.17g", id, x.a0);
            printf("%-12s mixture     acc = %.4f", m[i].name, x.a0);
            for (int r = 0; r < MIXEXP_RATES; r++) {
                if (x.c[r] == 0) continue;
                cJSON *rate = cJSON_CreateObject();
                cJSON_AddNumberToObject(rate, "c", x.c[r]), cJSON_AddNumberToObject(rate, "t", x.t[r]);
                cJSON_AddItemToArray(rates, rate);
                if (gp) fprintf(g.f, " + %.17g*(1-exp(-x/%.17g))", x.c[r], x.t[r]);
                printf(" + %.4f (1 - e^(-n/%.3g))", x.c[r], x.t[r]);
            }
            cJSON_AddNumberToObject(c, "max_abs_err", err_x);
            if (gp) fprintf(g.f, "\n");
            printf("  max |err| %.4f\n", err_x);
        }
    }
    if (gp && atomic_commit(&g) != 0) die("%s", scpt_error());
    AtomicFile f;
    char *s = cJSON_Print(root);
    if (atomic_open(&f, out) != 0) die("%s", scpt_error());
    fprintf(f.f, "%s\n", s);
    if (atomic_commit(&f) != 0) die("%s", scpt_error());
    free(s);
    cJSON_Delete(root);
    return 0;
}
