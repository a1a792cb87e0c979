// Checkpoints as safetensors: tensors "model.<name>", "adam_m.<name>", "adam_v.<name>";
// metadata "scpt.config" and "scpt.state" hold JSON objects.
#include "checkpoint.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "safetensors.h"
#include "util.h"

_Static_assert(sizeof(real) == 4, "checkpoints store the float build's parameters as F32");

#define FORMAT_NAME "scpt-checkpoint-v1"

static const char *const ARCH_NAMES[] = {"gpt2", "llama"};

static char *config_json(const ModelConfig *c) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "arch", ARCH_NAMES[c->arch]);
    cJSON_AddNumberToObject(o, "vocab_size", c->vocab_size);
    cJSON_AddNumberToObject(o, "padded_vocab_size", c->padded_vocab_size);
    cJSON_AddNumberToObject(o, "max_seq_len", c->max_seq_len);
    cJSON_AddNumberToObject(o, "n_layer", c->n_layer);
    cJSON_AddNumberToObject(o, "n_head", c->n_head);
    cJSON_AddNumberToObject(o, "n_kv_head", c->n_kv_head);
    cJSON_AddNumberToObject(o, "n_embd", c->n_embd);
    cJSON_AddNumberToObject(o, "ffn_hidden", c->ffn_hidden);
    cJSON_AddNumberToObject(o, "tied_embeddings", c->tied_embeddings);
    cJSON_AddNumberToObject(o, "norm_eps", c->norm_eps);
    cJSON_AddNumberToObject(o, "rope_theta", c->rope_theta);
    cJSON_AddNumberToObject(o, "rope_scale", c->rope_scale);
    cJSON_AddNumberToObject(o, "rope_low_freq_factor", c->rope_low_freq_factor);
    cJSON_AddNumberToObject(o, "rope_high_freq_factor", c->rope_high_freq_factor);
    cJSON_AddNumberToObject(o, "rope_original_context", c->rope_original_context);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

// a required number field of a metadata object
static int get_number(const cJSON *o, const char *key, double *out, const char *path) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v)) {
        scpt_set_error("%s: checkpoint metadata lacks the number '%s'", path, key);
        return -1;
    }
    *out = v->valuedouble;
    return 0;
}

// a number field that must be a whole number in [0, max], checked before it is
// converted (a double outside the integer's range does not convert)
static int check_whole(double v, double max, const char *key, const char *path) {
    if (v >= 0 && v <= max && v == floor(v)) return 0;
    scpt_set_error("%s: checkpoint metadata '%s' is %g; expected a whole number in [0, %.0f]", path, key, v, max);
    return -1;
}

static int parse_config(const char *json, ModelConfig *c, const char *path) {
    cJSON *o = json ? cJSON_Parse(json) : NULL;
    const cJSON *arch = cJSON_GetObjectItemCaseSensitive(o, "arch");
    int rc = -1;
    memset(c, 0, sizeof *c);
    if (!cJSON_IsString(arch)) {
        scpt_set_error("%s: not an scpt checkpoint (no readable scpt.config)", path);
        goto done;
    }
    if (strcmp(arch->valuestring, "gpt2") == 0) c->arch = ARCH_GPT2;
    else if (strcmp(arch->valuestring, "llama") == 0) c->arch = ARCH_LLAMA;
    else {
        scpt_set_error("%s: unknown architecture '%s'", path, arch->valuestring);
        goto done;
    }
    double v[15];
    const char *keys[15] = {"vocab_size", "padded_vocab_size", "max_seq_len", "n_layer", "n_head",
                            "n_kv_head", "n_embd", "ffn_hidden", "tied_embeddings", "norm_eps",
                            "rope_theta", "rope_scale", "rope_low_freq_factor", "rope_high_freq_factor",
                            "rope_original_context"};
    for (int i = 0; i < 15; i++) {
        if (get_number(o, keys[i], &v[i], path) != 0) goto done;
        int is_float = i >= 9 && i <= 13;   // norm_eps .. rope_high_freq_factor
        if (!is_float && check_whole(v[i], INT_MAX, keys[i], path) != 0) goto done;
    }
    c->vocab_size = (int)v[0], c->padded_vocab_size = (int)v[1], c->max_seq_len = (int)v[2];
    c->n_layer = (int)v[3], c->n_head = (int)v[4], c->n_kv_head = (int)v[5], c->n_embd = (int)v[6];
    c->ffn_hidden = (int)v[7], c->tied_embeddings = (int)v[8], c->norm_eps = (float)v[9];
    c->rope_theta = (float)v[10], c->rope_scale = (float)v[11], c->rope_low_freq_factor = (float)v[12];
    c->rope_high_freq_factor = (float)v[13], c->rope_original_context = (int)v[14];
    if (model_config_check(c) != 0) {
        scpt_set_error("%s: %s", path, scpt_error());
        goto done;
    }
    rc = 0;
done:
    cJSON_Delete(o);
    return rc;
}

static char *state_json(const TrainState *s) {
    cJSON *o = cJSON_CreateObject();
    char seed[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)s->seed);   // 64 bits do not fit a JSON double
    cJSON_AddNumberToObject(o, "step", s->step);
    cJSON_AddStringToObject(o, "seed", seed);
    cJSON_AddNumberToObject(o, "loader_next_slot", (double)s->loader.next_slot);
    cJSON_AddNumberToObject(o, "loader_consumed_train", (double)s->loader.consumed[0]);
    cJSON_AddNumberToObject(o, "loader_consumed_replay", (double)s->loader.consumed[1]);
    cJSON_AddNumberToObject(o, "batch", s->batch);
    cJSON_AddNumberToObject(o, "seq_len", s->seq_len);
    cJSON_AddNumberToObject(o, "grad_accum", s->grad_accum);
    cJSON_AddNumberToObject(o, "world", s->world);
    cJSON_AddNumberToObject(o, "replay_frac", s->replay_frac);
    cJSON_AddNumberToObject(o, "total_steps", s->total_steps);
    char *str = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return str;
}

static int parse_state(const char *json, TrainState *s, const char *path) {
    cJSON *o = json ? cJSON_Parse(json) : NULL;
    const cJSON *seed = cJSON_GetObjectItemCaseSensitive(o, "seed");
    double v[9];
    const char *keys[9] = {"step", "loader_next_slot", "loader_consumed_train", "loader_consumed_replay",
                           "batch", "seq_len", "grad_accum", "world", "replay_frac"};
    int rc = -1;
    if (!cJSON_IsString(seed)) {
        scpt_set_error("%s: checkpoint has no training state (a weights-only file cannot be resumed)", path);
        goto done;
    }
    for (int i = 0; i < 9; i++) {
        if (get_number(o, keys[i], &v[i], path) != 0) goto done;
        // the loader counters are int64 but exact in a double only up to 2^53
        if (i < 8 && check_whole(v[i], i >= 1 && i <= 3 ? 0x1p53 : INT_MAX, keys[i], path) != 0) goto done;
    }
    // total_steps came later: 0 (unknown) in older checkpoints
    double total = 0;
    if (cJSON_GetObjectItemCaseSensitive(o, "total_steps") &&
        (get_number(o, "total_steps", &total, path) != 0 || check_whole(total, INT_MAX, "total_steps", path) != 0))
        goto done;
    s->total_steps = (int)total;
    s->seed = strtoull(seed->valuestring, NULL, 10);
    s->step = (int)v[0];
    s->loader = (LoaderState){(int64_t)v[1], {(int64_t)v[2], (int64_t)v[3]}};
    s->batch = (int)v[4], s->seq_len = (int)v[5], s->grad_accum = (int)v[6], s->world = (int)v[7];
    s->replay_frac = (float)v[8];
    rc = 0;
done:
    cJSON_Delete(o);
    return rc;
}

int checkpoint_save(const char *path, const Model *m, const OptimizerState *opt, const TrainState *state) {
    if (opt && (opt->begin != 0 || opt->end != m->num_params)) {
        scpt_set_error("%s: checkpoint_save needs the whole optimizer state (gather shards first)", path);
        return -1;
    }
    StWriteTensor tensors[3 * NUM_PARAM_TENSORS];
    char names[3 * NUM_PARAM_TENSORS][64];
    const char *prefixes[3] = {"model.", "adam_m.", "adam_v."};
    const real *bases[3] = {m->params, opt ? opt->m : NULL, opt ? opt->v : NULL};
    int n = 0;
    for (int k = 0; k < (opt ? 3 : 1); k++) {
        for (int i = 0; i < NUM_PARAM_TENSORS; i++) {
            const ParamTensor *t = &m->tensors[i];
            if (t->size == 0) continue;
            snprintf(names[n], sizeof names[n], "%s%s", prefixes[k], t->name);
            tensors[n] = (StWriteTensor){names[n], ST_F32, t->ndim, {0}, bases[k] + t->offset};
            for (int d = 0; d < t->ndim; d++) tensors[n].shape[d] = t->shape[d];
            n++;
        }
    }
    char *config = config_json(&m->config), *st = state ? state_json(state) : NULL;
    const char *meta[6] = {"format", FORMAT_NAME, "scpt.config", config, "scpt.state", st};
    int rc = st_write(path, tensors, n, meta, st ? 3 : 2);
    free(config);
    free(st);
    return rc;
}

static int open_checkpoint(SafeTensors *st, const char *path) {
    if (st_open(st, path) != 0) return -1;
    const char *format = st_meta(st, "format");
    if (!format || strcmp(format, FORMAT_NAME) != 0) {
        scpt_set_error("%s: not an scpt checkpoint (format '%s', expected '%s')", path, format ? format : "none",
                       FORMAT_NAME);
        st_close(st);
        return -1;
    }
    return 0;
}

int checkpoint_read_config(const char *path, ModelConfig *cfg) {
    SafeTensors st;
    if (open_checkpoint(&st, path) != 0) return -1;
    int rc = parse_config(st_meta(&st, "scpt.config"), cfg, path);
    st_close(&st);
    return rc;
}

// copies tensor <prefix><name> into dst, checking dtype and shape against the model's
static int load_tensor(const SafeTensors *st, const char *prefix, const ParamTensor *t, real *dst) {
    char name[64];
    snprintf(name, sizeof name, "%s%s", prefix, t->name);
    const StTensor *s = st_find(st, name);
    if (!s) {
        scpt_set_error("%s: missing tensor '%s'", st->path, name);
        return -1;
    }
    int same = s->dtype == ST_F32 && s->ndim == t->ndim;
    for (int d = 0; same && d < t->ndim; d++) same = s->shape[d] == t->shape[d];
    if (!same) {
        scpt_set_error("%s: tensor '%s' is %s with %d dims, the model needs F32 [%lld, %lld, %lld]", st->path,
                       name, st_dtype_name(s->dtype), s->ndim, (long long)t->shape[0],
                       (long long)(t->ndim > 1 ? t->shape[1] : 0), (long long)(t->ndim > 2 ? t->shape[2] : 0));
        return -1;
    }
    memcpy(dst, s->data, s->nbytes);
    // a corrupt value (one flipped exponent bit is enough) would train to NaN weights
    return tensor_check_values(dst, t->size, strcmp(prefix, "adam_v.") == 0, st->path, name);
}

int tensor_check_values(const real *x, size_t n, int nonnegative, const char *path, const char *name) {
    size_t bad = 0, first = n;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]) || (nonnegative && x[i] < 0)) {
            if (bad++ == 0) first = i;
        }
    if (bad == 0) return 0;
    scpt_set_error("%s: tensor '%s' holds %zu bad value%s (the first, element %zu, is %g; expected %s)", path,
                   name, bad, bad == 1 ? "" : "s", first, (double)x[first],
                   nonnegative ? "finite and >= 0" : "finite");
    return -1;
}

int checkpoint_load(const char *path, Model *m, OptimizerState *opt, TrainState *state) {
    if (opt && (opt->begin != 0 || opt->end != m->num_params)) {
        scpt_set_error("%s: checkpoint_load needs a whole-model optimizer state", path);
        return -1;
    }
    SafeTensors st;
    if (open_checkpoint(&st, path) != 0) return -1;
    ModelConfig cfg;
    int rc = -1;
    if (parse_config(st_meta(&st, "scpt.config"), &cfg, path) != 0) goto done;
    if (memcmp(&cfg, &m->config, sizeof cfg) != 0) {
        scpt_set_error("%s: the checkpoint's model config (%d layers, %d channels, vocab %d) differs from the "
                       "model being loaded (%d layers, %d channels, vocab %d)",
                       path, cfg.n_layer, cfg.n_embd, cfg.vocab_size, m->config.n_layer, m->config.n_embd,
                       m->config.vocab_size);
        goto done;
    }
    if (state && parse_state(st_meta(&st, "scpt.state"), state, path) != 0) goto done;
    for (int i = 0; i < NUM_PARAM_TENSORS; i++) {
        const ParamTensor *t = &m->tensors[i];
        if (t->size == 0) continue;
        if (load_tensor(&st, "model.", t, m->params + t->offset) != 0) goto done;
        if (opt && (load_tensor(&st, "adam_m.", t, opt->m + t->offset) != 0 ||
                    load_tensor(&st, "adam_v.", t, opt->v + t->offset) != 0))
            goto done;
    }
    rc = 0;
done:
    st_close(&st);
    return rc;
}
