// safetensors files (https://huggingface.co/docs/safetensors): an 8-byte header
// length, a JSON header naming each tensor's dtype, shape and byte range, then the
// data. Checkpoints are safetensors files too (doc/formats.md), and so are the
// weights of Hugging Face model folders.
#ifndef SCPT_SAFETENSORS_H
#define SCPT_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

typedef enum { ST_F32, ST_F16, ST_BF16, ST_F64, ST_I64, ST_I32, ST_I16, ST_I8, ST_U8, ST_BOOL } StDtype;

enum { ST_MAX_DIMS = 8 };

typedef struct {
    char *name;
    StDtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    size_t numel;
    const uint8_t *data;   // into the mapped file
    size_t nbytes;
} StTensor;

typedef struct {
    char *path;
    int num_tensors;
    StTensor *tensors;
    int num_meta;
    char **meta_keys, **meta_values;   // the __metadata__ string map
    void *map;
    size_t map_bytes;
} SafeTensors;

// Maps and validates the whole header (sizes, offsets inside the file, dtypes,
// shapes matching byte ranges). -1 with scpt_error() naming the file and tensor.
int st_open(SafeTensors *st, const char *path);
void st_close(SafeTensors *st);
const StTensor *st_find(const SafeTensors *st, const char *name);
const char *st_meta(const SafeTensors *st, const char *key);   // NULL when absent
size_t st_dtype_size(StDtype dtype);
const char *st_dtype_name(StDtype dtype);
// Converts an F32, F16 or BF16 tensor to float32; -1 for other dtypes.
int st_read_f32(const SafeTensors *st, const StTensor *t, float *out);

typedef struct {
    const char *name;
    StDtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    const void *data;
} StWriteTensor;

// Writes the tensors in order, atomically; meta is num_meta key/value string pairs.
int st_write(const char *path, const StWriteTensor *tensors, int n, const char *const *meta, int num_meta);

#endif
