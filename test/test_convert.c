// Import and export: bit-exact round trips through Hugging Face folders (single and
// sharded), GGUF and llm.c .bin files; half-precision exports equal the rounded
// weights; bad inputs fail with the file and the tensor named.
#include <unistd.h>
#include "convert.h"
#include "convert_fixtures.h"
#include "gguf.h"
#include "safetensors.h"
#include "test.h"

static char tmp_dir[] = "/tmp/scpt_test_convert_XXXXXX";

// a path in the scratch directory; each call gets its own buffer (a test makes few)
static const char *tmp(const char *name) {
    static char bufs[64][4200];
    static int next;
    char *b = bufs[next++ % 64];
    snprintf(b, sizeof bufs[0], "%s/%s", tmp_dir, name);
    return b;
}

static void make_model(Model *m, const char *kind) {
    ModelConfig c = fixture_config(kind);
    model_create(m, &c);
    fixture_weights(m, 1234);
}

// imports `path` into *out; 0 on success
static int import(const char *path, Model *out) {
    ModelConfig c;
    if (model_import_config(path, &c) != 0) return -1;
    model_create(out, &c);
    if (model_import_weights(path, out) == 0) return 0;
    model_free(out);
    return -1;
}

static int same_model(const Model *a, const Model *b) {
    return memcmp(&a->config, &b->config, sizeof a->config) == 0 && a->num_params == b->num_params &&
           memcmp(a->params, b->params, a->num_params * sizeof(real)) == 0;
}

static void round_trip(const char *kind, const char *path, int to_gguf) {
    Model m, back;
    make_model(&m, kind);
    int rc = to_gguf ? gguf_export(&m, path, GGML_F32, NULL) : hf_export(&m, path, ST_F32, NULL);
    CHECK(rc == 0, "%s", scpt_error());
    CHECK(import(path, &back) == 0, "%s", scpt_error());
    if (back.params) {
        CHECK(same_model(&m, &back), "%s: import(export(m)) != m through %s", kind, path);
        model_free(&back);
    }
    model_free(&m);
}

static void test_hf_round_trips(void) {
    round_trip("gpt2", tmp("hf-gpt2"), 0);
    round_trip("llama", tmp("hf-llama"), 0);
    round_trip("llama-tied", tmp("hf-llama-tied"), 0);
}

static void test_gguf_round_trips(void) {
    round_trip("gpt2", tmp("gpt2.gguf"), 1);
    round_trip("llama", tmp("llama.gguf"), 1);
    round_trip("llama-tied", tmp("llama-tied.gguf"), 1);
}

// Llama 3.1 RoPE scaling survives both formats, and llama.cpp's rope_freqs tensor
// holds the factors our tables divide by
static void test_rope_scaling_round_trip(void) {
    Model m, back;
    ModelConfig c = fixture_config("llama");
    c.rope_scale = 8, c.rope_low_freq_factor = 1, c.rope_high_freq_factor = 4, c.rope_original_context = 8192;
    c.rope_theta = 500000;
    model_create(&m, &c);
    fixture_weights(&m, 5);
    CHECK(gguf_export(&m, tmp("scaled.gguf"), GGML_F32, NULL) == 0, "%s", scpt_error());
    CHECK(import(tmp("scaled.gguf"), &back) == 0, "%s", scpt_error());
    if (back.params) {
        CHECK(same_model(&m, &back), "scaled RoPE config lost in GGUF");
        model_free(&back);
    }
    CHECK(hf_export(&m, tmp("hf-scaled"), ST_F32, NULL) == 0, "%s", scpt_error());
    CHECK(import(tmp("hf-scaled"), &back) == 0, "%s", scpt_error());
    if (back.params) {
        CHECK(same_model(&m, &back), "scaled RoPE config lost in config.json");
        model_free(&back);
    }
    Gguf g;
    CHECK(gguf_file_open(&g, tmp("scaled.gguf")) == 0, "%s", scpt_error());
    const GgufTensor *f = gguf_file_find_tensor(&g, "rope_freqs.weight");
    CHECK(f && f->ne[0] == (uint64_t)head_size(&c) / 2, "rope_freqs.weight missing or mis-sized");
    if (f) {   // highest frequency untouched, lowest divided by the factor
        const float *v = f->data;
        CHECK_NEAR(v[0], 1, 0, "factor of the highest frequency");
        CHECK_NEAR(v[f->ne[0] - 1], 8, 0, "factor of the lowest frequency");
    }
    gguf_file_free(&g);
    model_free(&m);
}

// f16/bf16 exports hold exactly the rounded weights
static void test_half_precision(void) {
    Model m, back;
    make_model(&m, "llama");
    for (int k = 0; k < 4; k++) {
        int bf16 = k & 1, gguf = k >> 1;
        const char *path = tmp(gguf ? (bf16 ? "bf16.gguf" : "f16.gguf") : (bf16 ? "hf-bf16" : "hf-f16"));
        int rc = gguf ? gguf_export(&m, path, bf16 ? GGML_BF16 : GGML_F16, NULL)
                      : hf_export(&m, path, bf16 ? ST_BF16 : ST_F16, NULL);
        CHECK(rc == 0, "%s", scpt_error());
        if (import(path, &back) != 0) {
            CHECK(0, "%s", scpt_error());
            continue;
        }
        size_t bad = 0;
        for (size_t i = 0; i < m.num_params; i++) {
            float want = bf16 ? bf16_to_fp32(fp32_to_bf16(m.params[i])) : fp16_to_fp32(fp32_to_fp16(m.params[i]));
            // norms are 1-D and GGUF keeps those in f32
            int norm = 0;
            for (int t = P_LN1W; t <= P_LNFW; t += P_LN2W - P_LN1W)
                norm |= i >= m.tensors[t].offset && i < m.tensors[t].offset + m.tensors[t].size;
            if (back.params[i] != want && !(gguf && norm && back.params[i] == m.params[i])) bad++;
        }
        CHECK(bad == 0, "%s: %zu weights differ from their rounding", path, bad);
        model_free(&back);
    }
    model_free(&m);
}

// a folder split in two shards with model.safetensors.index.json
static void test_sharded(void) {
    Model m, back;
    make_model(&m, "llama");
    const char *dir = tmp("hf-sharded");
    CHECK(hf_export(&m, dir, ST_F32, NULL) == 0, "%s", scpt_error());
    char path[4300];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    SafeTensors st;
    CHECK(st_open(&st, path) == 0, "%s", scpt_error());
    StWriteTensor *w = xcalloc(st.num_tensors, sizeof *w);
    FILE *idx = fopen(tmp("hf-sharded/model.safetensors.index.json"), "w");
    fprintf(idx, "{\"metadata\": {}, \"weight_map\": {");
    for (int i = 0; i < st.num_tensors; i++) {
        const StTensor *t = &st.tensors[i];
        w[i] = (StWriteTensor){.name = t->name, .dtype = t->dtype, .ndim = t->ndim, .data = t->data};
        memcpy(w[i].shape, t->shape, sizeof t->shape);
        fprintf(idx, "%s\"%s\": \"model-0000%d-of-00002.safetensors\"", i ? ", " : "", t->name, i % 2 + 1);
    }
    fprintf(idx, "}}\n");
    fclose(idx);
    StWriteTensor *odd = xcalloc(st.num_tensors, sizeof *odd);   // shard 2: the odd ones
    StWriteTensor *even = xcalloc(st.num_tensors, sizeof *even);
    int n_odd = 0, n_even = 0;
    for (int i = 0; i < st.num_tensors; i++) {
        if (i % 2) odd[n_odd++] = w[i];
        else even[n_even++] = w[i];
    }
    CHECK(st_write(tmp("hf-sharded/model-00001-of-00002.safetensors"), even, n_even, NULL, 0) == 0, "%s", scpt_error());
    CHECK(st_write(tmp("hf-sharded/model-00002-of-00002.safetensors"), odd, n_odd, NULL, 0) == 0, "%s", scpt_error());
    st_close(&st);
    unlink(path);
    CHECK(import(dir, &back) == 0, "%s", scpt_error());
    if (back.params) {
        CHECK(same_model(&m, &back), "sharded import differs");
        model_free(&back);
    }
    // a shard the index names but that is gone
    unlink(tmp("hf-sharded/model-00002-of-00002.safetensors"));
    CHECK(import(dir, &back) != 0 && strstr(scpt_error(), "model-00002-of-00002.safetensors"), "%s", scpt_error());
    free(w), free(odd), free(even);
    model_free(&m);
}

// llm.c's GPT-2 checkpoint: 256 int32 header, then the parameters in its order
static void write_llmc(const char *path, const Model *m, int version) {
    const ModelConfig *c = &m->config;
    int32_t h[256] = {20240326, version, c->max_seq_len, c->vocab_size, c->n_layer, c->n_head, c->n_embd,
                      c->padded_vocab_size};
    FILE *f = fopen(path, "wb");
    fwrite(h, sizeof h, 1, f);
    for (size_t i = 0; i < m->num_params; i++) {
        if (version == 3) {
            float v = m->params[i];
            fwrite(&v, 4, 1, f);
        } else {
            uint16_t v = fp32_to_bf16(m->params[i]);
            fwrite(&v, 2, 1, f);
        }
    }
    fclose(f);
}

static void test_llmc(void) {
    Model m, back;
    make_model(&m, "gpt2");
    write_llmc(tmp("gpt2_v3.bin"), &m, 3);
    CHECK(import(tmp("gpt2_v3.bin"), &back) == 0, "%s", scpt_error());
    if (back.params) {
        CHECK(same_model(&m, &back), "llm.c fp32 import differs");
        model_free(&back);
    }
    write_llmc(tmp("gpt2_v5.bin"), &m, 5);
    CHECK(import(tmp("gpt2_v5.bin"), &back) == 0, "%s", scpt_error());
    if (back.params) {
        size_t bad = 0;
        for (size_t i = 0; i < m.num_params; i++) bad += back.params[i] != bf16_to_fp32(fp32_to_bf16(m.params[i]));
        CHECK(bad == 0, "llm.c bf16 import: %zu weights differ", bad);
        model_free(&back);
    }
    // bad versions, magic, truncation, trailing bytes
    write_llmc(tmp("v4.bin"), &m, 4);
    CHECK(import(tmp("v4.bin"), &back) != 0 && strstr(scpt_error(), "v4.bin") && strstr(scpt_error(), "version 4"),
          "%s", scpt_error());
    FILE *f = fopen(tmp("gpt2_v3.bin"), "r+b");
    int32_t bad_magic = 1234;
    fwrite(&bad_magic, 4, 1, f);
    fclose(f);
    CHECK(import(tmp("gpt2_v3.bin"), &back) != 0 && strstr(scpt_error(), "magic"), "%s", scpt_error());
    CHECK(truncate(tmp("gpt2_v5.bin"), 256 * 4 + 100) == 0, "truncate");
    CHECK(import(tmp("gpt2_v5.bin"), &back) != 0 && strstr(scpt_error(), "gpt2_v5.bin"), "%s", scpt_error());
    model_free(&m);
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

// an error that names `what` (and the file, `where`)
#define CHECK_IMPORT_FAILS(path, where, what)                                                         \
    do {                                                                                            \
        Model bad_;                                                                                 \
        int rc_ = import(path, &bad_);                                                              \
        CHECK(rc_ != 0 && strstr(scpt_error(), where) && strstr(scpt_error(), what), "got: %s", \
              rc_ ? scpt_error() : "success");                                                      \
        if (rc_ == 0) model_free(&bad_);                                                            \
    } while (0)

static void test_bad_hf(void) {
    Model m;
    make_model(&m, "llama");
    const char *dir = tmp("hf-bad");
    CHECK(hf_export(&m, dir, ST_F32, NULL) == 0, "%s", scpt_error());
    char config[4300], weights[4300];
    snprintf(config, sizeof config, "%s/config.json", dir);
    snprintf(weights, sizeof weights, "%s/model.safetensors", dir);
    char *good = NULL;
    {
        FILE *f = fopen(config, "r");
        good = xcalloc(1, 1 << 16);
        CHECK(fread(good, 1, (1 << 16) - 1, f) > 0, "read config");
        fclose(f);
    }
    // a config whose MLP is wider than the weights
    char *wide = xcalloc(1, strlen(good) + 16);
    char *at = strstr(good, "\"intermediate_size\":");
    snprintf(wide, strlen(good) + 16, "%.*s\"intermediate_size\": 64, \"x_old\":%s", (int)(at - good), good,
             at + strlen("\"intermediate_size\":"));
    write_file(config, wide);
    CHECK_IMPORT_FAILS(dir, "model.safetensors", "model.layers.0.mlp.gate_proj.weight has shape [48, 32], expected [64, 32]");
    write_file(config, "{\"model_type\": \"bert\", \"vocab_size\": 10}");
    CHECK_IMPORT_FAILS(dir, "config.json", "model_type 'bert' is not supported");
    write_file(config, "{\"model_type\": \"llama\", \"vocab_size\": 10}");
    CHECK_IMPORT_FAILS(dir, "config.json", "max_position_embeddings");
    write_file(config, "{\"model_type\": \"llama\", \"vocab_size\": 1e300}");   // checked before (int) overflows
    CHECK_IMPORT_FAILS(dir, "config.json", "'vocab_size' is 1e+300; expected a whole number");
    write_file(config, "not json");
    CHECK_IMPORT_FAILS(dir, "config.json", "not a JSON object");
    write_file(config, good);

    // a missing tensor, a tensor of an integer dtype, an unknown dtype, a header past the end
    SafeTensors st;
    CHECK(st_open(&st, weights) == 0, "%s", scpt_error());
    int n = st.num_tensors, k = 0;
    StWriteTensor *w = xcalloc(n, sizeof *w);
    for (int i = 0; i < n; i++) {   // every tensor but one
        const StTensor *t = &st.tensors[i];
        if (strcmp(t->name, "model.layers.1.self_attn.k_proj.weight") == 0) continue;
        w[k] = (StWriteTensor){.name = t->name, .dtype = t->dtype, .ndim = t->ndim, .data = t->data};
        memcpy(w[k++].shape, t->shape, sizeof t->shape);
    }
    const char *missing = tmp("missing.safetensors");
    CHECK(st_write(missing, w, k, NULL, 0) == 0, "%s", scpt_error());
    for (int i = 0; i < n; i++) {   // every tensor, one with its bytes read as int32
        const StTensor *t = &st.tensors[i];
        w[i] = (StWriteTensor){.name = t->name, .dtype = t->dtype, .ndim = t->ndim, .data = t->data};
        memcpy(w[i].shape, t->shape, sizeof t->shape);
        if (strcmp(t->name, "model.norm.weight") == 0) w[i].dtype = ST_I32;
    }
    const char *int32 = tmp("int32.safetensors");
    CHECK(st_write(int32, w, n, NULL, 0) == 0, "%s", scpt_error());
    st_close(&st);
    rename(weights, tmp("good.safetensors"));
    rename(missing, weights);
    CHECK_IMPORT_FAILS(dir, "hf-bad/model.safetensors", "tensor model.layers.1.self_attn.k_proj.weight is missing");
    rename(int32, weights);
    CHECK_IMPORT_FAILS(dir, "hf-bad/model.safetensors", "'model.norm.weight' is I32");
    // unknown dtype: one header string replaced in place (same length)
    rename(tmp("good.safetensors"), weights);
    {
        FILE *f = fopen(weights, "r+b");
        uint64_t hlen;
        CHECK(fread(&hlen, 8, 1, f) == 1, "read");
        char *h = xcalloc(1, hlen + 1);
        CHECK(fread(h, 1, hlen, f) == hlen, "read");
        char *d = strstr(h, "\"F32\"");
        memcpy(d, "\"Q9X\"", 5);
        fseek(f, 8, SEEK_SET);
        fwrite(h, 1, hlen, f);
        fclose(f);
        free(h);
    }
    CHECK_IMPORT_FAILS(dir, "hf-bad/model.safetensors", "Q9X");
    {   // a header length past the end of the file
        FILE *f = fopen(weights, "r+b");
        uint64_t huge = 1ULL << 40;
        fwrite(&huge, 8, 1, f);
        fclose(f);
    }
    CHECK_IMPORT_FAILS(dir, "hf-bad/model.safetensors", "past the end");
    unlink(weights);
    CHECK_IMPORT_FAILS(dir, "hf-bad/model.safetensors", "cannot open");
    free(w), free(good), free(wide);
    model_free(&m);
}

static void test_bad_gguf(void) {
    Model m, other;
    make_model(&m, "llama");
    // tensors of a wider model under the names of a narrower one: wrong shapes
    ModelConfig c = fixture_config("llama");
    c.ffn_hidden = 64;
    model_create(&other, &c);
    Gguf g;
    CHECK(gguf_export(&m, tmp("good.gguf"), GGML_F32, NULL) == 0, "%s", scpt_error());
    CHECK(gguf_export(&other, tmp("wide.gguf"), GGML_F32, NULL) == 0, "%s", scpt_error());
    // wide.gguf with good.gguf's keys: feed_forward_length 48 but 64-row tensors
    CHECK(gguf_file_open(&g, tmp("wide.gguf")) == 0, "%s", scpt_error());
    Gguf out;
    gguf_file_init(&out);
    for (int i = 0; i < g.n_kv; i++) gguf_file_copy_kv(&out, &g.kv[i]);
    gguf_file_set_u32(&out, "llama.feed_forward_length", 48);
    for (int i = 0; i < g.n_tensors; i++) {
        const GgufTensor *t = &g.tensors[i];
        if (strcmp(t->name, "blk.0.attn_k.weight") != 0)
            CHECK(gguf_file_add_tensor(&out, t->name, t->type, t->n_dims, t->ne, t->data) == 0, "%s", scpt_error());
    }
    CHECK(gguf_file_write(&out, tmp("bad.gguf")) == 0, "%s", scpt_error());
    gguf_file_free(&out);
    CHECK_IMPORT_FAILS(tmp("bad.gguf"), "bad.gguf", "tensor blk.0.attn_k.weight is missing");
    gguf_file_init(&out);
    for (int i = 0; i < g.n_kv; i++) gguf_file_copy_kv(&out, &g.kv[i]);
    gguf_file_set_u32(&out, "llama.feed_forward_length", 48);
    for (int i = 0; i < g.n_tensors; i++) {
        const GgufTensor *t = &g.tensors[i];
        CHECK(gguf_file_add_tensor(&out, t->name, t->type, t->n_dims, t->ne, t->data) == 0, "%s", scpt_error());
    }
    CHECK(gguf_file_write(&out, tmp("bad.gguf")) == 0, "%s", scpt_error());
    CHECK_IMPORT_FAILS(tmp("bad.gguf"), "bad.gguf", "tensor blk.0.ffn_gate.weight has ne [32, 64], expected [32, 48]");
    gguf_file_set_str(&out, "general.architecture", "falcon");
    CHECK(gguf_file_write(&out, tmp("bad.gguf")) == 0, "%s", scpt_error());
    CHECK_IMPORT_FAILS(tmp("bad.gguf"), "bad.gguf", "architecture 'falcon' is not supported");
    gguf_file_free(&out);
    gguf_file_free(&g);
    CHECK(truncate(tmp("good.gguf"), 1000) == 0, "truncate");
    CHECK_IMPORT_FAILS(tmp("good.gguf"), "good.gguf", "");
    model_free(&other);
    model_free(&m);
}

// a safetensors file of F32 tensors (name, begin, end) over `data_bytes` zero bytes
static const char *raw_safetensors(const char *name, const char *const *names, const int (*range)[2], int n,
                                   size_t data_bytes) {
    char header[1024];
    int w = snprintf(header, sizeof header, "{");
    for (int i = 0; i < n; i++)
        w += snprintf(header + w, sizeof header - (size_t)w, "%s\"%s\": {\"dtype\": \"F32\", \"shape\": [%d], "
                      "\"data_offsets\": [%d, %d]}", i ? ", " : "", names[i], (range[i][1] - range[i][0]) / 4,
                      range[i][0], range[i][1]);
    w += snprintf(header + w, sizeof header - (size_t)w, "}");
    const char *path = tmp(name);
    FILE *f = fopen(path, "wb");
    uint64_t len = (uint64_t)w;
    fwrite(&len, 8, 1, f);
    fwrite(header, 1, (size_t)w, f);
    for (size_t i = 0; i < data_bytes; i++) fputc(0, f);
    fclose(f);
    return path;
}

// tensors tile the data section: overlaps (one tensor aliasing another's bytes),
// gaps and trailing bytes are refused, as the format's reference reader does
static void test_safetensors_extents(void) {
    const char *names[] = {"a", "b"};
    SafeTensors st;
    struct { int range[2][2]; size_t bytes; const char *want; } cases[] = {
        {{{0, 8}, {8, 16}}, 16, NULL},
        {{{8, 16}, {0, 8}}, 16, NULL},
        {{{0, 8}, {0, 8}}, 8, "overlap"},
        {{{0, 8}, {4, 12}}, 12, "overlap"},
        {{{0, 8}, {12, 20}}, 20, "bytes 8..12 of the data belong to no tensor"},
        {{{4, 12}, {12, 20}}, 20, "bytes 0..4 of the data belong to no tensor"},
        {{{0, 8}, {8, 16}}, 24, "bytes 16..24 of the data belong to no tensor"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *path = raw_safetensors("extents.safetensors", names, cases[i].range, 2, cases[i].bytes);
        int rc = st_open(&st, path);
        if (rc == 0) st_close(&st);
        if (!cases[i].want) CHECK(rc == 0, "case %zu: %s", i, scpt_error());
        else CHECK(rc != 0 && strstr(scpt_error(), cases[i].want), "case %zu: %s", i, rc ? scpt_error() : "accepted");
    }
}

// a GGUF header of n_kv one-byte KVs and n_t tensor infos, the last of each named
// like the first (a duplicate), in a malloc'd buffer
static uint8_t *gguf_many(uint64_t n_kv, uint64_t n_t, size_t *size) {
    size_t cap = 24 + (size_t)(n_kv * 32 + n_t * 64), at = 0;
    uint8_t *b = xcalloc(cap, 1);
#define PUT(v) (memcpy(b + at, &(v), sizeof(v)), at += sizeof(v))
    uint32_t version = 3;
    memcpy(b, "GGUF", 4), at = 4;
    PUT(version), PUT(n_t), PUT(n_kv);
    for (uint64_t i = 0; i < n_kv; i++) {
        char key[32];
        uint64_t len = (uint64_t)snprintf(key, sizeof key, "k.%llu", (unsigned long long)(i + 1 < n_kv ? i : 0));
        uint32_t type = GGUF_UINT8;
        PUT(len), memcpy(b + at, key, len), at += len, PUT(type), b[at++] = 1;
    }
    for (uint64_t i = 0; i < n_t; i++) {
        char name[32];
        uint64_t len = (uint64_t)snprintf(name, sizeof name, "t.%llu", (unsigned long long)(i + 1 < n_t ? i : 0));
        uint32_t dims = 1, type = GGML_F32;
        uint64_t ne = 8, offset = i * 32;
        PUT(len), memcpy(b + at, name, len), at += len, PUT(dims), PUT(ne), PUT(type), PUT(offset);
    }
#undef PUT
    *size = at;
    return b;
}

// Rejecting a crafted header costs n log n, not n^2 (main took 20 s for 100k keys),
// and counts past the limits are refused before anything is read. The bound of 2 s
// for 65536 names is ~20x the time measured under ASan on 2 cores.
static void test_gguf_many_names(void) {
    struct { uint64_t kv, t; const char *want; } cases[] = {
        {GGUF_MAX_KVS, 1, "duplicate key k.0"},
        {1, GGUF_MAX_TENSORS, "duplicate tensor t.0"},
        {GGUF_MAX_KVS + 1, 1, "at most"},
        {400000, 400000, "at most"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t size;
        uint8_t *buf = gguf_many(cases[i].kv, cases[i].t, &size);
        Gguf g;
        double t0 = wall_time();
        int rc = gguf_file_parse(&g, buf, size, "many.gguf");
        double took = wall_time() - t0;
        if (rc == 0) gguf_file_free(&g);
        CHECK(rc != 0 && strstr(scpt_error(), cases[i].want), "case %zu: %s", i, rc ? scpt_error() : "accepted");
        CHECK(took < 2.0, "case %zu: %.2f s to reject", i, took);
        free(buf);
    }
    // a key longer than the spec's 65535 bytes
    uint8_t head[64] = "GGUF";
    uint32_t version = 3;
    uint64_t n_t = 0, n_kv = 1, len = GGUF_MAX_KEY + 1;
    memcpy(head + 4, &version, 4), memcpy(head + 8, &n_t, 8), memcpy(head + 16, &n_kv, 8), memcpy(head + 24, &len, 8);
    size_t size = 32 + (size_t)len + 16;
    uint8_t *buf = xcalloc(size, 1);
    memcpy(buf, head, 32);
    Gguf g;
    int rc = gguf_file_parse(&g, buf, size, "long.gguf");
    if (rc == 0) gguf_file_free(&g);
    CHECK(rc != 0 && strstr(scpt_error(), "string of 65536 bytes (at most 65535)"), "%s", rc ? scpt_error() : "accepted");
    free(buf);
}

// the tokenizer.json beside a model is found; tokenizer metadata is written
static void test_tokenizer(void) {
    Model m;
    make_model(&m, "gpt2");
    const char *tok = tmp("tokenizer.json");
    CHECK(fixture_tokenizer_json(tok) == 0, "write");
    CHECK(hf_export(&m, tmp("hf-tok"), ST_F32, tok) == 0, "%s", scpt_error());
    char *found = model_tokenizer_path(tmp("hf-tok"));
    CHECK(found && strstr(found, "hf-tok/tokenizer.json"), "found %s", found ? found : "nothing");
    free(found);
    found = model_tokenizer_path(tmp("gpt2.gguf"));   // beside a file: the tmp dir's tokenizer.json
    CHECK(found && strcmp(found, tok) == 0, "found %s", found ? found : "nothing");
    free(found);
    CHECK(gguf_export(&m, tmp("tok.gguf"), GGML_F32, tok) == 0, "%s", scpt_error());
    Gguf g;
    CHECK(gguf_file_open(&g, tmp("tok.gguf")) == 0, "%s", scpt_error());
    const GgufKV *tokens = gguf_file_find(&g, "tokenizer.ggml.tokens"), *merges = gguf_file_find(&g, "tokenizer.ggml.merges");
    const GgufKV *eos = gguf_file_find(&g, "tokenizer.ggml.eos_token_id"), *pre = gguf_file_find(&g, "tokenizer.ggml.pre");
    CHECK(tokens && tokens->n == FIXTURE_VOCAB && strcmp(tokens->strs[256], "\xC4\xA0t") == 0, "tokens");
    CHECK(merges && merges->n == 2 && strcmp(merges->strs[1], "h e") == 0, "merges");
    CHECK(eos && eos->v.u == 258, "eos");
    CHECK(pre && strcmp(pre->str, "gpt-2") == 0, "pre");
    gguf_file_free(&g);
    // a vocabulary larger than the model's
    m.config.vocab_size = 100;
    CHECK(gguf_export(&m, tmp("small.gguf"), GGML_F32, tok) != 0 && strstr(scpt_error(), "tokenizer.json") &&
              strstr(scpt_error(), "outside the model's vocabulary of 100"),
          "%s", scpt_error());
    m.config.vocab_size = FIXTURE_VOCAB;
    model_free(&m);
}

int main(void) {
    if (!mkdtemp(tmp_dir)) die("mkdtemp failed");
    RUN_TEST(test_hf_round_trips);
    RUN_TEST(test_gguf_round_trips);
    RUN_TEST(test_rope_scaling_round_trip);
    RUN_TEST(test_half_precision);
    RUN_TEST(test_sharded);
    RUN_TEST(test_llmc);
    RUN_TEST(test_bad_hf);
    RUN_TEST(test_bad_gguf);
    RUN_TEST(test_safetensors_extents);
    RUN_TEST(test_gguf_many_names);
    RUN_TEST(test_tokenizer);
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmp_dir);
    return test_summary();
}
