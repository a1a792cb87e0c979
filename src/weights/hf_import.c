// Importers: Hugging Face folders and llm.c GPT-2 checkpoints, and the dispatch
// over every source a model can come from.
#include "convert.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "checkpoint.h"
#include "convert_impl.h"
#include "safetensors.h"
#include "util.h"

ModelSource model_source(const char *path) {
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) return SRC_HF;
    if (ends_with(path, ".bin")) return SRC_LLMC;
    if (ends_with(path, ".gguf")) return SRC_GGUF;
    return SRC_CHECKPOINT;
}

// ---- Hugging Face config.json -------------------------------------------------

// a number field: required when dflt is NaN
static int json_number(const cJSON *o, const char *key, double dflt, double *out, const char *path) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (cJSON_IsNumber(v)) {
        *out = v->valuedouble;
        return 0;
    }
    if ((v == NULL || cJSON_IsNull(v)) && dflt == dflt) {
        *out = dflt;
        return 0;
    }
    scpt_set_error("%s: '%s' is %s; expected a number", path, key, v ? "not a number" : "missing");
    return -1;
}

// a size field: a whole number, range-checked before it is converted to int (a double
// outside int's range does not convert); the bound leaves room for 4 * n_embd
static int json_size(const cJSON *o, const char *key, double dflt, double *out, const char *path) {
    if (json_number(o, key, dflt, out, path) != 0) return -1;
    if (*out >= 0 && *out <= (1 << 29) && *out == (double)(int)*out) return 0;
    scpt_set_error("%s: '%s' is %g; expected a whole number in [0, %d]", path, key, *out, 1 << 29);
    return -1;
}

static int parse_hf_config(const cJSON *o, ModelConfig *c, const char *path) {
    const double REQUIRED = __builtin_nan("");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(o, "model_type");
    memset(c, 0, sizeof *c);
    if (!cJSON_IsString(type)) {
        scpt_set_error("%s: no model_type string", path);
        return -1;
    }
    double v[12] = {0};
    if (strcmp(type->valuestring, "gpt2") == 0) {
        c->arch = ARCH_GPT2;
        if (json_size(o, "vocab_size", REQUIRED, &v[0], path) || json_size(o, "n_positions", REQUIRED, &v[1], path) ||
            json_size(o, "n_layer", REQUIRED, &v[2], path) || json_size(o, "n_head", REQUIRED, &v[3], path) ||
            json_size(o, "n_embd", REQUIRED, &v[4], path) || json_size(o, "n_inner", 0, &v[5], path) ||
            json_number(o, "layer_norm_epsilon", 1e-5, &v[6], path))
            return -1;
        c->n_kv_head = (int)v[3];
        c->ffn_hidden = v[5] > 0 ? (int)v[5] : 4 * (int)v[4];
        c->tied_embeddings = 1;
    } else if (strcmp(type->valuestring, "llama") == 0) {
        c->arch = ARCH_LLAMA;
        if (json_size(o, "vocab_size", REQUIRED, &v[0], path) ||
            json_size(o, "max_position_embeddings", REQUIRED, &v[1], path) ||
            json_size(o, "num_hidden_layers", REQUIRED, &v[2], path) ||
            json_size(o, "num_attention_heads", REQUIRED, &v[3], path) ||
            json_size(o, "hidden_size", REQUIRED, &v[4], path) ||
            json_size(o, "intermediate_size", REQUIRED, &v[5], path) ||
            json_number(o, "rms_norm_eps", 1e-6, &v[6], path) || json_number(o, "rope_theta", 10000, &v[7], path) ||
            json_size(o, "num_key_value_heads", v[3], &v[8], path) ||
            json_number(o, "head_dim", v[4] / (v[3] > 0 ? v[3] : 1), &v[9], path))
            return -1;
        c->n_kv_head = (int)v[8];
        c->ffn_hidden = (int)v[5];
        c->rope_theta = (float)v[7];
        const cJSON *tie = cJSON_GetObjectItemCaseSensitive(o, "tie_word_embeddings");
        c->tied_embeddings = cJSON_IsTrue(tie);
        if (v[3] > 0 && v[9] != v[4] / v[3]) {
            scpt_set_error("%s: head_dim %g differs from hidden_size / num_attention_heads", path, v[9]);
            return -1;
        }
        const cJSON *act = cJSON_GetObjectItemCaseSensitive(o, "hidden_act");
        if (cJSON_IsString(act) && strcmp(act->valuestring, "silu") != 0) {
            scpt_set_error("%s: hidden_act '%s' is not supported (silu)", path, act->valuestring);
            return -1;
        }
        const cJSON *rs = cJSON_GetObjectItemCaseSensitive(o, "rope_scaling");
        if (cJSON_IsObject(rs)) {
            const cJSON *rt = cJSON_GetObjectItemCaseSensitive(rs, "rope_type");
            if (!rt) rt = cJSON_GetObjectItemCaseSensitive(rs, "type");
            if (!cJSON_IsString(rt) || strcmp(rt->valuestring, "llama3") != 0) {
                scpt_set_error("%s: rope_scaling of a type other than llama3 is not supported", path);
                return -1;
            }
            double f, lo, hi, orig;
            if (json_number(rs, "factor", REQUIRED, &f, path) || json_number(rs, "low_freq_factor", REQUIRED, &lo, path) ||
                json_number(rs, "high_freq_factor", REQUIRED, &hi, path) ||
                json_size(rs, "original_max_position_embeddings", REQUIRED, &orig, path))
                return -1;
            c->rope_scale = (float)f;
            c->rope_low_freq_factor = (float)lo;
            c->rope_high_freq_factor = (float)hi;
            c->rope_original_context = (int)orig;
        }
    } else {
        scpt_set_error("%s: model_type '%s' is not supported (gpt2, llama)", path, type->valuestring);
        return -1;
    }
    c->vocab_size = (int)v[0];
    c->padded_vocab_size = round_up_vocab(c->vocab_size);
    c->max_seq_len = (int)v[1];
    c->n_layer = (int)v[2];
    c->n_head = (int)v[3];
    c->n_embd = (int)v[4];
    c->norm_eps = (float)v[6];
    return config_check_in(c, path);
}

static int hf_read_config(const char *dir, ModelConfig *cfg) {
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", dir);
    char *text = read_whole_file(path, NULL);
    if (!text) return -1;
    cJSON *o = cJSON_Parse(text);
    free(text);
    int rc = -1;
    if (!cJSON_IsObject(o)) scpt_set_error("%s: not a JSON object", path);
    else rc = parse_hf_config(o, cfg, path);
    cJSON_Delete(o);
    return rc;
}

// ---- Hugging Face weights -------------------------------------------------------

// The safetensors files of a folder: model.safetensors, or the shards that
// model.safetensors.index.json's weight_map names.
static int open_shards(const char *dir, SafeTensors **out, int *n_out) {
    char path[4096];
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    FILE *probe = fopen(path, "rb");
    *out = NULL;
    *n_out = 0;
    if (!probe) {
        SafeTensors *st = xcalloc(1, sizeof *st);
        snprintf(path, sizeof path, "%s/model.safetensors", dir);
        if (st_open(st, path) != 0) {
            free(st);
            return -1;
        }
        *out = st;
        *n_out = 1;
        return 0;
    }
    fclose(probe);
    char *text = read_whole_file(path, NULL);
    if (!text) return -1;
    cJSON *o = cJSON_Parse(text);
    free(text);
    const cJSON *map = cJSON_GetObjectItemCaseSensitive(o, "weight_map");
    if (!cJSON_IsObject(map)) {
        scpt_set_error("%s: no weight_map object", path);
        cJSON_Delete(o);
        return -1;
    }
    int cap = cJSON_GetArraySize(map), n = 0, rc = 0;
    SafeTensors *sts = xcalloc(cap ? cap : 1, sizeof *sts);
    const cJSON *item;
    cJSON_ArrayForEach(item, map) {
        if (!cJSON_IsString(item) || strchr(item->valuestring, '/')) {
            scpt_set_error("%s: weight_map entry '%s' is not a file name", path, item->string);
            rc = -1;
            break;
        }
        char file[4096];
        snprintf(file, sizeof file, "%s/%s", dir, item->valuestring);
        int seen = 0;
        for (int i = 0; i < n && !seen; i++) seen = strcmp(sts[i].path, file) == 0;
        if (seen) continue;
        if (st_open(&sts[n], file) != 0) {
            rc = -1;
            break;
        }
        n++;
    }
    cJSON_Delete(o);
    *out = sts;
    *n_out = n;
    if (rc == 0 && n == 0) {
        scpt_set_error("%s: weight_map is empty", path);
        rc = -1;
    }
    return rc;
}

// Finds `name` (or "transformer.<name>", as GPT2LMHeadModel saves it) in any shard.
static const StTensor *find_any(SafeTensors *sts, int n, const char *name, const SafeTensors **in) {
    char prefixed[128];
    snprintf(prefixed, sizeof prefixed, "transformer.%s", name);
    for (int i = 0; i < n; i++) {
        const StTensor *t = st_find(&sts[i], name);
        if (!t) t = st_find(&sts[i], prefixed);
        if (t) {
            *in = &sts[i];
            return t;
        }
    }
    return NULL;
}

static int hf_load(const char *dir, Model *m) {
    SafeTensors *sts;
    int n_st, n_map;
    if (open_shards(dir, &sts, &n_st) != 0) {
        for (int i = 0; i < n_st; i++) st_close(&sts[i]);
        free(sts);
        return -1;
    }
    TensorMap *map = tensor_map(m, NAMES_HF, &n_map);
    memset(m->params, 0, m->num_params * sizeof(real));
    float *buf = NULL;
    int rc = 0;
    for (int i = 0; i < n_map && rc == 0; i++) {
        const TensorMap *t = &map[i];
        const SafeTensors *st = NULL;
        const StTensor *src = find_any(sts, n_st, t->name, &st);
        int64_t shape[2];
        map_shape(t, shape);
        if (!src) {
            scpt_set_error("%s: tensor %s is missing", n_st == 1 ? sts[0].path : dir, t->name);
            rc = -1;
        } else if (src->ndim != t->ndim || src->shape[0] != shape[0] || (t->ndim == 2 && src->shape[1] != shape[1])) {
            scpt_set_error("%s: tensor %s has shape [%lld%s%lld], expected [%lld%s%lld] from config.json", st->path,
                           src->name, (long long)src->shape[0], src->ndim > 1 ? ", " : "",
                           src->ndim > 1 ? (long long)src->shape[1] : 0LL, (long long)shape[0],
                           t->ndim > 1 ? ", " : "", t->ndim > 1 ? (long long)shape[1] : 0LL);
            rc = -1;
        } else {
            free(buf);
            buf = xmalloc(src->numel * sizeof(float));
            rc = st_read_f32(st, src, buf);   // names file, tensor and dtype when it fails
            if (rc == 0) map_import(t, buf, m->params);
        }
    }
    free(buf);
    free(map);
    for (int i = 0; i < n_st; i++) st_close(&sts[i]);
    free(sts);
    return rc;
}

// ---- llm.c GPT-2 checkpoints ----------------------------------------------------
// A header of 256 int32 (magic 20240326, version 3 = fp32 or 5 = bf16, max_seq_len,
// vocab, layers, heads, channels, padded vocab), then the parameters in llm.c's
// order, which is our GPT-2 layout with the head tied.

enum { LLMC_MAGIC = 20240326, LLMC_HEADER_INTS = 256 };

static int llmc_header(FILE *f, const char *path, ModelConfig *c, int *version) {
    int32_t h[LLMC_HEADER_INTS];
    if (read_exact(f, h, sizeof h, path) != 0) return -1;
    if (h[0] != LLMC_MAGIC) {
        scpt_set_error("%s: not an llm.c model file (magic %d, expected %d)", path, h[0], LLMC_MAGIC);
        return -1;
    }
    if (h[1] != 3 && h[1] != 5) {
        scpt_set_error("%s: llm.c model version %d is not supported (3 = fp32, 5 = bf16)", path, h[1]);
        return -1;
    }
    *version = h[1];
    memset(c, 0, sizeof *c);
    *c = (ModelConfig){.arch = ARCH_GPT2, .max_seq_len = h[2], .vocab_size = h[3], .n_layer = h[4], .n_head = h[5],
                       .n_kv_head = h[5], .n_embd = h[6], .padded_vocab_size = h[7], .ffn_hidden = 4 * h[6],
                       .tied_embeddings = 1, .norm_eps = 1e-5f};
    return config_check_in(c, path);
}

static int llmc_read_config(const char *path, ModelConfig *c) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        scpt_set_error("%s: cannot open", path);
        return -1;
    }
    int version, rc = llmc_header(f, path, c, &version);
    fclose(f);
    return rc;
}

static int llmc_load(const char *path, Model *m) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        scpt_set_error("%s: cannot open", path);
        return -1;
    }
    ModelConfig c;
    int version, rc = llmc_header(f, path, &c, &version);
    if (rc == 0 && memcmp(&c, &m->config, sizeof c) != 0) {
        scpt_set_error("%s: the model's config differs from the file's", path);
        rc = -1;
    }
    size_t n = m->num_params, width = version == 3 ? 4 : 2;
    uint8_t *raw = rc == 0 ? xmalloc(n * width) : NULL;
    if (rc == 0) rc = read_exact(f, raw, n * width, path);
    if (rc == 0 && fgetc(f) != EOF) {
        scpt_set_error("%s: bytes after the %zu parameters", path, n);
        rc = -1;
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (version == 3) {
            float v;
            memcpy(&v, raw + 4 * i, 4);
            m->params[i] = v;
        } else {
            uint16_t v;
            memcpy(&v, raw + 2 * i, 2);
            m->params[i] = bf16_to_fp32(v);
        }
    }
    free(raw);
    fclose(f);
    return rc;
}

// ---- every source ---------------------------------------------------------------

int model_import_config(const char *path, ModelConfig *cfg) {
    switch (model_source(path)) {
    case SRC_HF: return hf_read_config(path, cfg);
    case SRC_LLMC: return llmc_read_config(path, cfg);
    case SRC_GGUF: return gguf_read_config(path, cfg);
    default: return checkpoint_read_config(path, cfg);
    }
}

int model_import_weights(const char *path, Model *m) {
    switch (model_source(path)) {
    case SRC_HF: return hf_load(path, m);
    case SRC_LLMC: return llmc_load(path, m);
    case SRC_GGUF: return gguf_load(path, m);
    default: return checkpoint_load(path, m, NULL, NULL);
    }
}

char *model_tokenizer_path(const char *path) {
    char buf[4096];
    if (model_source(path) == SRC_HF) {
        snprintf(buf, sizeof buf, "%s/tokenizer.json", path);
    } else {
        const char *slash = strrchr(path, '/');
        int dir_len = slash ? (int)(slash - path) : 1;
        snprintf(buf, sizeof buf, "%.*s/tokenizer.json", dir_len, slash ? path : ".");
    }
    struct stat sb;
    return stat(buf, &sb) == 0 && S_ISREG(sb.st_mode) ? xstrdup(buf) : NULL;
}
