// Hugging Face tokenizer.json, byte-level BPE only (GPT-2, Llama 3, and the many
// models built the same way). Token strings in "vocab" and "merges" spell bytes
// with GPT-2's byte-to-character table; "added_tokens" hold literal text.
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include "tokenizer_impl.h"
#include "util.h"

// GPT-2's table: the printable bytes 33..126, 161..172 and 174..255 stand for
// themselves; the other 68 bytes, in increasing order, are U+0100.. U+0143.
static void byte_level_table(int16_t char_to_byte[324]) {
    for (int c = 0; c < 324; c++) char_to_byte[c] = -1;
    int next = 256;
    for (int b = 0; b < 256; b++) {
        int printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
        char_to_byte[printable ? b : next++] = (int16_t)b;
    }
}

// Decodes one UTF-8 character; -1 on malformed input.
static int utf8_next(const uint8_t **p, const uint8_t *end) {
    const uint8_t *s = *p;
    int n = s[0] < 0x80 ? 1 : (s[0] >> 5) == 6 ? 2 : (s[0] >> 4) == 14 ? 3 : (s[0] >> 3) == 30 ? 4 : 0;
    if (n == 0 || s + n > end) return -1;
    int c = n == 1 ? s[0] : s[0] & (0x7f >> n);
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) return -1;
        c = c << 6 | (s[i] & 0x3f);
    }
    *p = s + n;
    return c;
}

typedef struct {
    Tokenizer *t;
    int16_t char_to_byte[324];
    char *buf;
    size_t cap;
} Reader;

// Byte-level token string -> bytes in r->buf (appended at *len); -1 if it is not one.
static int byte_level_decode(Reader *r, const char *s, size_t *len) {
    const uint8_t *p = (const uint8_t *)s, *end = p + strlen(s);
    while (p < end) {
        int c = utf8_next(&p, end);
        if (c < 0 || c >= 324 || r->char_to_byte[c] < 0) return -1;
        if (*len + 1 > r->cap) r->buf = realloc(r->buf, r->cap = 2 * r->cap + 64);
        if (!r->buf) die("out of memory");
        r->buf[(*len)++] = (char)r->char_to_byte[c];
    }
    return 0;
}

static const char *string_field(const cJSON *obj, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int bool_field(const cJSON *obj, const char *key, int dflt) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsBool(v) ? cJSON_IsTrue(v) : dflt;
}

static int unsupported(const Tokenizer *t, const char *what, const char *value) {
    scpt_set_error("%s: unsupported tokenizer.json: %s%s%s (only byte-level BPE is read)", t->path, what,
                   value ? " " : "", value ? value : "");
    return -1;
}

// A ByteLevel pre-tokenizer step; sets *own_regex when it splits with GPT-2's pattern itself.
static int check_byte_level(const Tokenizer *t, const cJSON *step, int *own_regex) {
    const char *type = string_field(step, "type");
    if (!type || strcmp(type, "ByteLevel") != 0) return unsupported(t, "pre_tokenizer step", type ? type : "?");
    if (bool_field(step, "add_prefix_space", 0)) return unsupported(t, "ByteLevel add_prefix_space", "true");
    *own_regex = bool_field(step, "use_regex", 1);
    return 0;
}

// The split pattern: ByteLevel alone (GPT-2's pattern), or a Sequence of an
// isolating Split on a regex and a ByteLevel step without its own regex.
static const char *read_pattern(const Tokenizer *t, const cJSON *pre) {
    int own_regex;
    const char *type = string_field(pre, "type");
    if (!type) return unsupported(t, "missing pre_tokenizer", NULL), NULL;
    if (strcmp(type, "ByteLevel") == 0) {
        if (check_byte_level(t, pre, &own_regex) != 0) return NULL;
        if (!own_regex) return unsupported(t, "ByteLevel pre_tokenizer without a split pattern", NULL), NULL;
        return TOKENIZER_PATTERN_GPT2;
    }
    const cJSON *steps = cJSON_GetObjectItemCaseSensitive(pre, "pretokenizers");
    if (strcmp(type, "Sequence") != 0 || cJSON_GetArraySize(steps) != 2)
        return unsupported(t, "pre_tokenizer", type), NULL;
    const cJSON *split = cJSON_GetArrayItem(steps, 0);
    const char *split_type = string_field(split, "type"), *behavior = string_field(split, "behavior");
    const char *regex = string_field(cJSON_GetObjectItemCaseSensitive(split, "pattern"), "Regex");
    if (!split_type || strcmp(split_type, "Split") != 0 || !regex)
        return unsupported(t, "first pre_tokenizer step (want Split on a Regex)", split_type), NULL;
    if (!behavior || strcmp(behavior, "Isolated") != 0 || bool_field(split, "invert", 0))
        return unsupported(t, "Split behavior", behavior ? behavior : "?"), NULL;
    if (check_byte_level(t, cJSON_GetArrayItem(steps, 1), &own_regex) != 0) return NULL;
    if (own_regex) return unsupported(t, "ByteLevel step with its own regex after a Split", NULL), NULL;
    return regex;
}

static int check_model(const Tokenizer *t, const cJSON *root, const cJSON *model) {
    const char *type = string_field(model, "type");
    if (!cJSON_IsObject(model)) return unsupported(t, "missing \"model\"", NULL);
    if (type && strcmp(type, "BPE") != 0) return unsupported(t, "model type", type);
    if (bool_field(model, "byte_fallback", 0)) return unsupported(t, "byte_fallback", "true");
    const char *prefix = string_field(model, "continuing_subword_prefix");
    const char *suffix = string_field(model, "end_of_word_suffix");
    if ((prefix && *prefix) || (suffix && *suffix)) return unsupported(t, "subword prefix/suffix", NULL);
    const cJSON *norm = cJSON_GetObjectItemCaseSensitive(root, "normalizer");
    if (norm && !cJSON_IsNull(norm)) return unsupported(t, "normalizer", string_field(norm, "type"));
    const cJSON *dec = cJSON_GetObjectItemCaseSensitive(root, "decoder");
    const char *dec_type = string_field(dec, "type");
    if (dec && !cJSON_IsNull(dec) && (!dec_type || strcmp(dec_type, "ByteLevel") != 0))
        return unsupported(t, "decoder", dec_type ? dec_type : "?");
    return 0;
}

static int read_added_tokens(Reader *r, const cJSON *added) {
    Tokenizer *t = r->t;
    const cJSON *a;
    int i = 0;
    cJSON_ArrayForEach(a, added) {
        const char *content = string_field(a, "content");
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(a, "id");
        if (!content || !cJSON_IsNumber(id)) {
            scpt_set_error("%s: added_tokens[%d] lacks a string \"content\" or a numeric \"id\"", t->path, i);
            return -1;
        }
        if (tokenizer_add_token(t, id->valueint, content, strlen(content), 1) != 0) return -1;
        i++;
    }
    return 0;
}

static int read_vocab(Reader *r, const cJSON *vocab) {
    Tokenizer *t = r->t;
    if (!cJSON_IsObject(vocab)) {
        scpt_set_error("%s: model.vocab is not an object", t->path);
        return -1;
    }
    const cJSON *v;
    cJSON_ArrayForEach(v, vocab) {
        size_t len = 0;
        if (!cJSON_IsNumber(v) || byte_level_decode(r, v->string, &len) != 0) {
            scpt_set_error("%s: vocab entry \"%.60s\" is not a byte-level token with a numeric id", t->path, v->string);
            return -1;
        }
        int id = v->valueint;
        // a token listed in both vocab and added_tokens (GPT-2's <|endoftext|>) stays special
        size_t have;
        const char *old = id >= 0 && id < t->vocab_size ? tokenizer_token_bytes(t, id, &have) : NULL;
        if (old && have == len && memcmp(old, r->buf, len) == 0) continue;
        if (tokenizer_add_token(t, id, r->buf, len, 0) != 0) return -1;
    }
    return 0;
}

static int merge_parts(Reader *r, const cJSON *m, const char **a, const char **b, char *tmp, size_t cap) {
    if (cJSON_IsArray(m) && cJSON_GetArraySize(m) == 2) {   // newer files: ["a", "b"]
        *a = cJSON_GetStringValue(cJSON_GetArrayItem(m, 0));
        *b = cJSON_GetStringValue(cJSON_GetArrayItem(m, 1));
        return *a && *b ? 0 : -1;
    }
    const char *s = cJSON_GetStringValue(m);   // older files: "a b"
    const char *space = s ? strchr(s, ' ') : NULL;
    if (!space || strchr(space + 1, ' ') || (size_t)(space - s) >= cap) return -1;
    memcpy(tmp, s, space - s);
    tmp[space - s] = '\0';
    *a = tmp;
    *b = space + 1;
    return 0;
}

static int read_merges(Reader *r, const cJSON *merges) {
    Tokenizer *t = r->t;
    pair_map_init(&t->pairs, cJSON_GetArraySize(merges));
    const cJSON *m;
    int rank = 0;
    char tmp[1024];
    cJSON_ArrayForEach(m, merges) {
        const char *a, *b;
        size_t la = 0, lab = 0;
        int left = -1, right = -1, merged = -1;
        if (merge_parts(r, m, &a, &b, tmp, sizeof tmp) == 0 && byte_level_decode(r, a, &la) == 0 &&
            (lab = la, byte_level_decode(r, b, &lab) == 0)) {
            left = bytes_map_get(t, &t->ordinary, r->buf, la);
            right = bytes_map_get(t, &t->ordinary, r->buf + la, lab - la);
            merged = bytes_map_get(t, &t->ordinary, r->buf, lab);
        }
        if (left < 0 || right < 0 || merged < 0) {
            scpt_set_error("%s: merges[%d] is not a pair of vocabulary tokens whose join is one too", t->path, rank);
            return -1;
        }
        pair_map_put(&t->pairs, left, right, rank++, merged);
    }
    return 0;
}

int tokenizer_read_hf(Tokenizer *t, const char *data, size_t size) {
    cJSON *root = cJSON_ParseWithLength(data, size);
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        int line = 1;
        for (const char *p = data; at && p < at && p < data + size; p++) line += *p == '\n';
        scpt_set_error("%s:%d: malformed JSON", t->path, line);
        return -1;
    }
    Reader r = {.t = t};
    byte_level_table(r.char_to_byte);
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    const cJSON *merges = cJSON_GetObjectItemCaseSensitive(model, "merges");
    const char *pattern = NULL;
    int rc = -1;
    if (check_model(t, root, model) != 0) goto done;
    if (!cJSON_IsArray(merges)) {
        scpt_set_error("%s: model.merges is missing or not an array", t->path);
        goto done;
    }
    if (!(pattern = read_pattern(t, cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer")))) goto done;
    if (read_added_tokens(&r, cJSON_GetObjectItemCaseSensitive(root, "added_tokens")) != 0) goto done;
    if (read_vocab(&r, cJSON_GetObjectItemCaseSensitive(model, "vocab")) != 0) goto done;
    if (tokenizer_index(t) != 0 || read_merges(&r, merges) != 0) goto done;
    t->whole_piece_lookup = bool_field(model, "ignore_merges", 0);
    rc = tokenizer_finish(t, pattern);
done:
    free(r.buf);
    cJSON_Delete(root);
    return rc;
}
