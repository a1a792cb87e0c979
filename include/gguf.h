// GGUF v3 files (llama.cpp's model format): a validating reader and a writer.
// Layout (little-endian): "GGUF", u32 version, u64 tensor count, u64 KV count,
// the KVs (string key, u32 value type, value), the tensor infos (string name,
// u32 n_dims, u64 ne[n_dims], u32 ggml type, u64 offset into the data section),
// padding to the alignment, then the tensor data. Strings are u64 length + bytes.
// The reader checks every count, length, type and offset against the file and
// fails with "<file>: what is wrong"; it never trusts a size before checking it.
#ifndef SCPT_GGUF_H
#define SCPT_GGUF_H

#include <stddef.h>
#include <stdint.h>

#define GGUF_FILE_ALIGNMENT 32
#define GGUF_MAX_DIMS 4
#define GGUF_MAX_NAME 64   // tensor names, as llama.cpp's GGML_MAX_NAME (incl. NUL)
// Reader limits (doc/formats.md): far above any real model (a Llama 3 405B has
// ~1100 tensors and ~40 keys; the largest vocabularies ~260k tokens), far below
// what would make a crafted header cost time or memory.
#define GGUF_MAX_TENSORS (1 << 16)
#define GGUF_MAX_KVS (1 << 16)
#define GGUF_MAX_KEY 65535                   // bytes of a key (the GGUF spec's bound)
#define GGUF_MAX_STRING (16u << 20)          // bytes of a string value or array element
#define GGUF_MAX_ARRAY ((uint64_t)1 << 26)   // elements of an array value

typedef enum {
    GGUF_UINT8 = 0, GGUF_INT8 = 1, GGUF_UINT16 = 2, GGUF_INT16 = 3,
    GGUF_UINT32 = 4, GGUF_INT32 = 5, GGUF_FLOAT32 = 6, GGUF_BOOL = 7,
    GGUF_STRING = 8, GGUF_ARRAY = 9, GGUF_UINT64 = 10, GGUF_INT64 = 11,
    GGUF_FLOAT64 = 12,
} GgufType;

// ggml tensor types that files may hold (values as in ggml.h); the reader
// accepts every type listed here, the others are rejected as unsupported.
typedef enum {
    GGML_F32 = 0, GGML_F16 = 1, GGML_Q4_0 = 2, GGML_Q4_1 = 3, GGML_Q5_0 = 6,
    GGML_Q5_1 = 7, GGML_Q8_0 = 8, GGML_Q8_1 = 9, GGML_Q2_K = 10, GGML_Q3_K = 11,
    GGML_Q4_K = 12, GGML_Q5_K = 13, GGML_Q6_K = 14, GGML_Q8_K = 15, GGML_I8 = 24,
    GGML_I16 = 25, GGML_I32 = 26, GGML_I64 = 27, GGML_F64 = 28, GGML_BF16 = 30,
} GgmlType;

typedef struct {
    char *key;
    GgufType type;        // GGUF_ARRAY for arrays
    GgufType elem_type;   // arrays: the element type (never GGUF_ARRAY)
    uint64_t n;           // arrays: element count; strings: byte length
    // scalars: the value, widened; strings: str (NUL-terminated, may hold NULs);
    // arrays of scalars: data packed as in the file; arrays of strings: strs[i]
    // with lens[i].
    union { uint64_t u; int64_t i; double f; } v;
    char *str;
    void *data;
    char **strs;
    uint64_t *lens;
} GgufKV;

typedef struct {
    char name[GGUF_MAX_NAME];
    uint32_t n_dims;
    uint64_t ne[GGUF_MAX_DIMS];   // ne[0] is the contiguous dimension; unused = 1
    GgmlType type;
    uint64_t offset;              // from the start of the data section
    uint64_t bytes;
    const void *data;             // reader: into the mapped file; writer: caller's
} GgufTensor;

typedef struct {
    uint32_t version;
    uint32_t alignment;
    int n_kv, n_tensors;
    GgufKV *kv;
    GgufTensor *tensors;
    uint64_t data_offset;         // reader: file offset of the data section
    void *map;                    // reader: the mapped file
    size_t map_size;
} Gguf;

// Reading. gguf_file_open maps `path`; gguf_file_parse reads a buffer that `name` names in
// messages (the tensors' data then points into buf, which must outlive g).
int gguf_file_open(Gguf *g, const char *path);
int gguf_file_parse(Gguf *g, const void *buf, size_t size, const char *name);
void gguf_file_free(Gguf *g);

const GgufKV *gguf_file_find(const Gguf *g, const char *key);
const GgufTensor *gguf_file_find_tensor(const Gguf *g, const char *name);
// Bytes a tensor of `type` with `n` elements takes; 0 for an unsupported type or
// an n that does not fill whole blocks.
uint64_t ggml_type_bytes(GgmlType type, uint64_t n);
const char *gguf_file_type_name(GgufType t);

// IEEE half and bfloat16 conversions (round to nearest even; NaN stays NaN)
uint16_t fp32_to_fp16(float f);
float fp16_to_fp32(uint16_t h);
uint16_t fp32_to_bf16(float f);
float bf16_to_fp32(uint16_t h);

// Building and writing. gguf_file_init makes an empty v3 file; the setters replace a
// key that exists. Tensor data is borrowed and must stay valid until gguf_file_write,
// which lays out the tensors in order at the alignment (general.alignment when
// set) and writes the file atomically.
void gguf_file_init(Gguf *g);
void gguf_file_set_scalar(Gguf *g, const char *key, GgufType type, const void *value);
void gguf_file_set_u32(Gguf *g, const char *key, uint32_t v);
void gguf_file_set_f32(Gguf *g, const char *key, float v);
void gguf_file_set_str(Gguf *g, const char *key, const char *s);
// values: packed scalars of elem_type, or `const char *const *` for strings
void gguf_file_set_array(Gguf *g, const char *key, GgufType elem_type, uint64_t n, const void *values);
void gguf_file_copy_kv(Gguf *g, const GgufKV *kv);
int gguf_file_add_tensor(Gguf *g, const char *name, GgmlType type, uint32_t n_dims,
                    const uint64_t *ne, const void *data);
int gguf_file_write(const Gguf *g, const char *path);

#endif
