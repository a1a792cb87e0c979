// Models as GGUF files: the writer llama.cpp loads (architectures "llama" and
// "gpt2", tokenizer metadata from a tokenizer.json) and the reader of what it writes.
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "chat_template.h"
#include "convert.h"
#include "convert_impl.h"
#include "util.h"

static const char *arch_name(const ModelConfig *c) { return c->arch == ARCH_GPT2 ? "gpt2" : "llama"; }

static void key(char *buf, size_t n, const ModelConfig *c, const char *suffix) {
    snprintf(buf, n, "%s.%s", arch_name(c), suffix);
}

// ---- tokenizer metadata -----------------------------------------------------------

// llama.cpp's token types
enum { TOKEN_NORMAL = 1, TOKEN_CONTROL = 3, TOKEN_USER_DEFINED = 4, TOKEN_UNUSED = 5 };

// tokenizer.json -> tokenizer.ggml.* for llama.cpp's byte-level BPE ("gpt2" model):
// tokens by id (ids the file lacks become unused "[PAD<id>]"), their types, the
// merges as "left right" strings, the pre-tokenizer and the bos/eos ids.
static int set_tokenizer_json(Gguf *g, const char *path, int vocab_size) {
    char *text = read_whole_file(path, NULL);
    if (!text) return -1;
    cJSON *o = cJSON_Parse(text);
    free(text);
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(o, "model");
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
    const cJSON *merges = cJSON_GetObjectItemCaseSensitive(model, "merges");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(model, "type");
    const cJSON *added = cJSON_GetObjectItemCaseSensitive(o, "added_tokens");
    int rc = -1, n_merges = cJSON_GetArraySize(merges);
    char **tokens = xcalloc(vocab_size, sizeof *tokens), **merge_strs = xcalloc(n_merges + 1, sizeof *merge_strs);
    int32_t *types = xcalloc(vocab_size, sizeof *types);
    if (!cJSON_IsString(type) || strcmp(type->valuestring, "BPE") != 0 || !cJSON_IsObject(vocab) ||
        !cJSON_IsArray(merges)) {
        scpt_set_error("%s: not a byte-level BPE tokenizer.json (model.type BPE, vocab, merges)", path);
        goto done;
    }
    const cJSON *item;
    cJSON_ArrayForEach(item, vocab) {
        int id = cJSON_IsNumber(item) ? item->valueint : -1;
        if (id < 0 || id >= vocab_size) {
            scpt_set_error("%s: token '%s' has id %d, outside the model's vocabulary of %d", path, item->string, id,
                           vocab_size);
            goto done;
        }
        free(tokens[id]);
        tokens[id] = xstrdup(item->string);
        types[id] = TOKEN_NORMAL;
    }
    int bos = -1, eos = -1, llama3 = 0;
    cJSON_ArrayForEach(item, added) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(item, "id");
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(item, "content");
        if (!cJSON_IsNumber(id) || !cJSON_IsString(content) || id->valueint < 0 || id->valueint >= vocab_size) {
            scpt_set_error("%s: an added token lacks content or has an id outside the model's vocabulary of %d", path,
                           vocab_size);
            goto done;
        }
        int i = id->valueint;
        free(tokens[i]);
        tokens[i] = xstrdup(content->valuestring);
        types[i] = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(item, "special")) ? TOKEN_CONTROL : TOKEN_USER_DEFINED;
        if (strcmp(tokens[i], "<|begin_of_text|>") == 0) bos = i, llama3 = 1;
        if (strcmp(tokens[i], "<|end_of_text|>") == 0 || strcmp(tokens[i], "<|endoftext|>") == 0) eos = i;
    }
    for (int i = 0; i < vocab_size; i++) {
        if (tokens[i]) continue;
        char pad[32];
        snprintf(pad, sizeof pad, "[PAD%d]", i);
        tokens[i] = xstrdup(pad);
        types[i] = TOKEN_UNUSED;
    }
    int k = 0;
    cJSON_ArrayForEach(item, merges) {   // "a b", or ["a", "b"] in newer files
        const cJSON *a = cJSON_GetArrayItem(item, 0), *b = cJSON_GetArrayItem(item, 1);
        if (cJSON_IsString(item)) {
            merge_strs[k++] = xstrdup(item->valuestring);
        } else if (cJSON_IsString(a) && cJSON_IsString(b)) {
            merge_strs[k] = xmalloc(strlen(a->valuestring) + strlen(b->valuestring) + 2);
            sprintf(merge_strs[k++], "%s %s", a->valuestring, b->valuestring);
        } else {
            scpt_set_error("%s: merge %d is neither \"a b\" nor [a, b]", path, k);
            goto done;
        }
    }
    if (bos < 0) bos = eos;
    gguf_file_set_str(g, "tokenizer.ggml.model", "gpt2");
    gguf_file_set_str(g, "tokenizer.ggml.pre", llama3 ? "llama-bpe" : "gpt-2");
    gguf_file_set_array(g, "tokenizer.ggml.tokens", GGUF_STRING, vocab_size, tokens);
    gguf_file_set_array(g, "tokenizer.ggml.token_type", GGUF_INT32, vocab_size, types);
    gguf_file_set_array(g, "tokenizer.ggml.merges", GGUF_STRING, k, merge_strs);
    if (bos >= 0) gguf_file_set_u32(g, "tokenizer.ggml.bos_token_id", bos);
    if (eos >= 0) gguf_file_set_u32(g, "tokenizer.ggml.eos_token_id", eos);
    uint8_t add_bos = llama3;
    gguf_file_set_scalar(g, "tokenizer.ggml.add_bos_token", GGUF_BOOL, &add_bos);
    rc = 0;
done:
    for (int i = 0; i < vocab_size; i++) free(tokens[i]);
    for (int i = 0; i < n_merges; i++) free(merge_strs[i]);
    free(tokens);
    free(merge_strs);
    free(types);
    cJSON_Delete(o);
    return rc;
}

// the tokenizer.* keys of another GGUF file (e.g. llama.cpp's models/ggml-vocab-*.gguf)
static int copy_tokenizer_gguf(Gguf *g, const char *path, int vocab_size) {
    Gguf src;
    if (gguf_file_open(&src, path) != 0) return -1;
    const GgufKV *tokens = gguf_file_find(&src, "tokenizer.ggml.tokens");
    int rc = 0;
    if (!tokens || tokens->type != GGUF_ARRAY || tokens->n != (uint64_t)vocab_size) {
        scpt_set_error("%s: tokenizer.ggml.tokens has %llu tokens; the model has %d", path,
                       tokens ? (unsigned long long)tokens->n : 0ULL, vocab_size);
        rc = -1;
    }
    for (int i = 0; rc == 0 && i < src.n_kv; i++)
        if (strncmp(src.kv[i].key, "tokenizer.", 10) == 0) gguf_file_copy_kv(g, &src.kv[i]);
    gguf_file_free(&src);
    return rc;
}

// the chat template `tokenize --chat` trains with, so llama-server applies the same one
static int gguf_has_token(void *kv, const char *text) {
    const GgufKV *tokens = kv;
    for (uint64_t i = 0; i < tokens->n; i++)
        if (strcmp(tokens->strs[i], text) == 0) return 1;
    return 0;
}

static void set_chat_template(Gguf *g) {
    const GgufKV *tokens = gguf_file_find(g, "tokenizer.ggml.tokens");
    const ChatTemplate *ct = tokens && tokens->type == GGUF_ARRAY && tokens->elem_type == GGUF_STRING
                                 ? chat_template_select(gguf_has_token, (void *)tokens, "GGUF")
                                 : NULL;
    if (!ct) return;   // a vocabulary without chat tokens: no template
    char *jinja = chat_template_jinja(ct);
    gguf_file_set_str(g, "tokenizer.chat_template", jinja);
    free(jinja);
}

// ---- export -----------------------------------------------------------------------

// Llama 3.1's RoPE rescaling as llama.cpp takes it: a divisor of each frequency
static float *rope_factors(const ModelConfig *c) {
    int HS = head_size(c), half = HS / 2;
    float *f = xmalloc(half * sizeof *f);
    double low_wavelen = c->rope_original_context / c->rope_low_freq_factor;
    double high_wavelen = c->rope_original_context / c->rope_high_freq_factor;
    for (int i = 0; i < half; i++) {
        double wavelen = 2 * M_PI / pow(c->rope_theta, -2.0 * i / HS);
        if (wavelen < high_wavelen) f[i] = 1;
        else if (wavelen > low_wavelen) f[i] = c->rope_scale;
        else {
            double smooth = (c->rope_original_context / wavelen - c->rope_low_freq_factor) /
                            (c->rope_high_freq_factor - c->rope_low_freq_factor);
            f[i] = (float)(1 / ((1 - smooth) / c->rope_scale + smooth));
        }
    }
    return f;
}

static void set_model_keys(Gguf *g, const ModelConfig *c, GgmlType type) {
    char k[128];
    gguf_file_set_str(g, "general.architecture", arch_name(c));
    gguf_file_set_str(g, "general.name", "scpt");
    gguf_file_set_u32(g, "general.file_type", type == GGML_F32 ? 0 : type == GGML_F16 ? 1 : 32);
    gguf_file_set_u32(g, "general.alignment", GGUF_FILE_ALIGNMENT);
    key(k, sizeof k, c, "context_length"), gguf_file_set_u32(g, k, c->max_seq_len);
    key(k, sizeof k, c, "embedding_length"), gguf_file_set_u32(g, k, c->n_embd);
    key(k, sizeof k, c, "block_count"), gguf_file_set_u32(g, k, c->n_layer);
    key(k, sizeof k, c, "feed_forward_length"), gguf_file_set_u32(g, k, c->ffn_hidden);
    key(k, sizeof k, c, "attention.head_count"), gguf_file_set_u32(g, k, c->n_head);
    key(k, sizeof k, c, "attention.head_count_kv"), gguf_file_set_u32(g, k, c->n_kv_head);
    key(k, sizeof k, c, "vocab_size"), gguf_file_set_u32(g, k, c->vocab_size);
    gguf_file_set_u32(g, "scpt.padded_vocab_size", c->padded_vocab_size);
    if (c->arch == ARCH_GPT2) {
        key(k, sizeof k, c, "attention.layer_norm_epsilon"), gguf_file_set_f32(g, k, c->norm_eps);
        return;
    }
    key(k, sizeof k, c, "attention.layer_norm_rms_epsilon"), gguf_file_set_f32(g, k, c->norm_eps);
    key(k, sizeof k, c, "rope.freq_base"), gguf_file_set_f32(g, k, c->rope_theta);
    key(k, sizeof k, c, "rope.dimension_count"), gguf_file_set_u32(g, k, head_size(c));
    if (c->rope_scale > 1) {   // llama.cpp reads the rope_freqs tensor; these keys are for our reader
        gguf_file_set_f32(g, "scpt.rope.scale", c->rope_scale);
        gguf_file_set_f32(g, "scpt.rope.low_freq_factor", c->rope_low_freq_factor);
        gguf_file_set_f32(g, "scpt.rope.high_freq_factor", c->rope_high_freq_factor);
        gguf_file_set_u32(g, "scpt.rope.original_context", c->rope_original_context);
    }
}

// ggml's dimensions, innermost first: (in, out) for our (out, in) matrices; unused = 1
static void gguf_ne(const TensorMap *t, uint64_t ne[2]) {
    ne[0] = (uint64_t)(t->ndim == 1 ? t->rows : t->cols);
    ne[1] = (uint64_t)(t->ndim == 1 ? 1 : t->rows);
}

int gguf_export(const Model *m, const char *path, GgmlType type, const char *tokenizer) {
    const ModelConfig *c = &m->config;
    if (type != GGML_F32 && type != GGML_F16 && type != GGML_BF16) {
        scpt_set_error("%s: GGUF export supports f32, f16 and bf16", path);
        return -1;
    }
    Gguf g;
    gguf_file_init(&g);
    set_model_keys(&g, c, type);
    int rc = 0;
    if (tokenizer)
        rc = ends_with(tokenizer, ".gguf") ? copy_tokenizer_gguf(&g, tokenizer, c->vocab_size)
                                           : set_tokenizer_json(&g, tokenizer, c->vocab_size);
    if (rc == 0 && tokenizer) set_chat_template(&g);
    int n;
    TensorMap *map = tensor_map(m, NAMES_GGUF, &n);
    void **bufs = xcalloc(n + 1, sizeof *bufs);
    for (int i = 0; rc == 0 && i < n; i++) {
        const TensorMap *t = &map[i];
        size_t count = (size_t)t->rows * t->cols;
        float *f = xmalloc(count * sizeof *f);
        map_export(t, m->params, f);
        GgmlType tt = t->ndim == 1 ? GGML_F32 : type;   // norms and biases stay f32, as llama.cpp's converter keeps them
        bufs[i] = tt == GGML_F32 ? (void *)f : (void *)to_half(f, count, tt == GGML_BF16);
        uint64_t ne[2];
        gguf_ne(t, ne);
        rc = gguf_file_add_tensor(&g, t->name, tt, t->ndim, ne, bufs[i]);
    }
    float *factors = NULL;
    if (rc == 0 && c->arch == ARCH_LLAMA && c->rope_scale > 1) {
        factors = rope_factors(c);
        uint64_t ne[1] = {(uint64_t)head_size(c) / 2};
        rc = gguf_file_add_tensor(&g, "rope_freqs.weight", GGML_F32, 1, ne, factors);
    }
    if (rc == 0) rc = gguf_file_write(&g, path);
    for (int i = 0; i < n; i++) free(bufs[i]);
    free(bufs);
    free(factors);
    free(map);
    gguf_file_free(&g);
    return rc;
}

// ---- import -----------------------------------------------------------------------

static int get_u32(const Gguf *g, const char *k, int *out, int required, const char *path) {
    const GgufKV *kv = gguf_file_find(g, k);
    if (kv && kv->type != GGUF_ARRAY && kv->type != GGUF_STRING && kv->type != GGUF_FLOAT32 &&
        kv->type != GGUF_FLOAT64) {
        *out = (int)kv->v.u;
        return 0;
    }
    if (!kv && !required) return 0;
    scpt_set_error("%s: key %s is %s", path, k, kv ? "not an integer" : "missing");
    return -1;
}

static int get_f32(const Gguf *g, const char *k, float *out, int required, const char *path) {
    const GgufKV *kv = gguf_file_find(g, k);
    if (kv && (kv->type == GGUF_FLOAT32 || kv->type == GGUF_FLOAT64)) {
        *out = (float)kv->v.f;
        return 0;
    }
    if (!kv && !required) return 0;
    scpt_set_error("%s: key %s is %s", path, k, kv ? "not a float" : "missing");
    return -1;
}

static int read_config(const Gguf *g, ModelConfig *c, const char *path) {
    memset(c, 0, sizeof *c);
    const GgufKV *arch = gguf_file_find(g, "general.architecture");
    if (!arch || arch->type != GGUF_STRING) {
        scpt_set_error("%s: no general.architecture string", path);
        return -1;
    }
    if (strcmp(arch->str, "gpt2") == 0) c->arch = ARCH_GPT2;
    else if (strcmp(arch->str, "llama") == 0) c->arch = ARCH_LLAMA;
    else {
        scpt_set_error("%s: architecture '%s' is not supported (gpt2, llama)", path, arch->str);
        return -1;
    }
    const GgufTensor *emb = gguf_file_find_tensor(g, "token_embd.weight");
    if (!emb || emb->n_dims != 2) {
        scpt_set_error("%s: tensor token_embd.weight is %s", path, emb ? "not 2-dimensional" : "missing");
        return -1;
    }
    c->vocab_size = (int)emb->ne[1];
    c->padded_vocab_size = round_up_vocab(c->vocab_size);
    c->tied_embeddings = gguf_file_find_tensor(g, "output.weight") == NULL;
    c->rope_theta = c->arch == ARCH_LLAMA ? 10000 : 0;   // llama.cpp's default when the key is absent
    char k[128];
    int rc = 0;
#define U32(suffix, field, req) (key(k, sizeof k, c, suffix), rc = rc ? rc : get_u32(g, k, &c->field, req, path))
#define F32(suffix, field, req) (key(k, sizeof k, c, suffix), rc = rc ? rc : get_f32(g, k, &c->field, req, path))
    U32("context_length", max_seq_len, 1);
    U32("embedding_length", n_embd, 1);
    U32("block_count", n_layer, 1);
    U32("feed_forward_length", ffn_hidden, 1);
    U32("attention.head_count", n_head, 1);
    c->n_kv_head = c->n_head;
    U32("attention.head_count_kv", n_kv_head, 0);
    if (c->arch == ARCH_GPT2) {
        F32("attention.layer_norm_epsilon", norm_eps, 1);
    } else {
        F32("attention.layer_norm_rms_epsilon", norm_eps, 1);
        F32("rope.freq_base", rope_theta, 0);
    }
#undef U32
#undef F32
    if (rc == 0) rc = get_u32(g, "scpt.padded_vocab_size", &c->padded_vocab_size, 0, path);
    if (rc == 0 && gguf_file_find_tensor(g, "rope_freqs.weight")) {
        if (get_f32(g, "scpt.rope.scale", &c->rope_scale, 1, path) ||
            get_f32(g, "scpt.rope.low_freq_factor", &c->rope_low_freq_factor, 1, path) ||
            get_f32(g, "scpt.rope.high_freq_factor", &c->rope_high_freq_factor, 1, path) ||
            get_u32(g, "scpt.rope.original_context", &c->rope_original_context, 1, path))
            return -1;
    }
    return rc == 0 ? config_check_in(c, path) : rc;
}

int gguf_read_config(const char *path, ModelConfig *cfg) {
    Gguf g;
    if (gguf_file_open(&g, path) != 0) return -1;
    int rc = read_config(&g, cfg, path);
    gguf_file_free(&g);
    return rc;
}

int gguf_load(const char *path, Model *m) {
    Gguf g;
    if (gguf_file_open(&g, path) != 0) return -1;
    int n, rc = 0;
    TensorMap *map = tensor_map(m, NAMES_GGUF, &n);
    memset(m->params, 0, m->num_params * sizeof(real));
    float *buf = NULL;
    uint64_t ne[2];
    for (int i = 0; rc == 0 && i < n; i++) {
        const TensorMap *t = &map[i];
        const GgufTensor *src = gguf_file_find_tensor(&g, t->name);
        if (!src) {
            scpt_set_error("%s: tensor %s is missing", path, t->name);
            rc = -1;
        } else if (gguf_ne(t, ne), src->n_dims != (uint32_t)t->ndim || src->ne[0] != ne[0] || src->ne[1] != ne[1]) {
            scpt_set_error("%s: tensor %s has ne [%llu, %llu], expected [%llu, %llu]", path, t->name,
                           (unsigned long long)src->ne[0], (unsigned long long)src->ne[1], (unsigned long long)ne[0],
                           (unsigned long long)ne[1]);
            rc = -1;
        } else if (src->type != GGML_F32 && src->type != GGML_F16 && src->type != GGML_BF16) {
            scpt_set_error("%s: tensor %s has ggml type %d; only f32, f16 and bf16 are read", path, t->name,
                           (int)src->type);
            rc = -1;
        } else {
            size_t count = (size_t)t->rows * t->cols;
            free(buf);
            buf = xmalloc(count * sizeof *buf);
            const uint8_t *p = src->data;
            for (size_t j = 0; j < count; j++) {
                uint16_t h;
                if (src->type == GGML_F32) memcpy(&buf[j], p + 4 * j, 4);
                else memcpy(&h, p + 2 * j, 2), buf[j] = src->type == GGML_F16 ? fp16_to_fp32(h) : bf16_to_fp32(h);
            }
            map_import(t, buf, m->params);
        }
    }
    free(buf);
    free(map);
    gguf_file_free(&g);
    return rc;
}
