// Model presets and config validation.
#include <string.h>
#include "model.h"
#include "util.h"

static int round_up(int x, int to) { return (x + to - 1) / to * to; }

static ModelConfig gpt2(int vocab, int max_seq, int layers, int heads, int channels) {
    return (ModelConfig){
        .arch = ARCH_GPT2, .vocab_size = vocab, .padded_vocab_size = round_up(vocab, 128),
        .max_seq_len = max_seq, .n_layer = layers, .n_head = heads, .n_kv_head = heads,
        .n_embd = channels, .ffn_hidden = 4 * channels, .tied_embeddings = 1, .norm_eps = 1e-5f,
    };
}

static ModelConfig llama(int vocab, int max_seq, int layers, int heads, int kv_heads, int channels,
                         int hidden, int tied, float theta, float rope_scale) {
    return (ModelConfig){
        .arch = ARCH_LLAMA, .vocab_size = vocab, .padded_vocab_size = round_up(vocab, 128),
        .max_seq_len = max_seq, .n_layer = layers, .n_head = heads, .n_kv_head = kv_heads,
        .n_embd = channels, .ffn_hidden = hidden, .tied_embeddings = tied, .norm_eps = 1e-5f,
        .rope_theta = theta, .rope_scale = rope_scale, .rope_low_freq_factor = 1,
        .rope_high_freq_factor = 4, .rope_original_context = 8192,
    };
}

typedef struct {
    const char *name;
    ModelConfig config;
} Preset;

// shapes as published (GPT-2 paper / Hugging Face configs of the Llama 3 family)
static Preset presets(int i) {
    switch (i) {
    case 0: return (Preset){"gpt2-124m", gpt2(50257, 1024, 12, 12, 768)};
    case 1: return (Preset){"gpt2-350m", gpt2(50257, 1024, 24, 16, 1024)};
    case 2: return (Preset){"gpt2-774m", gpt2(50257, 1024, 36, 20, 1280)};
    case 3: return (Preset){"gpt2-1558m", gpt2(50257, 1024, 48, 25, 1600)};
    case 4: return (Preset){"llama3.2-1b", llama(128256, 131072, 16, 32, 8, 2048, 8192, 1, 500000, 32)};
    case 5: return (Preset){"llama3.2-3b", llama(128256, 131072, 28, 24, 8, 3072, 8192, 1, 500000, 32)};
    case 6: return (Preset){"llama3-8b", llama(128256, 8192, 32, 32, 8, 4096, 14336, 0, 500000, 0)};
    case 7: return (Preset){"llama3.1-8b", llama(128256, 131072, 32, 32, 8, 4096, 14336, 0, 500000, 8)};
    // the demo: GPT-2 vocabulary, a model small enough to learn on 2 cores in a minute
    case 8: return (Preset){"gpt2-demo", gpt2(50257, 256, 4, 4, 128)};
    // the Llama counterpart: Llama 3 vocabulary and attention (GQA 8 on 2, RoPE 500000), 4 small layers
    case 9: return (Preset){"llama3-demo", llama(128256, 1024, 4, 8, 2, 256, 768, 1, 500000, 0)};
    // tiny shapes for tests: vocabulary padding, GQA (4 query heads on 2 kv heads), untied head
    case 10: return (Preset){"tiny-gpt2", gpt2(100, 32, 2, 4, 32)};
    case 11: return (Preset){"tiny-llama", llama(100, 32, 2, 4, 2, 32, 64, 0, 10000, 0)};
    // tiny-llama with head size 64, the smallest the GPU attention kernel runs (GPU tests)
    case 12: return (Preset){"tiny-llama-hs64", llama(100, 64, 2, 2, 1, 128, 256, 0, 10000, 0)};
    // tiny shapes with the real vocabularies: chat shards of `tokenize --chat`, servable by llama-server
    case 13: return (Preset){"tiny-gpt2-vocab", gpt2(50257, 256, 1, 2, 16)};
    case 14: return (Preset){"tiny-llama3-vocab", llama(128256, 256, 1, 2, 1, 16, 32, 1, 500000, 0)};
    // gpt2-demo on the 2048-token vocabulary of scripts/miniature/bpe_train.js (make miniature)
    case 15: return (Preset){"gpt2-miniature", gpt2(2048, 256, 4, 4, 128)};
    default: return (Preset){NULL, {0}};
    }
}

int model_preset(ModelConfig *cfg, const char *name) {
    for (int i = 0; presets(i).name; i++) {
        if (strcmp(presets(i).name, name) == 0) {
            *cfg = presets(i).config;
            return 0;
        }
    }
    scpt_set_error("unknown model preset '%s' (known: %s)", name, model_preset_names());
    return -1;
}

const char *model_preset_names(void) {
    static char names[512];
    if (!names[0])
        for (int i = 0; presets(i).name; i++)
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? ", " : "", presets(i).name);
    return names;
}

int model_config_check(const ModelConfig *c) {
    const char *why = NULL;
    if (c->arch != ARCH_GPT2 && c->arch != ARCH_LLAMA) why = "unknown architecture";
    else if (c->vocab_size <= 0 || c->padded_vocab_size < c->vocab_size) why = "vocabulary sizes";
    else if (c->n_layer <= 0 || c->n_head <= 0 || c->n_kv_head <= 0 || c->n_embd <= 0 || c->ffn_hidden <= 0)
        why = "non-positive dimension";
    else if (c->max_seq_len <= 0) why = "max_seq_len";
    else if (c->n_embd % c->n_head != 0) why = "n_embd is not a multiple of n_head";
    else if (c->n_head % c->n_kv_head != 0) why = "n_head is not a multiple of n_kv_head";
    else if (c->arch == ARCH_GPT2 && (c->n_kv_head != c->n_head || !c->tied_embeddings))
        why = "GPT-2 has n_kv_head == n_head and a tied head";
    else if (c->arch == ARCH_LLAMA && (head_size(c) % 2 != 0 || c->rope_theta <= 0))
        why = "RoPE needs an even head size and theta > 0";
    if (!why) return 0;
    scpt_set_error("invalid model config: %s", why);
    return -1;
}
