// Model weights in and out of the formats others use: Hugging Face folders
// (config.json + model.safetensors, or shards listed in model.safetensors.index.json;
// F32/F16/BF16), llm.c's GPT-2 .bin checkpoints (read only) and GGUF (llama.cpp).
// Tensor names, layouts and the metadata written: doc/formats.md.
#ifndef SCPT_CONVERT_H
#define SCPT_CONVERT_H

#include "gguf.h"
#include "model.h"

// What a path holds, by its form: a directory is a Hugging Face folder, *.bin an
// llm.c checkpoint, *.gguf a GGUF file, anything else one of our checkpoints.
typedef enum { SRC_CHECKPOINT, SRC_HF, SRC_LLMC, SRC_GGUF } ModelSource;
ModelSource model_source(const char *path);

// The config of the model at `path` (any source), and its weights into a model
// created with that config. -1 with scpt_error() naming the file and the tensor.
int model_import_config(const char *path, ModelConfig *cfg);
int model_import_weights(const char *path, Model *m);
// The tokenizer.json that comes with the model at `path` (in the folder, or beside
// the file); NULL when there is none. malloc'd.
char *model_tokenizer_path(const char *path);

// Writes a Hugging Face folder: config.json, model.safetensors (dtype ST_F32,
// ST_F16 or ST_BF16 as StDtype values) and, when tokenizer_json is not NULL, a copy
// of it as tokenizer.json. Files are written atomically.
int hf_export(const Model *m, const char *dir, int st_dtype, const char *tokenizer_json);
// Writes a GGUF file (GGML_F32, GGML_F16 or GGML_BF16; norms and biases stay F32).
// `tokenizer` is a tokenizer.json (vocabulary and merges are converted) or a GGUF
// file whose tokenizer.* keys are copied; NULL writes no tokenizer (llama.cpp then
// refuses the file, but our reader takes it).
int gguf_export(const Model *m, const char *path, GgmlType type, const char *tokenizer);

#endif
