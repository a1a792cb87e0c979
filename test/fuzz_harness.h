// What the fuzzers feed each input to, shared by the libFuzzer harness
// (dev/fuzz_readers.c) and the corpus replay in make test (test/test_fuzz_replay.c).
//   safetensors: the input as DIR/model.safetensors of a tiny Llama's folder, read
//                through st_open and the Hugging Face importer;
//   gguf:        gguf_file_parse on the bytes, then, from a file, our GGUF model reader
//                when the config it names is small.
// Each must return (an error or success), never crash, leak or read out of bounds.
#ifndef SCPT_FUZZ_HARNESS_H
#define SCPT_FUZZ_HARNESS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "../src/weights/convert_impl.h"
#include "convert.h"
#include "gguf.h"
#include "util.h"

static char fuzz_dir[] = "/tmp/scpt_fuzz_XXXXXX";

static void fuzz_write(const char *path, const void *data, size_t size) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0) die("fuzz: cannot write %s", path);
}

static void fuzz_setup(void) {
    if (!mkdtemp(fuzz_dir)) die("fuzz: mkdtemp failed");
    char path[256];
    snprintf(path, sizeof path, "%s/config.json", fuzz_dir);
    const char *config = "{\"model_type\": \"llama\", \"vocab_size\": 8, \"max_position_embeddings\": 16,"
                         " \"num_hidden_layers\": 1, \"num_attention_heads\": 2, \"num_key_value_heads\": 1,"
                         " \"hidden_size\": 8, \"intermediate_size\": 8, \"tie_word_embeddings\": false}";
    fuzz_write(path, config, strlen(config));
}

static void fuzz_teardown(void) {
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", fuzz_dir);
    if (system(cmd) != 0) fprintf(stderr, "fuzz: could not remove %s\n", fuzz_dir);
}

static int fuzz_small(const ModelConfig *c) {
    return c->n_embd <= 256 && c->n_layer <= 4 && c->padded_vocab_size <= 4096 && c->ffn_hidden <= 1024 &&
           c->max_seq_len <= 4096;
}

// 0 when the input was accepted, -1 when rejected with a message
static int fuzz_safetensors(const uint8_t *data, size_t size) {
    char path[256];
    snprintf(path, sizeof path, "%s/model.safetensors", fuzz_dir);
    fuzz_write(path, data, size);
    ModelConfig c;
    if (model_import_config(fuzz_dir, &c) != 0) die("fuzz: %s", scpt_error());
    Model m;
    model_create(&m, &c);
    int rc = model_import_weights(fuzz_dir, &m);
    model_free(&m);
    return rc;
}

static int fuzz_gguf(const uint8_t *data, size_t size) {
    Gguf g;
    if (gguf_file_parse(&g, data, size, "fuzz.gguf") != 0) return -1;
    gguf_file_free(&g);
    char path[256];
    snprintf(path, sizeof path, "%s/model.gguf", fuzz_dir);
    fuzz_write(path, data, size);
    ModelConfig c;
    if (gguf_read_config(path, &c) != 0 || !fuzz_small(&c)) return -1;
    Model m;
    model_create(&m, &c);
    int rc = gguf_load(path, &m);
    model_free(&m);
    return rc;
}

#endif
