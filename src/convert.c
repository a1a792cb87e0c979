// convert: models between our checkpoints, Hugging Face folders, llm.c .bin files
// (read only) and GGUF. The input's kind follows from its form (a folder, *.bin,
// *.gguf, else a checkpoint); the output's from --format or its name.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "args.h"
#include "checkpoint.h"
#include "convert.h"
#include "weights/convert_impl.h"
#include "safetensors.h"
#include "util.h"

int main(int argc, char **argv) {
    const char *in = NULL, *out = NULL, *format = "auto", *dtype = "f32", *tokenizer = NULL;
    ArgSpec specs[] = {
        {"--in", ARG_STRING, &in, "model to read: Hugging Face folder, llm.c .bin, .gguf or our checkpoint", 0, 0},
        {"--out", ARG_STRING, &out, "where to write", 0, 0},
        {"--format", ARG_STRING, &format, "hf | gguf | checkpoint | auto (*.gguf, *.safetensors, else a folder)", 0, 0},
        {"--dtype", ARG_STRING, &dtype, "f32 | f16 | bf16 (Hugging Face and GGUF outputs)", 0, 0},
        {"--tokenizer", ARG_STRING, &tokenizer,
         "tokenizer.json (or a GGUF with tokenizer.* keys) to include; default: the one beside --in", 0, 0},
    };
    args_parse(argc, argv, specs, sizeof specs / sizeof specs[0],
               "usage: convert --in MODEL --out PATH [--format hf|gguf|checkpoint] [--dtype f32|f16|bf16]");
    if (!in || !out) usage_error("--in and --out are required");
    if (strcmp(format, "auto") == 0)
        format = ends_with(out, ".gguf") ? "gguf" : ends_with(out, ".safetensors") ? "checkpoint" : "hf";
    int f32 = strcmp(dtype, "f32") == 0, f16 = strcmp(dtype, "f16") == 0, bf16 = strcmp(dtype, "bf16") == 0;
    if (!f32 && !f16 && !bf16) usage_error("--dtype must be f32, f16 or bf16, not '%s'", dtype);
    if (strcmp(format, "gguf") && strcmp(format, "hf") && strcmp(format, "checkpoint"))
        usage_error("--format must be hf, gguf, checkpoint or auto, not '%s'", format);
    if (strcmp(format, "checkpoint") == 0 && !f32) usage_error("checkpoints hold f32 weights; --dtype %s does not apply", dtype);
    args_want_file("--tokenizer", tokenizer, "give its tokenizer.json (or a GGUF with tokenizer.* keys)");

    ModelConfig cfg;
    Model m;
    if (model_import_config(in, &cfg) != 0) die("%s", scpt_error());
    model_create(&m, &cfg);
    if (model_import_weights(in, &m) != 0) die("%s", scpt_error());
    char *found = tokenizer ? NULL : model_tokenizer_path(in);
    if (found) tokenizer = found;
    printf("read %s: %s, %d layers, %d heads (%d kv), %d channels, vocab %d | tokenizer %s\n", in,
           cfg.arch == ARCH_GPT2 ? "gpt2" : "llama", cfg.n_layer, cfg.n_head, cfg.n_kv_head, cfg.n_embd,
           cfg.vocab_size, tokenizer ? tokenizer : "none");

    int rc;
    if (strcmp(format, "gguf") == 0) {
        if (!tokenizer) fprintf(stderr, "convert: no tokenizer: llama.cpp will not load %s (give --tokenizer)\n", out);
        rc = gguf_export(&m, out, f32 ? GGML_F32 : f16 ? GGML_F16 : GGML_BF16, tokenizer);
    } else if (strcmp(format, "hf") == 0) {
        rc = hf_export(&m, out, f32 ? ST_F32 : f16 ? ST_F16 : ST_BF16, tokenizer);
    } else {
        rc = checkpoint_save(out, &m, NULL, NULL);
    }
    if (rc != 0) die("%s", scpt_error());
    printf("wrote %s (%s, %s)\n", out, format, dtype);
    free(found);
    model_free(&m);
    return 0;
}
