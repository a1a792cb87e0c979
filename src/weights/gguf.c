#define _GNU_SOURCE
#include "gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

// ---- type tables ------------------------------------------------------------------

static const char *const type_names[] = {
    "uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "bool",
    "string", "array", "uint64", "int64", "float64",
};

const char *gguf_file_type_name(GgufType t) {
    return (unsigned)t < sizeof type_names / sizeof *type_names ? type_names[t] : "unknown";
}

// bytes of one scalar of type t in the file; 0 for string, array and unknown
static size_t scalar_size(GgufType t) {
    switch (t) {
    case GGUF_UINT8: case GGUF_INT8: case GGUF_BOOL: return 1;
    case GGUF_UINT16: case GGUF_INT16: return 2;
    case GGUF_UINT32: case GGUF_INT32: case GGUF_FLOAT32: return 4;
    case GGUF_UINT64: case GGUF_INT64: case GGUF_FLOAT64: return 8;
    default: return 0;
    }
}

// elements per block and bytes per block (from ggml's type traits)
static int ggml_block(GgmlType t, uint64_t *elems, uint64_t *bytes) {
    static const struct { GgmlType t; uint16_t elems, bytes; } table[] = {
        {GGML_F32, 1, 4},     {GGML_F16, 1, 2},     {GGML_BF16, 1, 2},    {GGML_F64, 1, 8},
        {GGML_I8, 1, 1},      {GGML_I16, 1, 2},     {GGML_I32, 1, 4},     {GGML_I64, 1, 8},
        {GGML_Q4_0, 32, 18},  {GGML_Q4_1, 32, 20},  {GGML_Q5_0, 32, 22},  {GGML_Q5_1, 32, 24},
        {GGML_Q8_0, 32, 34},  {GGML_Q8_1, 32, 36},  {GGML_Q2_K, 256, 84}, {GGML_Q3_K, 256, 110},
        {GGML_Q4_K, 256, 144}, {GGML_Q5_K, 256, 176}, {GGML_Q6_K, 256, 210}, {GGML_Q8_K, 256, 292},
    };
    for (size_t i = 0; i < sizeof table / sizeof *table; i++)
        if (table[i].t == t) {
            *elems = table[i].elems;
            *bytes = table[i].bytes;
            return 0;
        }
    return -1;
}

uint64_t ggml_type_bytes(GgmlType type, uint64_t n) {
    uint64_t elems, bytes;
    if (ggml_block(type, &elems, &bytes) != 0 || n % elems != 0) return 0;
    if (n / elems > UINT64_MAX / bytes) return 0;
    return n / elems * bytes;
}

// ---- half precision --------------------------------------------------------------

static uint32_t f32_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static float bits_f32(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

uint16_t fp32_to_bf16(float f) {
    uint32_t u = f32_bits(f);
    if ((u & 0x7fffffff) > 0x7f800000) return (uint16_t)((u >> 16) | 0x40);   // quiet NaN
    return (uint16_t)((u + 0x7fff + ((u >> 16) & 1)) >> 16);
}

float bf16_to_fp32(uint16_t h) { return bits_f32((uint32_t)h << 16); }

uint16_t fp32_to_fp16(float f) {
    uint32_t u = f32_bits(f), sign = (u >> 16) & 0x8000, abs = u & 0x7fffffff;
    if (abs > 0x7f800000) return (uint16_t)(sign | 0x7e00);                 // NaN
    if (abs >= 0x477ff000) return (uint16_t)(sign | 0x7c00);                // overflows to inf
    if (abs < 0x38800000) {                                                  // subnormal or zero
        // scale so the half subnormal's integer lands in the low bits, then round-to-even
        uint32_t shift = 126 - (abs >> 23), mant = (abs & 0x7fffff) | 0x800000;
        if (shift > 24) return (uint16_t)sign;
        uint32_t q = mant >> shift, rem = mant & ((1u << shift) - 1), half = 1u << (shift - 1);
        q += rem > half || (rem == half && (q & 1));
        return (uint16_t)(sign | q);
    }
    uint32_t r = abs + 0xfff + ((abs >> 13) & 1);                            // round to nearest even
    return (uint16_t)(sign | ((r - 0x38000000) >> 13));
}

float fp16_to_fp32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
    if (exp == 0x1f) return bits_f32(sign | 0x7f800000 | (mant << 13));
    if (exp == 0) {   // zero or subnormal: mant * 2^-24
        float v = (float)mant * (1.0f / 16777216.0f);
        return sign ? -v : v;
    }
    return bits_f32(sign | ((exp + 112) << 23) | (mant << 13));
}

// ---- reading ------------------------------------------------------------------------

typedef struct {
    const uint8_t *base, *p, *end;
    const char *name;
} Cursor;

static size_t left(const Cursor *c) { return (size_t)(c->end - c->p); }

static int take(Cursor *c, void *dst, size_t n, const char *what) {
    if (left(c) < n) {
        scpt_set_error("%s: truncated: %s needs %zu bytes at offset %zu, %zu left", c->name, what, n,
                       (size_t)(c->p - c->base), left(c));
        return -1;
    }
    memcpy(dst, c->p, n);
    c->p += n;
    return 0;
}

static int take_u32(Cursor *c, uint32_t *v, const char *what) { return take(c, v, 4, what); }
static int take_u64(Cursor *c, uint64_t *v, const char *what) { return take(c, v, 8, what); }

// a string of at most `max` bytes as a malloc'd NUL-terminated copy; *len gets its byte length
static int take_string(Cursor *c, char **out, uint64_t *len, uint64_t max, const char *what) {
    uint64_t n;
    if (take_u64(c, &n, what) != 0) return -1;
    if (n > max) {
        scpt_set_error("%s: %s: string of %llu bytes (at most %llu)", c->name, what, (unsigned long long)n,
                       (unsigned long long)max);
        return -1;
    }
    if (n > left(c)) {
        scpt_set_error("%s: %s: string length %llu exceeds the %zu bytes left in the file", c->name,
                       what, (unsigned long long)n, left(c));
        return -1;
    }
    char *s = xmalloc(n + 1);
    memcpy(s, c->p, n);
    s[n] = '\0';
    c->p += n;
    *out = s;
    if (len) *len = n;
    return 0;
}

static void kv_clear(GgufKV *kv) {
    free(kv->key);
    free(kv->str);
    free(kv->data);
    if (kv->strs)
        for (uint64_t i = 0; i < kv->n; i++) free(kv->strs[i]);
    free(kv->strs);
    free(kv->lens);
    memset(kv, 0, sizeof *kv);
}

static void scalar_to_value(GgufKV *kv, const uint8_t *raw) {
    switch (kv->type) {
    case GGUF_UINT8: case GGUF_BOOL: kv->v.u = raw[0]; break;
    case GGUF_INT8: kv->v.i = (int8_t)raw[0]; break;
    case GGUF_UINT16: { uint16_t x; memcpy(&x, raw, 2); kv->v.u = x; break; }
    case GGUF_INT16: { int16_t x; memcpy(&x, raw, 2); kv->v.i = x; break; }
    case GGUF_UINT32: { uint32_t x; memcpy(&x, raw, 4); kv->v.u = x; break; }
    case GGUF_INT32: { int32_t x; memcpy(&x, raw, 4); kv->v.i = x; break; }
    case GGUF_FLOAT32: { float x; memcpy(&x, raw, 4); kv->v.f = x; break; }
    case GGUF_UINT64: memcpy(&kv->v.u, raw, 8); break;
    case GGUF_INT64: memcpy(&kv->v.i, raw, 8); break;
    case GGUF_FLOAT64: memcpy(&kv->v.f, raw, 8); break;
    default: break;
    }
}

static int read_kv(Cursor *c, GgufKV *kv, int index) {
    char what[96];
    snprintf(what, sizeof what, "key %d", index);
    if (take_string(c, &kv->key, NULL, GGUF_MAX_KEY, what) != 0) return -1;
    uint32_t type;
    if (take_u32(c, &type, kv->key) != 0) return -1;
    kv->type = type;
    if (type == GGUF_STRING) return take_string(c, &kv->str, &kv->n, GGUF_MAX_STRING, kv->key);
    if (type != GGUF_ARRAY) {
        size_t sz = scalar_size(type);
        uint8_t raw[8];
        if (sz == 0) {
            scpt_set_error("%s: key %s has unknown value type %u", c->name, kv->key, type);
            return -1;
        }
        if (take(c, raw, sz, kv->key) != 0) return -1;
        scalar_to_value(kv, raw);
        return 0;
    }
    uint32_t elem;
    if (take_u32(c, &elem, kv->key) != 0 || take_u64(c, &kv->n, kv->key) != 0) return -1;
    kv->elem_type = elem;
    if (kv->n > GGUF_MAX_ARRAY) {
        scpt_set_error("%s: key %s: array of %llu elements (at most %llu)", c->name, kv->key,
                       (unsigned long long)kv->n, (unsigned long long)GGUF_MAX_ARRAY);
        return -1;
    }
    if (elem == GGUF_ARRAY) {
        scpt_set_error("%s: key %s is an array of arrays, which is not supported", c->name, kv->key);
        return -1;
    }
    if (elem == GGUF_STRING) {
        // each string takes at least its 8-byte length: bounds the count before allocating
        if (kv->n > left(c) / 8) {
            scpt_set_error("%s: key %s: %llu strings cannot fit in the %zu bytes left", c->name,
                           kv->key, (unsigned long long)kv->n, left(c));
            return -1;
        }
        kv->strs = xcalloc(kv->n, sizeof *kv->strs);
        kv->lens = xcalloc(kv->n, sizeof *kv->lens);
        for (uint64_t i = 0; i < kv->n; i++)
            if (take_string(c, &kv->strs[i], &kv->lens[i], GGUF_MAX_STRING, kv->key) != 0) return -1;
        return 0;
    }
    size_t sz = scalar_size(elem);
    if (sz == 0) {
        scpt_set_error("%s: key %s has unknown array element type %u", c->name, kv->key, elem);
        return -1;
    }
    if (kv->n > left(c) / sz) {
        scpt_set_error("%s: key %s: %llu elements of %zu bytes exceed the %zu bytes left", c->name,
                       kv->key, (unsigned long long)kv->n, sz, left(c));
        return -1;
    }
    kv->data = xmalloc(kv->n * sz);
    return take(c, kv->data, kv->n * sz, kv->key);
}

static int read_tensor_info(Cursor *c, GgufTensor *t, int index) {
    char what[64], *name;
    uint64_t len;
    snprintf(what, sizeof what, "tensor %d name", index);
    if (take_string(c, &name, &len, GGUF_MAX_KEY, what) != 0) return -1;
    if (len == 0 || len >= GGUF_MAX_NAME || strlen(name) != len) {
        scpt_set_error("%s: tensor %d has a name of %llu bytes (must be 1..%d, no NUL)", c->name,
                       index, (unsigned long long)len, GGUF_MAX_NAME - 1);
        free(name);
        return -1;
    }
    memcpy(t->name, name, len + 1);
    free(name);
    uint32_t type;
    if (take_u32(c, &t->n_dims, t->name) != 0) return -1;
    if (t->n_dims < 1 || t->n_dims > GGUF_MAX_DIMS) {
        scpt_set_error("%s: tensor %s has %u dimensions (must be 1..%d)", c->name, t->name,
                       t->n_dims, GGUF_MAX_DIMS);
        return -1;
    }
    uint64_t n = 1;
    for (int d = 0; d < GGUF_MAX_DIMS; d++) t->ne[d] = 1;
    for (uint32_t d = 0; d < t->n_dims; d++) {
        if (take_u64(c, &t->ne[d], t->name) != 0) return -1;
        if (t->ne[d] == 0 || t->ne[d] > (uint64_t)INT64_MAX / n) {
            scpt_set_error("%s: tensor %s has dimension %u of size %llu (empty or overflowing)",
                           c->name, t->name, d, (unsigned long long)t->ne[d]);
            return -1;
        }
        n *= t->ne[d];
    }
    if (take_u32(c, &type, t->name) != 0 || take_u64(c, &t->offset, t->name) != 0) return -1;
    t->type = type;
    uint64_t elems, block_bytes;
    if (ggml_block(t->type, &elems, &block_bytes) != 0) {
        scpt_set_error("%s: tensor %s has unsupported ggml type %u", c->name, t->name, type);
        return -1;
    }
    if (t->ne[0] % elems != 0) {
        scpt_set_error("%s: tensor %s: row of %llu elements is not whole blocks of %llu", c->name,
                       t->name, (unsigned long long)t->ne[0], (unsigned long long)elems);
        return -1;
    }
    t->bytes = ggml_type_bytes(t->type, n);
    if (t->bytes == 0) {
        scpt_set_error("%s: tensor %s: size overflows", c->name, t->name);
        return -1;
    }
    return 0;
}

static int cmp_name(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

// the first name that occurs twice among n (sorted copies of the pointers: n log n,
// where a scan per name would take minutes on a crafted file), or NULL
static const char *first_repeat(const char **names, int n) {
    qsort(names, (size_t)n, sizeof *names, cmp_name);
    for (int i = 1; i < n; i++)
        if (strcmp(names[i - 1], names[i]) == 0) return names[i];
    return NULL;
}

static int cmp_offset(const void *a, const void *b) {
    const GgufTensor *x = *(const GgufTensor *const *)a, *y = *(const GgufTensor *const *)b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

// alignment, data section bounds, tensor extents and overlaps
static int check_layout(Gguf *g, const Cursor *c, const uint8_t *base, size_t size) {
    const GgufKV *al = gguf_file_find(g, "general.alignment");
    g->alignment = GGUF_FILE_ALIGNMENT;
    if (al) {
        if (al->type != GGUF_UINT32 || al->v.u == 0 || (al->v.u & (al->v.u - 1)) != 0) {
            scpt_set_error("%s: general.alignment must be a uint32 power of two", c->name);
            return -1;
        }
        g->alignment = (uint32_t)al->v.u;
    }
    uint64_t header_end = (uint64_t)(c->p - base);
    g->data_offset = (header_end + g->alignment - 1) / g->alignment * g->alignment;
    if (g->n_tensors > 0 && g->data_offset > size) {
        scpt_set_error("%s: truncated: data section would start at %llu, file has %zu bytes",
                       c->name, (unsigned long long)g->data_offset, size);
        return -1;
    }
    uint64_t data_size = g->data_offset <= size ? size - g->data_offset : 0;
    GgufTensor **order = xmalloc((size_t)g->n_tensors * sizeof *order);
    for (int i = 0; i < g->n_tensors; i++) order[i] = &g->tensors[i];
    qsort(order, g->n_tensors, sizeof *order, cmp_offset);
    int rc = 0;
    for (int i = 0; i < g->n_tensors && rc == 0; i++) {
        GgufTensor *t = order[i];
        if (t->offset % g->alignment != 0) {
            scpt_set_error("%s: tensor %s offset %llu is not a multiple of the alignment %u",
                           c->name, t->name, (unsigned long long)t->offset, g->alignment);
            rc = -1;
        } else if (t->offset > data_size || t->bytes > data_size - t->offset) {
            scpt_set_error("%s: truncated: tensor %s needs bytes %llu..%llu of a %llu-byte data "
                           "section", c->name, t->name, (unsigned long long)t->offset,
                           (unsigned long long)(t->offset + t->bytes), (unsigned long long)data_size);
            rc = -1;
        } else if (i > 0 && order[i - 1]->offset + order[i - 1]->bytes > t->offset) {
            scpt_set_error("%s: tensors %s and %s overlap", c->name, order[i - 1]->name, t->name);
            rc = -1;
        } else {
            t->data = base + g->data_offset + t->offset;
        }
    }
    free(order);
    return rc;
}

int gguf_file_parse(Gguf *g, const void *buf, size_t size, const char *name) {
    memset(g, 0, sizeof *g);
    Cursor c = {buf, buf, (const uint8_t *)buf + size, name};
    char magic[4];
    uint64_t n_tensors, n_kv;
    if (take(&c, magic, 4, "magic") != 0) return -1;
    if (memcmp(magic, "GGUF", 4) != 0) {
        scpt_set_error("%s: not a GGUF file (bad magic)", name);
        return -1;
    }
    if (take_u32(&c, &g->version, "version") != 0) return -1;
    if (g->version != 2 && g->version != 3) {
        scpt_set_error("%s: GGUF version %u is not supported (2 and 3 are)", name, g->version);
        return -1;
    }
    if (take_u64(&c, &n_tensors, "tensor count") != 0 || take_u64(&c, &n_kv, "KV count") != 0)
        return -1;
    if (n_kv > GGUF_MAX_KVS || n_tensors > GGUF_MAX_TENSORS) {
        scpt_set_error("%s: %llu KVs and %llu tensors (at most %d and %d)", name, (unsigned long long)n_kv,
                       (unsigned long long)n_tensors, GGUF_MAX_KVS, GGUF_MAX_TENSORS);
        return -1;
    }
    // a KV takes at least 8 (key length) + 4 (type) + 1 bytes, a tensor info 8+4+8+4+8
    if (n_kv > left(&c) / 13 || n_tensors > left(&c) / 32) {
        scpt_set_error("%s: %llu KVs and %llu tensors cannot fit in a %zu-byte file", name,
                       (unsigned long long)n_kv, (unsigned long long)n_tensors, size);
        return -1;
    }
    g->kv = xcalloc(n_kv, sizeof *g->kv);
    g->tensors = xcalloc(n_tensors, sizeof *g->tensors);
    for (uint64_t i = 0; i < n_kv; i++) {
        g->n_kv = (int)i + 1;   // so gguf_file_free releases the partly read KV too
        if (read_kv(&c, &g->kv[i], (int)i) != 0) goto fail;
    }
    g->n_tensors = (int)n_tensors;
    for (uint64_t i = 0; i < n_tensors; i++)
        if (read_tensor_info(&c, &g->tensors[i], (int)i) != 0) goto fail;
    uint64_t most = n_kv > n_tensors ? n_kv : n_tensors;
    const char **names = xmalloc((size_t)(most ? most : 1) * sizeof *names), *repeat;
    for (int i = 0; i < g->n_kv; i++) names[i] = g->kv[i].key;
    if ((repeat = first_repeat(names, g->n_kv))) scpt_set_error("%s: duplicate key %s", name, repeat);
    for (int i = 0; i < g->n_tensors && !repeat; i++) names[i] = g->tensors[i].name;
    if (!repeat && (repeat = first_repeat(names, g->n_tensors))) scpt_set_error("%s: duplicate tensor %s", name, repeat);
    free(names);
    if (repeat) goto fail;
    if (check_layout(g, &c, buf, size) != 0) goto fail;
    return 0;
fail:
    gguf_file_free(g);
    return -1;
}

int gguf_file_open(Gguf *g, const char *path) {
    memset(g, 0, sizeof *g);
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        scpt_set_error("%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        scpt_set_error("%s: not a regular file", path);
        close(fd);
        return -1;
    }
    size_t size = (size_t)st.st_size;
    void *map = size ? mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
    close(fd);
    if (size && map == MAP_FAILED) {
        scpt_set_error("%s: cannot map: %s", path, strerror(errno));
        return -1;
    }
    if (gguf_file_parse(g, map, size, path) != 0) {
        if (map) munmap(map, size);
        return -1;
    }
    g->map = map;
    g->map_size = size;
    return 0;
}

void gguf_file_free(Gguf *g) {
    for (int i = 0; i < g->n_kv; i++) kv_clear(&g->kv[i]);
    free(g->kv);
    free(g->tensors);
    if (g->map) munmap(g->map, g->map_size);
    memset(g, 0, sizeof *g);
}

const GgufKV *gguf_file_find(const Gguf *g, const char *key) {
    for (int i = 0; i < g->n_kv; i++)
        if (strcmp(g->kv[i].key, key) == 0) return &g->kv[i];
    return NULL;
}

const GgufTensor *gguf_file_find_tensor(const Gguf *g, const char *name) {
    for (int i = 0; i < g->n_tensors; i++)
        if (strcmp(g->tensors[i].name, name) == 0) return &g->tensors[i];
    return NULL;
}

// ---- building -----------------------------------------------------------------------

void gguf_file_init(Gguf *g) {
    memset(g, 0, sizeof *g);
    g->version = 3;
    g->alignment = GGUF_FILE_ALIGNMENT;
}

// the KV named key, emptied for a new value (appended when absent)
static GgufKV *kv_slot(Gguf *g, const char *key) {
    for (int i = 0; i < g->n_kv; i++)
        if (strcmp(g->kv[i].key, key) == 0) {
            char *k = g->kv[i].key;
            g->kv[i].key = NULL;
            kv_clear(&g->kv[i]);
            g->kv[i].key = k;
            return &g->kv[i];
        }
    g->kv = realloc(g->kv, (size_t)(g->n_kv + 1) * sizeof *g->kv);
    if (!g->kv) die("out of memory adding GGUF key %s", key);
    GgufKV *kv = &g->kv[g->n_kv++];
    memset(kv, 0, sizeof *kv);
    kv->key = xstrdup(key);
    return kv;
}

void gguf_file_set_scalar(Gguf *g, const char *key, GgufType type, const void *value) {
    GgufKV *kv = kv_slot(g, key);
    kv->type = type;
    if (type == GGUF_STRING) {
        kv->str = xstrdup(value);
        kv->n = strlen(value);
    } else {
        scalar_to_value(kv, value);
    }
}

void gguf_file_set_u32(Gguf *g, const char *key, uint32_t v) { gguf_file_set_scalar(g, key, GGUF_UINT32, &v); }
void gguf_file_set_f32(Gguf *g, const char *key, float v) { gguf_file_set_scalar(g, key, GGUF_FLOAT32, &v); }
void gguf_file_set_str(Gguf *g, const char *key, const char *s) { gguf_file_set_scalar(g, key, GGUF_STRING, s); }

static void set_string_array(GgufKV *kv, uint64_t n, const char *const *strs, const uint64_t *lens) {
    kv->strs = xcalloc(n, sizeof *kv->strs);
    kv->lens = xcalloc(n, sizeof *kv->lens);
    for (uint64_t i = 0; i < n; i++) {
        kv->lens[i] = lens ? lens[i] : strlen(strs[i]);
        kv->strs[i] = xmalloc(kv->lens[i] + 1);
        memcpy(kv->strs[i], strs[i], kv->lens[i]);
        kv->strs[i][kv->lens[i]] = '\0';
    }
}

void gguf_file_set_array(Gguf *g, const char *key, GgufType elem_type, uint64_t n, const void *values) {
    GgufKV *kv = kv_slot(g, key);
    kv->type = GGUF_ARRAY;
    kv->elem_type = elem_type;
    kv->n = n;
    if (elem_type == GGUF_STRING) {
        set_string_array(kv, n, values, NULL);
    } else {
        kv->data = xmalloc(n * scalar_size(elem_type));
        memcpy(kv->data, values, n * scalar_size(elem_type));
    }
}

void gguf_file_copy_kv(Gguf *g, const GgufKV *src) {
    GgufKV *kv = kv_slot(g, src->key);
    kv->type = src->type;
    kv->elem_type = src->elem_type;
    kv->n = src->n;
    kv->v = src->v;
    if (src->str) {
        kv->str = xmalloc(src->n + 1);
        memcpy(kv->str, src->str, src->n + 1);
    }
    if (src->data) {
        kv->data = xmalloc(src->n * scalar_size(src->elem_type));
        memcpy(kv->data, src->data, src->n * scalar_size(src->elem_type));
    }
    if (src->strs) set_string_array(kv, src->n, (const char *const *)src->strs, src->lens);
}

int gguf_file_add_tensor(Gguf *g, const char *name, GgmlType type, uint32_t n_dims,
                    const uint64_t *ne, const void *data) {
    if (strlen(name) == 0 || strlen(name) >= GGUF_MAX_NAME || n_dims < 1 || n_dims > GGUF_MAX_DIMS) {
        scpt_set_error("tensor %s: bad name or %u dimensions", name, n_dims);
        return -1;
    }
    if (gguf_file_find_tensor(g, name)) {
        scpt_set_error("tensor %s: added twice", name);
        return -1;
    }
    GgufTensor t = {.n_dims = n_dims, .type = type, .data = data};
    strcpy(t.name, name);
    uint64_t n = 1;
    for (int d = 0; d < GGUF_MAX_DIMS; d++) {
        t.ne[d] = d < (int)n_dims ? ne[d] : 1;
        if (t.ne[d] == 0 || t.ne[d] > (uint64_t)INT64_MAX / n) {
            scpt_set_error("tensor %s: dimension %d of size %llu", name, d, (unsigned long long)t.ne[d]);
            return -1;
        }
        n *= t.ne[d];
    }
    t.bytes = ggml_type_bytes(type, n);
    if (t.bytes == 0) {
        scpt_set_error("tensor %s: unsupported type %d or a row that is not whole blocks", name, type);
        return -1;
    }
    g->tensors = realloc(g->tensors, (size_t)(g->n_tensors + 1) * sizeof *g->tensors);
    if (!g->tensors) die("out of memory adding tensor %s", name);
    g->tensors[g->n_tensors++] = t;
    return 0;
}

// ---- writing --------------------------------------------------------------------------

static void put(FILE *f, const void *p, size_t n) { fwrite(p, 1, n, f); }
static void put_u32(FILE *f, uint32_t v) { put(f, &v, 4); }
static void put_u64(FILE *f, uint64_t v) { put(f, &v, 8); }
static void put_str(FILE *f, const char *s, uint64_t n) {
    put_u64(f, n);
    put(f, s, n);
}

static void put_scalar(FILE *f, const GgufKV *kv) {
    uint8_t u8 = (uint8_t)kv->v.u;
    uint16_t u16 = (uint16_t)kv->v.u;
    uint32_t u32 = (uint32_t)kv->v.u;
    int8_t i8 = (int8_t)kv->v.i;
    int16_t i16 = (int16_t)kv->v.i;
    int32_t i32 = (int32_t)kv->v.i;
    float f32 = (float)kv->v.f;
    switch (kv->type) {
    case GGUF_UINT8: case GGUF_BOOL: put(f, &u8, 1); break;
    case GGUF_INT8: put(f, &i8, 1); break;
    case GGUF_UINT16: put(f, &u16, 2); break;
    case GGUF_INT16: put(f, &i16, 2); break;
    case GGUF_UINT32: put(f, &u32, 4); break;
    case GGUF_INT32: put(f, &i32, 4); break;
    case GGUF_FLOAT32: put(f, &f32, 4); break;
    case GGUF_UINT64: put(f, &kv->v.u, 8); break;
    case GGUF_INT64: put(f, &kv->v.i, 8); break;
    case GGUF_FLOAT64: put(f, &kv->v.f, 8); break;
    default: break;
    }
}

static void put_padding(FILE *f, uint64_t *pos, uint32_t alignment) {
    static const uint8_t zeros[256];
    uint64_t pad = (alignment - *pos % alignment) % alignment;
    for (uint64_t left = pad; left > 0;) {
        size_t n = left < sizeof zeros ? (size_t)left : sizeof zeros;
        put(f, zeros, n);
        left -= n;
    }
    *pos += pad;
}

int gguf_file_write(const Gguf *g, const char *path) {
    uint32_t alignment = GGUF_FILE_ALIGNMENT;
    const GgufKV *al = gguf_file_find(g, "general.alignment");
    if (al) {
        if (al->type != GGUF_UINT32 || al->v.u == 0 || (al->v.u & (al->v.u - 1)) != 0) {
            scpt_set_error("%s: general.alignment must be a uint32 power of two", path);
            return -1;
        }
        alignment = (uint32_t)al->v.u;
    }
    AtomicFile af;
    if (atomic_open(&af, path) != 0) return -1;
    FILE *f = af.f;
    put(f, "GGUF", 4);
    put_u32(f, 3);
    put_u64(f, (uint64_t)g->n_tensors);
    put_u64(f, (uint64_t)g->n_kv);
    for (int i = 0; i < g->n_kv; i++) {
        const GgufKV *kv = &g->kv[i];
        put_str(f, kv->key, strlen(kv->key));
        put_u32(f, kv->type);
        if (kv->type == GGUF_STRING) {
            put_str(f, kv->str, kv->n);
        } else if (kv->type == GGUF_ARRAY) {
            put_u32(f, kv->elem_type);
            put_u64(f, kv->n);
            if (kv->elem_type == GGUF_STRING)
                for (uint64_t j = 0; j < kv->n; j++) put_str(f, kv->strs[j], kv->lens[j]);
            else
                put(f, kv->data, kv->n * scalar_size(kv->elem_type));
        } else {
            put_scalar(f, kv);
        }
    }
    uint64_t offset = 0;
    for (int i = 0; i < g->n_tensors; i++) {
        const GgufTensor *t = &g->tensors[i];
        put_str(f, t->name, strlen(t->name));
        put_u32(f, t->n_dims);
        for (uint32_t d = 0; d < t->n_dims; d++) put_u64(f, t->ne[d]);
        put_u32(f, t->type);
        put_u64(f, offset);
        offset = (offset + t->bytes + alignment - 1) / alignment * alignment;
    }
    uint64_t pos = (uint64_t)ftell(f);
    put_padding(f, &pos, alignment);
    for (int i = 0; i < g->n_tensors; i++) {
        put(f, g->tensors[i].data, g->tensors[i].bytes);
        pos += g->tensors[i].bytes;
        if (i + 1 < g->n_tensors) put_padding(f, &pos, alignment);
    }
    return atomic_commit(&af);
}
