// Shared by the importers and exporters: which external tensor is which slice of
// our parameters, and how its layout differs.
#ifndef SCPT_CONVERT_IMPL_H
#define SCPT_CONVERT_IMPL_H

#include <stddef.h>
#include <stdint.h>
#include "model.h"

typedef enum { NAMES_HF, NAMES_GGUF } NameStyle;

typedef struct {
    char name[96];       // the external name
    size_t offset;       // first element in our flat parameters
    int64_t rows, cols;  // our layout: rows x cols, row-major (cols = 1 for vectors)
    int ndim;            // external dimensions (1 or 2)
    int transpose;       // stored cols x rows (GPT-2's Conv1D weights on Hugging Face)
    int rope_heads;      // > 0: rows are this many heads in Hugging Face's q/k order
} TensorMap;

// The external tensors of a model in either naming; *n set to the count. malloc'd.
TensorMap *tensor_map(const Model *m, NameStyle style, int *n);
// Between the external layout (ext, rows x cols or transposed) and ours (dst/src).
void map_import(const TensorMap *t, const float *ext, real *ours);
void map_export(const TensorMap *t, const real *ours, float *ext);
// The external shape, outermost first, as safetensors and PyTorch write it.
static inline void map_shape(const TensorMap *t, int64_t shape[2]) {
    shape[0] = t->transpose ? t->cols : t->rows;
    shape[1] = t->transpose ? t->rows : t->cols;
}
int round_up_vocab(int vocab);
int ends_with(const char *s, const char *suffix);
// n floats as f16 (bf16 = 0) or bf16 in a new buffer; frees f
uint16_t *to_half(float *f, size_t n, int bf16);
// model_config_check with the file named in the message
int config_check_in(const ModelConfig *c, const char *path);
// GGUF files as models (src/weights/gguf_model.c)
int gguf_read_config(const char *path, ModelConfig *cfg);
int gguf_load(const char *path, Model *m);   // the padded vocabulary our models use

#endif
