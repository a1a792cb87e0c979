// Chat templates (include/chat_template.h): which one a vocabulary gets, and each as
// Jinja for Hugging Face and llama.cpp. Tokenizing with them: chat_encode.c.
#include "chat_template.h"

#include <stdlib.h>
#include <string.h>
#include "util.h"

static const ChatTemplate LLAMA3 = {"llama3", "<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>\n\n",
                                    "<|eot_id|>"};
static const ChatTemplate PLAIN = {"plain", "<|endoftext|>", "### ", "\n", "<|endoftext|>"};

const ChatTemplate *chat_template_select(int (*has_token)(void *ctx, const char *text), void *ctx, const char *what) {
    if (has_token(ctx, "<|start_header_id|>") && has_token(ctx, "<|end_header_id|>") && has_token(ctx, "<|eot_id|>") &&
        has_token(ctx, "<|begin_of_text|>"))
        return &LLAMA3;
    if (has_token(ctx, "<|endoftext|>")) return &PLAIN;
    scpt_set_error("%s: the vocabulary has neither Llama 3's chat tokens (<|start_header_id|> ...) nor <|endoftext|>: "
                   "no chat template for it", what);
    return NULL;
}

// s as the inside of a single-quoted Jinja string literal
static void jinja_quote(char *out, size_t cap, const char *s) {
    size_t n = 0;
    for (; *s && n + 3 < cap; s++) {
        if (*s == '\n') out[n++] = '\\', out[n++] = 'n';
        else if (*s == '\'' || *s == '\\') out[n++] = '\\', out[n++] = *s;
        else out[n++] = *s;
    }
    out[n] = '\0';
}

char *chat_template_jinja(const ChatTemplate *ct) {
    char begin[64], open[64], close[64], end[64];
    jinja_quote(begin, sizeof begin, ct->begin);
    jinja_quote(open, sizeof open, ct->header_open);
    jinja_quote(close, sizeof close, ct->header_close);
    jinja_quote(end, sizeof end, ct->end);
    const char *fmt = "{{- '%s' }}{%%- for message in messages %%}{{- '%s' + message['role'] + '%s' + "
                      "message['content'] | trim + '%s' }}{%%- endfor %%}{%%- if add_generation_prompt %%}"
                      "{{- '%sassistant%s' }}{%%- endif %%}";
    size_t n = strlen(fmt) + strlen(begin) + 2 * (strlen(open) + strlen(close)) + strlen(end) + 1;
    char *s = xmalloc(n);
    snprintf(s, n, fmt, begin, open, close, end, open, close);
    return s;
}
