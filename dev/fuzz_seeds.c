// Writes the fuzzing seeds: a tiny Llama (the harness's config.json) as
// model.safetensors, the same with one tensor aliasing another's bytes (an overlap
// and a gap), tiny GPT-2 and Llama GGUF files, and GGUF headers that stress the
// counts: one past the KV limit, and many keys with a duplicate among them.
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include "convert.h"
#include "convert_fixtures.h"
#include "gguf.h"
#include "../src/weights/convert_impl.h"
#include "safetensors.h"
#include "util.h"

static void write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n || fclose(f) != 0) die("%s: cannot write", path);
}

// model.safetensors with `alias` pointing at the bytes of `target` (same shape)
static void write_aliased(const char *in, const char *out, const char *alias, const char *target) {
    size_t size;
    char *buf = read_whole_file(in, &size);
    if (!buf) die("%s", scpt_error());
    uint64_t hlen;
    memcpy(&hlen, buf, 8);
    cJSON *h = cJSON_ParseWithLength(buf + 8, hlen);
    cJSON *from = cJSON_GetObjectItem(cJSON_GetObjectItem(h, target), "data_offsets");
    if (!from || !cJSON_GetObjectItem(h, alias)) die("%s: no tensor %s or %s", in, alias, target);
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(h, alias), "data_offsets", cJSON_Duplicate(from, 1));
    char *text = cJSON_PrintUnformatted(h);
    uint64_t n = strlen(text);
    size_t data = size - 8 - hlen, total = 8 + n + data;
    char *o = xmalloc(total);
    memcpy(o, &n, 8), memcpy(o + 8, text, n), memcpy(o + 8 + n, buf + 8 + hlen, data);
    write_file(out, o, total);
    free(o), free(text), free(buf);
    cJSON_Delete(h);
}

// a GGUF header of n_kv one-byte KVs (the last a repeat of the first), no tensors;
// `claimed` is the count the header states
static void write_gguf_keys(const char *path, uint64_t n_kv, uint64_t claimed) {
    size_t cap = 24 + n_kv * 32, at = 0;
    uint8_t *b = xcalloc(cap, 1);
    uint32_t version = 3, type = GGUF_UINT8;
    uint64_t n_t = 0;
    memcpy(b, "GGUF", 4), at = 4;
    memcpy(b + at, &version, 4), at += 4;
    memcpy(b + at, &n_t, 8), at += 8;
    memcpy(b + at, &claimed, 8), at += 8;
    for (uint64_t i = 0; i < n_kv; i++) {
        char key[32];
        uint64_t len = (uint64_t)snprintf(key, sizeof key, "k.%llu", (unsigned long long)(i + 1 < n_kv ? i : 0));
        memcpy(b + at, &len, 8), at += 8;
        memcpy(b + at, key, len), at += len;
        memcpy(b + at, &type, 4), at += 4;
        b[at++] = 1;
    }
    write_file(path, b, at);
    free(b);
}

int main(int argc, char **argv) {
    if (argc != 2) die("usage: fuzz_seeds CORPUS_DIR (test/fuzz)");
    char path[4096];
    ModelConfig c = {.arch = ARCH_LLAMA, .vocab_size = 8, .padded_vocab_size = 128, .max_seq_len = 16, .n_layer = 1,
                     .n_head = 2, .n_kv_head = 1, .n_embd = 8, .ffn_hidden = 8, .norm_eps = 1e-6f, .rope_theta = 10000};
    Model m;
    model_create(&m, &c);
    fixture_weights(&m, 1);
    snprintf(path, sizeof path, "%s/safetensors/seed", argv[1]);
    if (hf_export(&m, path, ST_BF16, NULL) != 0) die("%s", scpt_error());
    char aliased[4096];
    snprintf(path, sizeof path, "%s/safetensors/seed/model.safetensors", argv[1]);
    snprintf(aliased, sizeof aliased, "%s/safetensors/seed_overlap.safetensors", argv[1]);
    write_aliased(path, aliased, "model.layers.0.self_attn.o_proj.weight", "model.layers.0.self_attn.q_proj.weight");
    snprintf(path, sizeof path, "%s/gguf/seed_llama.gguf", argv[1]);
    if (gguf_export(&m, path, GGML_F16, NULL) != 0) die("%s", scpt_error());
    model_free(&m);
    c = (ModelConfig){.arch = ARCH_GPT2, .vocab_size = 8, .padded_vocab_size = 128, .max_seq_len = 8, .n_layer = 1,
                      .n_head = 2, .n_kv_head = 2, .n_embd = 8, .ffn_hidden = 32, .tied_embeddings = 1, .norm_eps = 1e-5f};
    model_create(&m, &c);
    fixture_weights(&m, 2);
    snprintf(path, sizeof path, "%s/gguf/seed_gpt2.gguf", argv[1]);
    if (gguf_export(&m, path, GGML_F32, NULL) != 0) die("%s", scpt_error());
    model_free(&m);
    snprintf(path, sizeof path, "%s/gguf/seed_kv_count.gguf", argv[1]);
    write_gguf_keys(path, 2, GGUF_MAX_KVS + 1);
    snprintf(path, sizeof path, "%s/gguf/seed_kv_repeat.gguf", argv[1]);
    write_gguf_keys(path, 1000, 1000);
    return 0;
}
