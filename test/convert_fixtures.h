// Fixtures of the import/export tests: tiny models of both families with weights
// large enough that every tensor moves the log-probabilities, and a small byte-level
// BPE vocabulary as a tokenizer.json (llama.cpp accepts it; ids are fed directly).
#ifndef SCPT_CONVERT_FIXTURES_H
#define SCPT_CONVERT_FIXTURES_H

#include <stdio.h>
#include "model.h"
#include "rng.h"

enum { FIXTURE_VOCAB = 259 };   // 256 byte tokens, two merges, <|endoftext|>

// "gpt2", "llama" (GQA 4 query heads on 2 kv heads, untied head) or "llama-tied"
static inline ModelConfig fixture_config(const char *kind) {
    ModelConfig c = {.vocab_size = FIXTURE_VOCAB, .padded_vocab_size = 384, .max_seq_len = 64, .n_layer = 2,
                     .n_head = 4, .n_kv_head = 4, .n_embd = 32, .ffn_hidden = 128, .tied_embeddings = 1,
                     .norm_eps = 1e-5f};
    if (kind[0] == 'l') {
        c.arch = ARCH_LLAMA;
        c.n_kv_head = 2;
        c.ffn_hidden = 48;
        c.rope_theta = 10000;
        c.tied_embeddings = kind[5] == '-';
    }
    return c;
}

// N(0, 0.3) weights (not the 0.02 of training's init, which leaves the output
// near uniform), norm gains 1 + N(0, 0.2), biases N(0, 0.1); padded rows stay 0.
static inline void fixture_weights(Model *m, uint64_t seed) {
    const ModelConfig *c = &m->config;
    uint64_t s = seed;
    for (int i = 0; i < NUM_PARAM_TENSORS; i++) {
        const ParamTensor *t = &m->tensors[i];
        int norm = i == P_LN1W || i == P_LN2W || i == P_LNFW;
        int bias = i == P_LN1B || i == P_LN2B || i == P_QKVB || i == P_ATTPROJB || i == P_FCB || i == P_FCPROJB || i == P_LNFB;
        size_t n = (i == P_WTE || i == P_LMHEAD) ? (size_t)c->vocab_size * c->n_embd : t->size;
        for (size_t j = 0; j < t->size; j++)
            m->params[t->offset + j] = j >= n ? 0 : norm ? 1 + 0.2 * rng_normal(&s) : (bias ? 0.1 : 0.3) * rng_normal(&s);
    }
}

// GPT-2's byte -> printable character map (bytes_to_unicode), as UTF-8
static inline void fixture_byte_char(int b, char out[4]) {
    int printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    int cp = b;
    if (!printable) {
        int n = 0;
        for (int x = 0; x < b; x++) n += !((x >= 33 && x <= 126) || (x >= 161 && x <= 172) || (x >= 174 && x <= 255));
        cp = 256 + n;
    }
    if (cp < 0x80) out[0] = (char)cp, out[1] = 0;
    else out[0] = (char)(0xC0 | cp >> 6), out[1] = (char)(0x80 | (cp & 0x3F)), out[2] = 0;
}

static inline int fixture_tokenizer_json(const char *path) {
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fprintf(f, "{\"version\": \"1.0\", \"added_tokens\": [{\"id\": 258, \"content\": \"<|endoftext|>\", \"special\": true}],\n");
    fprintf(f, " \"model\": {\"type\": \"BPE\", \"vocab\": {");
    for (int b = 0; b < 256; b++) {
        char ch[4];
        fixture_byte_char(b, ch);
        fprintf(f, "\"%s%s\": %d, ", b == '"' || b == '\\' ? "\\" : "", ch, b);
    }
    fprintf(f, "\"\\u0120t\": 256, \"he\": 257}, \"merges\": [\"\\u0120 t\", [\"h\", \"e\"]]}}\n");
    return fclose(f);
}

#endif
