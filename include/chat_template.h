// Chat templates: a conversation ({"messages": [{"role", "content"}, ...]}, the
// OpenAI / UltraChat shape) rendered as the model's prompt format, tokenized with a
// loss mask for instruction tuning (`tokenize --chat`), and the same template as
// Jinja for the exported model (Hugging Face tokenizer_config.json, GGUF
// tokenizer.chat_template), so servers render exactly what was trained on.
//
// Every conversation is begin + for each message: header_open role header_close
// trim(content) end. Llama 3 (3.1 Instruct's format, without its date preamble):
//   <|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>...
// GPT-2 has no chat tokens; its plain template uses <|endoftext|> as begin and end:
//   <|endoftext|>### user\nHi<|endoftext|>### assistant\nHello<|endoftext|>
// The generation prompt is header_open "assistant" header_close. Only assistant
// content and its end token are trained (mask 1); everything else is context.
#ifndef SCPT_CHAT_TEMPLATE_H
#define SCPT_CHAT_TEMPLATE_H

#include <stddef.h>
#include <stdint.h>
#include "tokenizer.h"

typedef struct {
    const char *name;                        // "llama3", "plain"
    const char *begin;                       // once, before the first message
    const char *header_open, *header_close;  // around the role
    const char *end;                         // after each message's content (the stop token)
} ChatTemplate;

// The template of a vocabulary: Llama 3's when it has <|start_header_id|>,
// <|end_header_id|>, <|eot_id|> and <|begin_of_text|>, the plain one when it has
// <|endoftext|>; NULL with scpt_error() set (naming `what`) otherwise. has_token
// says whether the vocabulary holds a token of exactly that text.
const ChatTemplate *chat_template_select(int (*has_token)(void *ctx, const char *text), void *ctx, const char *what);
const ChatTemplate *chat_template_for(const Tokenizer *t);   // chat_template_select on a loaded tokenizer

// chat_template.c needs nothing but util; chat_template_for and the rest (chat_encode.c)
// need the tokenizer.

// The template as a Jinja string (malloc'd) that renders exactly what chat_encode
// tokenizes, with add_generation_prompt appending the assistant header.
char *chat_template_jinja(const ChatTemplate *ct);

// Tokens of conversations and, per token, whether it is trained (1) or context (0).
typedef struct {
    TokenIds ids;
    uint8_t *trained;
    size_t trained_cap;
    int assistant_turns;   // of the last chat_encode_json
} ChatTokens;
void chat_tokens_free(ChatTokens *c);

// Appends one conversation, a JSON object with "messages" (roles system, user,
// assistant; content a string) in line[0, len), to out. -1 with scpt_error() saying
// what is wrong with the record (the caller adds file and line).
int chat_encode_json(const ChatTemplate *ct, const Tokenizer *t, const char *line, size_t len, ChatTokens *out);

#endif
