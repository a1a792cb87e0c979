// Hugging Face folders out: config.json as transformers writes it for GPT2LMHeadModel
// or LlamaForCausalLM, model.safetensors with the Hugging Face names and layouts,
// and the tokenizer.json copied.
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include "chat_template.h"
#include "convert.h"
#include "convert_impl.h"
#include "safetensors.h"
#include "util.h"

static const char *dtype_torch_name(StDtype d) {
    return d == ST_F16 ? "float16" : d == ST_BF16 ? "bfloat16" : "float32";
}

static char *config_json(const ModelConfig *c, StDtype dtype) {
    cJSON *o = cJSON_CreateObject();
    int gpt2 = c->arch == ARCH_GPT2;
    cJSON *archs = cJSON_AddArrayToObject(o, "architectures");
    cJSON_AddItemToArray(archs, cJSON_CreateString(gpt2 ? "GPT2LMHeadModel" : "LlamaForCausalLM"));
    cJSON_AddStringToObject(o, "model_type", gpt2 ? "gpt2" : "llama");
    cJSON_AddNumberToObject(o, "vocab_size", c->vocab_size);
    cJSON_AddStringToObject(o, "torch_dtype", dtype_torch_name(dtype));
    if (gpt2) {
        cJSON_AddNumberToObject(o, "n_positions", c->max_seq_len);
        cJSON_AddNumberToObject(o, "n_ctx", c->max_seq_len);
        cJSON_AddNumberToObject(o, "n_embd", c->n_embd);
        cJSON_AddNumberToObject(o, "n_layer", c->n_layer);
        cJSON_AddNumberToObject(o, "n_head", c->n_head);
        cJSON_AddNumberToObject(o, "n_inner", c->ffn_hidden);
        cJSON_AddNumberToObject(o, "layer_norm_epsilon", c->norm_eps);
        cJSON_AddStringToObject(o, "activation_function", "gelu_new");
        cJSON_AddBoolToObject(o, "tie_word_embeddings", 1);
    } else {
        cJSON_AddNumberToObject(o, "max_position_embeddings", c->max_seq_len);
        cJSON_AddNumberToObject(o, "hidden_size", c->n_embd);
        cJSON_AddNumberToObject(o, "intermediate_size", c->ffn_hidden);
        cJSON_AddNumberToObject(o, "num_hidden_layers", c->n_layer);
        cJSON_AddNumberToObject(o, "num_attention_heads", c->n_head);
        cJSON_AddNumberToObject(o, "num_key_value_heads", c->n_kv_head);
        cJSON_AddNumberToObject(o, "head_dim", head_size(c));
        cJSON_AddNumberToObject(o, "rms_norm_eps", c->norm_eps);
        cJSON_AddNumberToObject(o, "rope_theta", c->rope_theta);
        cJSON_AddStringToObject(o, "hidden_act", "silu");
        cJSON_AddBoolToObject(o, "tie_word_embeddings", c->tied_embeddings);
        cJSON_AddBoolToObject(o, "attention_bias", 0);
        cJSON_AddBoolToObject(o, "mlp_bias", 0);
        if (c->rope_scale > 1) {
            cJSON *rs = cJSON_AddObjectToObject(o, "rope_scaling");
            cJSON_AddStringToObject(rs, "rope_type", "llama3");
            cJSON_AddNumberToObject(rs, "factor", c->rope_scale);
            cJSON_AddNumberToObject(rs, "low_freq_factor", c->rope_low_freq_factor);
            cJSON_AddNumberToObject(rs, "high_freq_factor", c->rope_high_freq_factor);
            cJSON_AddNumberToObject(rs, "original_max_position_embeddings", c->rope_original_context);
        }
    }
    char *s = cJSON_Print(o);
    cJSON_Delete(o);
    return s;
}

static int write_text(const char *path, const char *text, size_t n) {
    AtomicFile af;
    if (atomic_open(&af, path) != 0) return -1;
    if (write_all(af.f, text, n, path) != 0) {
        atomic_abort(&af);
        return -1;
    }
    return atomic_commit(&af);
}

// the id of an added (special) token of a tokenizer.json, -1 when absent
static int added_token_id(const cJSON *tokenizer, const char *text) {
    const cJSON *item;
    cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(tokenizer, "added_tokens")) {
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(item, "content");
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(item, "id");
        if (cJSON_IsString(content) && cJSON_IsNumber(id) && strcmp(content->valuestring, text) == 0) return id->valueint;
    }
    return -1;
}
static int has_added_token(void *tokenizer, const char *text) { return added_token_id(tokenizer, text) >= 0; }

// tokenizer_config.json with the chat template `tokenize --chat` trains with, and
// generation_config.json stopping at both the end of a reply and the end of a
// document, so transformers and vLLM render and stop as training did. Nothing for a
// vocabulary without chat tokens.
static int write_chat_config(const char *dir, const char *tokenizer_text, const ModelConfig *c) {
    cJSON *tok = cJSON_Parse(tokenizer_text);
    const ChatTemplate *ct = tok ? chat_template_select(has_added_token, tok, "tokenizer.json") : NULL;
    if (!ct) {
        cJSON_Delete(tok);
        return 0;
    }
    char *jinja = chat_template_jinja(ct);
    cJSON *config = cJSON_CreateObject(), *gen = cJSON_CreateObject();
    cJSON_AddStringToObject(config, "tokenizer_class", "PreTrainedTokenizerFast");
    cJSON_AddStringToObject(config, "bos_token", ct->begin);
    cJSON_AddStringToObject(config, "eos_token", ct->end);
    cJSON_AddNumberToObject(config, "model_max_length", c->max_seq_len);
    cJSON_AddBoolToObject(config, "clean_up_tokenization_spaces", 0);
    cJSON_AddStringToObject(config, "chat_template", jinja);
    int doc_end = added_token_id(tok, "<|end_of_text|>"), reply_end = added_token_id(tok, ct->end);
    cJSON_AddNumberToObject(gen, "bos_token_id", added_token_id(tok, ct->begin));
    cJSON *eos = cJSON_AddArrayToObject(gen, "eos_token_id");
    cJSON_AddItemToArray(eos, cJSON_CreateNumber(reply_end));
    if (doc_end >= 0 && doc_end != reply_end) cJSON_AddItemToArray(eos, cJSON_CreateNumber(doc_end));
    char path[4096], *text = cJSON_Print(config), *gen_text = cJSON_Print(gen);
    snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
    int rc = write_text(path, text, strlen(text));
    snprintf(path, sizeof path, "%s/generation_config.json", dir);
    if (rc == 0) rc = write_text(path, gen_text, strlen(gen_text));
    free(text);
    free(gen_text);
    free(jinja);
    cJSON_Delete(config);
    cJSON_Delete(gen);
    cJSON_Delete(tok);
    return rc;
}

int hf_export(const Model *m, const char *dir, int st_dtype, const char *tokenizer_json) {
    StDtype dtype = (StDtype)st_dtype;
    if (dtype != ST_F32 && dtype != ST_F16 && dtype != ST_BF16) {
        scpt_set_error("%s: safetensors export supports F32, F16 and BF16", dir);
        return -1;
    }
    if (make_dirs(dir) != 0) return -1;
    char path[4096];
    char *config = config_json(&m->config, dtype);
    snprintf(path, sizeof path, "%s/config.json", dir);
    int rc = write_text(path, config, strlen(config));
    free(config);
    if (rc == 0 && tokenizer_json) {
        size_t n;
        char *text = read_whole_file(tokenizer_json, &n);
        snprintf(path, sizeof path, "%s/tokenizer.json", dir);
        rc = text ? write_text(path, text, n) : -1;
        if (rc == 0) rc = write_chat_config(dir, text, &m->config);
        free(text);
    }
    int n;
    TensorMap *map = tensor_map(m, NAMES_HF, &n);
    StWriteTensor *ts = xcalloc(n, sizeof *ts);
    for (int i = 0; rc == 0 && i < n; i++) {
        const TensorMap *t = &map[i];
        size_t count = (size_t)t->rows * t->cols;
        float *f = xmalloc(count * sizeof *f);
        map_export(t, m->params, f);
        ts[i] = (StWriteTensor){.name = t->name, .dtype = dtype, .ndim = t->ndim, .data = f};
        map_shape(t, ts[i].shape);
        if (dtype != ST_F32) ts[i].data = to_half(f, count, dtype == ST_BF16);
    }
    const char *meta[] = {"format", "pt"};   // transformers refuses files without it
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    if (rc == 0) rc = st_write(path, ts, n, meta, 1);
    for (int i = 0; i < n; i++) free((void *)ts[i].data);
    free(ts);
    free(map);
    return rc;
}
