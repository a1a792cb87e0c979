// Builds a tiny Llama model with random weights as a GGUF file for protocol tests
// against llama-server: the tokenizer KVs are copied from a vocab-only GGUF (the
// ones llama.cpp ships in models/), the architecture KVs and tensors are made here.
//   make_tiny_llama VOCAB.gguf OUT.gguf [n_embd n_layer]
// The output is deterministic (fixed seed), so a rerun gives the same bytes.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "util.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static float uniform_pm(float scale) {   // xorshift64*, in [-scale, scale)
    rng ^= rng >> 12, rng ^= rng << 25, rng ^= rng >> 27;
    return scale * (2.0f * (float)((rng * 2685821657736338717ull) >> 40) / 16777216.0f - 1.0f);
}

// tensors live until the file is written
static void *keep[64];
static int n_keep;

static void add(Gguf *g, const char *name, GgmlType type, uint64_t ne0, uint64_t ne1, float scale) {
    uint64_t ne[2] = {ne0, ne1}, n = ne0 * ne1;
    void *data;
    if (type == GGML_F16) {
        uint16_t *h = xmalloc(n * 2);
        for (uint64_t i = 0; i < n; i++) h[i] = fp32_to_fp16(uniform_pm(scale));
        data = h;
    } else {
        float *f = xmalloc(n * 4);
        for (uint64_t i = 0; i < n; i++) f[i] = scale > 0 ? uniform_pm(scale) : 1.0f;   // norms: 1
        data = f;
    }
    if (gguf_file_add_tensor(g, name, type, ne1 > 1 ? 2 : 1, ne, data) != 0) die("%s", scpt_error());
    keep[n_keep++] = data;
}

int main(int argc, char **argv) {
    if (argc != 3 && argc != 5) die("usage: make_tiny_llama VOCAB.gguf OUT.gguf [n_embd n_layer]");
    uint32_t n_embd = argc == 5 ? (uint32_t)atoi(argv[3]) : 64;
    uint32_t n_layer = argc == 5 ? (uint32_t)atoi(argv[4]) : 2;
    uint32_t n_head = 4, n_ff = 4 * n_embd, n_ctx = 32768;
    if (n_embd < 16 || n_embd % (2 * n_head) || n_layer < 1 || n_layer > 8) die("bad n_embd or n_layer");

    Gguf vocab;
    if (gguf_file_open(&vocab, argv[1]) != 0) die("%s", scpt_error());
    const GgufKV *tokens = gguf_file_find(&vocab, "tokenizer.ggml.tokens");
    if (!tokens || tokens->type != GGUF_ARRAY || tokens->elem_type != GGUF_STRING)
        die("%s: no tokenizer.ggml.tokens string array", argv[1]);
    uint32_t n_vocab = (uint32_t)tokens->n;

    Gguf g;
    gguf_file_init(&g);
    gguf_file_set_str(&g, "general.architecture", "llama");
    gguf_file_set_str(&g, "general.name", "scpt-tiny-random-llama");
    gguf_file_set_u32(&g, "general.alignment", 32);
    gguf_file_set_u32(&g, "llama.context_length", n_ctx);
    gguf_file_set_u32(&g, "llama.embedding_length", n_embd);
    gguf_file_set_u32(&g, "llama.block_count", n_layer);
    gguf_file_set_u32(&g, "llama.feed_forward_length", n_ff);
    gguf_file_set_u32(&g, "llama.attention.head_count", n_head);
    gguf_file_set_u32(&g, "llama.attention.head_count_kv", n_head);
    gguf_file_set_u32(&g, "llama.rope.dimension_count", n_embd / n_head);
    gguf_file_set_u32(&g, "llama.vocab_size", n_vocab);
    gguf_file_set_f32(&g, "llama.rope.freq_base", 10000.0f);
    gguf_file_set_f32(&g, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
    for (int i = 0; i < vocab.n_kv; i++)
        if (strncmp(vocab.kv[i].key, "tokenizer.", 10) == 0) gguf_file_copy_kv(&g, &vocab.kv[i]);
    // a plain role/content template; llama-server renders it with its Jinja engine
    gguf_file_set_str(&g, "tokenizer.chat_template",
                 "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}\n{% endfor %}"
                 "{% if add_generation_prompt %}<|assistant|>\n{% endif %}");

    float s = 0.5f;   // large enough that the random logits are not flat
    add(&g, "token_embd.weight", GGML_F16, n_embd, n_vocab, s);
    add(&g, "output_norm.weight", GGML_F32, n_embd, 1, 0);
    for (uint32_t l = 0; l < n_layer; l++) {
        char name[64];
        static const char *const square[] = {"attn_q", "attn_k", "attn_v", "attn_output"};
        snprintf(name, sizeof name, "blk.%u.attn_norm.weight", l);
        add(&g, name, GGML_F32, n_embd, 1, 0);
        for (int k = 0; k < 4; k++) {
            snprintf(name, sizeof name, "blk.%u.%s.weight", l, square[k]);
            add(&g, name, GGML_F32, n_embd, n_embd, s);
        }
        snprintf(name, sizeof name, "blk.%u.ffn_norm.weight", l);
        add(&g, name, GGML_F32, n_embd, 1, 0);
        snprintf(name, sizeof name, "blk.%u.ffn_gate.weight", l);
        add(&g, name, GGML_F32, n_embd, n_ff, s);
        snprintf(name, sizeof name, "blk.%u.ffn_up.weight", l);
        add(&g, name, GGML_F32, n_embd, n_ff, s);
        snprintf(name, sizeof name, "blk.%u.ffn_down.weight", l);
        add(&g, name, GGML_F32, n_ff, n_embd, s);
    }
    if (gguf_file_write(&g, argv[2]) != 0) die("%s", scpt_error());
    printf("%s: llama n_embd %u n_layer %u n_vocab %u, %d tensors\n", argv[2], n_embd, n_layer,
           n_vocab, g.n_tensors);
    for (int i = 0; i < n_keep; i++) free(keep[i]);
    gguf_file_free(&g);
    gguf_file_free(&vocab);
    return 0;
}
