// Writes the fuzzing seeds: a tiny Llama (the harness's config.json) as
// model.safetensors, and tiny GPT-2 and Llama GGUF files.
#include "convert.h"
#include "convert_fixtures.h"
#include "safetensors.h"
#include "util.h"

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
    return 0;
}
