// safetensors reader and writer.
#include "safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "util.h"

static const struct {
    const char *name;
    size_t size;
} DTYPES[] = {
    [ST_F32] = {"F32", 4}, [ST_F16] = {"F16", 2}, [ST_BF16] = {"BF16", 2}, [ST_F64] = {"F64", 8},
    [ST_I64] = {"I64", 8}, [ST_I32] = {"I32", 4}, [ST_I16] = {"I16", 2},  [ST_I8] = {"I8", 1},
    [ST_U8] = {"U8", 1},   [ST_BOOL] = {"BOOL", 1},
};
enum { NUM_DTYPES = sizeof DTYPES / sizeof DTYPES[0] };
// a header this large is not a safetensors file (the format's own limit is 100 MB)
#define MAX_HEADER_BYTES (100u << 20)

size_t st_dtype_size(StDtype d) { return DTYPES[d].size; }
const char *st_dtype_name(StDtype d) { return DTYPES[d].name; }

static int parse_tensor(StTensor *t, const cJSON *item, const SafeTensors *st, const uint8_t *data,
                        size_t data_bytes) {
    const char *path = st->path, *name = item->string;
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(item, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(item, "shape");
    const cJSON *offsets = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
    t->name = xstrdup(name);
    if (!cJSON_IsString(dtype) || !cJSON_IsArray(shape) || !cJSON_IsArray(offsets) ||
        cJSON_GetArraySize(offsets) != 2) {
        scpt_set_error("%s: tensor '%s' needs dtype, shape and two data_offsets", path, name);
        return -1;
    }
    int found = -1;
    for (int d = 0; d < NUM_DTYPES; d++)
        if (strcmp(dtype->valuestring, DTYPES[d].name) == 0) found = d;
    if (found < 0) {
        scpt_set_error("%s: tensor '%s' has unknown dtype '%s'", path, name, dtype->valuestring);
        return -1;
    }
    t->dtype = (StDtype)found;
    t->ndim = cJSON_GetArraySize(shape);
    if (t->ndim > ST_MAX_DIMS) {
        scpt_set_error("%s: tensor '%s' has %d dimensions (at most %d)", path, name, t->ndim, ST_MAX_DIMS);
        return -1;
    }
    t->numel = 1;
    int i = 0;
    const cJSON *dim;
    cJSON_ArrayForEach(dim, shape) {
        // 2^40 elements per dimension bounds every product below 2^64 for 8 dims only
        // when checked step by step, so the running product is checked too
        if (!cJSON_IsNumber(dim) || dim->valuedouble < 0 || dim->valuedouble > 1e12 ||
            dim->valuedouble != (double)(int64_t)dim->valuedouble) {
            scpt_set_error("%s: tensor '%s' has an invalid shape", path, name);
            return -1;
        }
        t->shape[i++] = (int64_t)dim->valuedouble;
        if (t->shape[i - 1] && t->numel > ((size_t)1 << 50) / (size_t)t->shape[i - 1]) {
            scpt_set_error("%s: tensor '%s' has an implausibly large shape", path, name);
            return -1;
        }
        t->numel *= (size_t)t->shape[i - 1];
    }
    double begin = cJSON_GetArrayItem(offsets, 0)->valuedouble, end = cJSON_GetArrayItem(offsets, 1)->valuedouble;
    if (!cJSON_IsNumber(cJSON_GetArrayItem(offsets, 0)) || !cJSON_IsNumber(cJSON_GetArrayItem(offsets, 1)) ||
        begin < 0 || end < begin || end > (double)data_bytes || begin != (double)(size_t)begin ||
        end != (double)(size_t)end) {
        scpt_set_error("%s: tensor '%s' has data_offsets [%.0f, %.0f] outside the %zu data bytes", path, name,
                       begin, end, data_bytes);
        return -1;
    }
    t->nbytes = (size_t)end - (size_t)begin;
    if (t->nbytes != t->numel * DTYPES[t->dtype].size) {
        scpt_set_error("%s: tensor '%s' has %zu bytes but its %s shape needs %zu", path, name, t->nbytes,
                       DTYPES[t->dtype].name, t->numel * DTYPES[t->dtype].size);
        return -1;
    }
    t->data = data + (size_t)begin;
    return 0;
}

static int by_begin(const void *a, const void *b) {
    const StTensor *x = *(const StTensor *const *)a, *y = *(const StTensor *const *)b;
    if (x->data != y->data) return x->data < y->data ? -1 : 1;
    return (x->nbytes > y->nbytes) - (x->nbytes < y->nbytes);
}

// The tensors tile the data section: in offset order each starts where the one
// before ends, the first at 0, the last at its end (as the format's reference
// reader demands). A tensor aliasing another's bytes, or bytes nobody owns, is a
// broken or crafted file.
static int check_extents(const SafeTensors *st, const uint8_t *data, size_t data_bytes) {
    const StTensor **order = xmalloc((size_t)(st->num_tensors ? st->num_tensors : 1) * sizeof *order);
    for (int i = 0; i < st->num_tensors; i++) order[i] = &st->tensors[i];
    qsort(order, (size_t)st->num_tensors, sizeof *order, by_begin);
    size_t at = 0;
    int rc = 0;
    for (int i = 0; i < st->num_tensors && rc == 0; i++) {
        size_t begin = (size_t)(order[i]->data - data);
        if (begin < at) {
            scpt_set_error("%s: tensors '%s' and '%s' overlap (bytes %zu..%zu)", st->path, order[i - 1]->name,
                           order[i]->name, begin, at);
            rc = -1;
        } else if (begin > at) {
            scpt_set_error("%s: bytes %zu..%zu of the data belong to no tensor (before '%s')", st->path, at, begin,
                           order[i]->name);
            rc = -1;
        }
        at = begin + order[i]->nbytes;
    }
    if (rc == 0 && at != data_bytes) {
        scpt_set_error("%s: bytes %zu..%zu of the data belong to no tensor (after the last)", st->path, at,
                       data_bytes);
        rc = -1;
    }
    free(order);
    return rc;
}

static int parse_metadata(SafeTensors *st, const cJSON *meta) {
    if (!cJSON_IsObject(meta)) {
        scpt_set_error("%s: __metadata__ is not an object", st->path);
        return -1;
    }
    int n = cJSON_GetArraySize(meta);
    st->meta_keys = xcalloc(n, sizeof(char *));
    st->meta_values = xcalloc(n, sizeof(char *));
    const cJSON *kv;
    cJSON_ArrayForEach(kv, meta) {
        if (!cJSON_IsString(kv)) {
            scpt_set_error("%s: __metadata__ value of '%s' is not a string", st->path, kv->string);
            return -1;
        }
        st->meta_keys[st->num_meta] = xstrdup(kv->string);
        st->meta_values[st->num_meta++] = xstrdup(kv->valuestring);
    }
    return 0;
}

int st_open(SafeTensors *st, const char *path) {
    memset(st, 0, sizeof *st);
    st->path = xstrdup(path);
    cJSON *root = NULL;
    int fd = open(path, O_RDONLY);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        scpt_set_error("%s: cannot open: %s", path, strerror(errno));
        goto fail;
    }
    if (sb.st_size < 8) {
        scpt_set_error("%s: truncated: %lld bytes, shorter than the 8-byte header length", path,
                       (long long)sb.st_size);
        goto fail;
    }
    st->map_bytes = sb.st_size;
    st->map = mmap(NULL, st->map_bytes, PROT_READ, MAP_PRIVATE, fd, 0);
    if (st->map == MAP_FAILED) {
        st->map = NULL;
        scpt_set_error("%s: cannot map: %s", path, strerror(errno));
        goto fail;
    }
    uint64_t header_bytes;
    memcpy(&header_bytes, st->map, 8);
    if (header_bytes > st->map_bytes - 8 || header_bytes > MAX_HEADER_BYTES) {
        scpt_set_error("%s: header length %llu runs past the end of the %zu-byte file", path,
                       (unsigned long long)header_bytes, st->map_bytes);
        goto fail;
    }
    root = cJSON_ParseWithLength((const char *)st->map + 8, header_bytes);
    if (!cJSON_IsObject(root)) {
        scpt_set_error("%s: header is not a JSON object", path);
        goto fail;
    }
    size_t data_bytes = st->map_bytes - 8 - header_bytes;
    const uint8_t *data = (const uint8_t *)st->map + 8 + header_bytes;
    st->tensors = xcalloc(cJSON_GetArraySize(root), sizeof(StTensor));
    const cJSON *item;
    cJSON_ArrayForEach(item, root) {
        if (strcmp(item->string, "__metadata__") == 0) {
            if (parse_metadata(st, item) != 0) goto fail;
            continue;
        }
        if (!cJSON_IsObject(item)) {
            scpt_set_error("%s: header entry '%s' is not an object", path, item->string);
            goto fail;
        }
        if (parse_tensor(&st->tensors[st->num_tensors++], item, st, data, data_bytes) != 0) goto fail;
    }
    if (check_extents(st, data, data_bytes) != 0) goto fail;
    cJSON_Delete(root);
    close(fd);
    return 0;
fail:
    cJSON_Delete(root);
    if (fd >= 0) close(fd);
    st_close(st);
    return -1;
}

void st_close(SafeTensors *st) {
    for (int i = 0; i < st->num_tensors; i++) free(st->tensors[i].name);
    for (int i = 0; i < st->num_meta; i++) {
        free(st->meta_keys[i]);
        free(st->meta_values[i]);
    }
    free(st->tensors);
    free(st->meta_keys);
    free(st->meta_values);
    if (st->map) munmap(st->map, st->map_bytes);
    free(st->path);
    memset(st, 0, sizeof *st);
}

const StTensor *st_find(const SafeTensors *st, const char *name) {
    for (int i = 0; i < st->num_tensors; i++)
        if (strcmp(st->tensors[i].name, name) == 0) return &st->tensors[i];
    return NULL;
}

const char *st_meta(const SafeTensors *st, const char *key) {
    for (int i = 0; i < st->num_meta; i++)
        if (strcmp(st->meta_keys[i], key) == 0) return st->meta_values[i];
    return NULL;
}

static float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = h >> 10 & 0x1f, mant = h & 0x3ff, bits;
    if (exp == 0x1f) bits = sign | 0x7f800000 | mant << 13;   // inf / nan
    else if (exp) bits = sign | (exp + 112) << 23 | mant << 13;
    else if (mant) {   // subnormal: renormalise
        int shift = 0;
        while (!(mant & 0x400)) {
            mant <<= 1;
            shift++;
        }
        bits = sign | (uint32_t)(113 - shift) << 23 | (mant & 0x3ff) << 13;
    } else bits = sign;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

int st_read_f32(const SafeTensors *st, const StTensor *t, float *out) {
    const uint8_t *p = t->data;
    for (size_t i = 0; i < t->numel; i++) {
        uint16_t h;
        uint32_t bits;
        switch (t->dtype) {
        case ST_F32: memcpy(&out[i], p + 4 * i, 4); break;
        case ST_BF16:
            memcpy(&h, p + 2 * i, 2);
            bits = (uint32_t)h << 16;
            memcpy(&out[i], &bits, 4);
            break;
        case ST_F16:
            memcpy(&h, p + 2 * i, 2);
            out[i] = half_to_float(h);
            break;
        default:
            scpt_set_error("%s: tensor '%s' is %s, not a float type", st->path, t->name, DTYPES[t->dtype].name);
            return -1;
        }
    }
    return 0;
}

int st_write(const char *path, const StWriteTensor *tensors, int n, const char *const *meta, int num_meta) {
    cJSON *root = cJSON_CreateObject();
    if (num_meta) {
        cJSON *m = cJSON_AddObjectToObject(root, "__metadata__");
        for (int i = 0; i < num_meta; i++) cJSON_AddStringToObject(m, meta[2 * i], meta[2 * i + 1]);
    }
    size_t offset = 0;
    for (int i = 0; i < n; i++) {
        const StWriteTensor *t = &tensors[i];
        size_t numel = 1;
        double dims[ST_MAX_DIMS];
        for (int d = 0; d < t->ndim; d++) {
            numel *= (size_t)t->shape[d];
            dims[d] = (double)t->shape[d];
        }
        cJSON *item = cJSON_AddObjectToObject(root, t->name);
        cJSON_AddStringToObject(item, "dtype", DTYPES[t->dtype].name);
        cJSON_AddItemToObject(item, "shape", cJSON_CreateDoubleArray(dims, t->ndim));
        double range[2] = {(double)offset, (double)(offset + numel * DTYPES[t->dtype].size)};
        cJSON_AddItemToObject(item, "data_offsets", cJSON_CreateDoubleArray(range, 2));
        offset += numel * DTYPES[t->dtype].size;
    }
    char *json = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    // pad the header with spaces so the data starts 8-byte aligned, as the format recommends
    size_t len = strlen(json);
    uint64_t header_bytes = (len + 7) / 8 * 8;
    AtomicFile af;
    int rc = -1;
    if (atomic_open(&af, path) != 0) goto done;
    if (write_all(af.f, &header_bytes, 8, path) != 0 || write_all(af.f, json, len, path) != 0 ||
        write_all(af.f, "       ", header_bytes - len, path) != 0)
        goto abort;
    for (int i = 0; i < n; i++) {
        size_t numel = 1;
        for (int d = 0; d < tensors[i].ndim; d++) numel *= (size_t)tensors[i].shape[d];
        if (write_all(af.f, tensors[i].data, numel * DTYPES[tensors[i].dtype].size, path) != 0) goto abort;
    }
    rc = atomic_commit(&af);
    goto done;
abort:
    atomic_abort(&af);
done:
    free(json);
    return rc;
}
