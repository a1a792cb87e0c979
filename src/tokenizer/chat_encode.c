// Conversations -> tokens + loss mask with a chat template (include/chat_template.h).
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include "chat_template.h"
#include "util.h"

static int tokenizer_has(void *t, const char *text) { return tokenizer_token_id(t, text) >= 0; }

const ChatTemplate *chat_template_for(const Tokenizer *t) {
    return chat_template_select(tokenizer_has, (void *)t, tokenizer_name(t));
}

void chat_tokens_free(ChatTokens *c) {
    token_ids_free(&c->ids);
    free(c->trained);
    memset(c, 0, sizeof *c);
}

// appends text (template text: special tokens allowed; content: ordinary text) with its mask value
static int append(ChatTokens *out, const Tokenizer *t, const char *text, size_t len, int special, uint8_t trained) {
    size_t before = out->ids.len;
    if ((special ? tokenizer_encode_special(t, text, len, &out->ids) : tokenizer_encode(t, text, len, &out->ids)) != 0)
        return -1;
    if (out->ids.len > out->trained_cap) {
        out->trained_cap = out->ids.cap;
        out->trained = realloc(out->trained, out->trained_cap);
        if (!out->trained) die("out of memory for a loss mask of %zu tokens", out->trained_cap);
    }
    memset(out->trained + before, trained, out->ids.len - before);
    return 0;
}

// Jinja's trim: whitespace off both ends (ASCII whitespace; see doc/formats.md)
static const char *trim(const char *s, size_t *len) {
    size_t n = *len;
    while (n && strchr(" \t\n\v\f\r", *s)) s++, n--;
    while (n && strchr(" \t\n\v\f\r", s[n - 1])) n--;
    *len = n;
    return s;
}

int chat_encode_json(const ChatTemplate *ct, const Tokenizer *t, const char *line, size_t len, ChatTokens *out) {
    // cJSON ends strings at a NUL: refuse one rather than train on a cut message
    for (size_t i = 0; i + 1 < len; i++) {
        if (line[i] != '\\') continue;
        if (i + 6 <= len && memcmp(line + i + 1, "u0000", 5) == 0) {
            scpt_set_error("a message holds \\u0000, which chat records may not contain");
            return -1;
        }
        i++;   // skip the escaped character: in JSON "\\u0000" the u0000 is text
    }
    cJSON *o = cJSON_ParseWithLength(line, len);
    const cJSON *messages = cJSON_GetObjectItemCaseSensitive(o, "messages"), *m;
    int rc = -1, i = 0;
    out->assistant_turns = 0;
    if (!cJSON_IsObject(o)) {
        scpt_set_error("not a JSON object");
        goto done;
    }
    if (!cJSON_IsArray(messages) || cJSON_GetArraySize(messages) == 0) {
        scpt_set_error("no \"messages\" array of {\"role\", \"content\"} objects");
        goto done;
    }
    if (append(out, t, ct->begin, strlen(ct->begin), 1, 0) != 0) goto done;
    cJSON_ArrayForEach(m, messages) {
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
        if (!cJSON_IsString(role) || !cJSON_IsString(content)) {
            scpt_set_error("message %d lacks a string \"role\" or \"content\"", i);
            goto done;
        }
        const char *r = role->valuestring;
        if (strcmp(r, "system") && strcmp(r, "user") && strcmp(r, "assistant")) {
            scpt_set_error("message %d has role \"%.40s\" (expected system, user or assistant)", i, r);
            goto done;
        }
        uint8_t trained = strcmp(r, "assistant") == 0;
        out->assistant_turns += trained;
        size_t n = strlen(content->valuestring);
        const char *text = trim(content->valuestring, &n);
        // the header as one piece: "### " and "user" apart would not split as the whole text does
        char header[128];
        int hn = snprintf(header, sizeof header, "%s%s%s", ct->header_open, r, ct->header_close);
        if (append(out, t, header, hn, 1, 0) != 0 || append(out, t, text, n, 0, trained) != 0 ||
            append(out, t, ct->end, strlen(ct->end), 1, trained) != 0)
            goto done;
        i++;
    }
    rc = 0;
done:
    cJSON_Delete(o);
    return rc;
}
