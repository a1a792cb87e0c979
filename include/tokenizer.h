// Byte-level BPE tokenizer, byte-exact with the model's own tokenizer (tiktoken /
// Hugging Face tokenizers) for GPT-2 and Llama 3. Reads tiktoken rank files
// (GPT-2's r50k_base.tiktoken, Llama 3's tokenizer.model) and Hugging Face
// tokenizer.json files. Formats and rules: doc/tokenizer.md.
//
// A loaded Tokenizer is read-only: encode and decode may be called from many
// threads at once on the same one (each thread gets its own scratch space).
#ifndef SCPT_TOKENIZER_H
#define SCPT_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

typedef struct Tokenizer Tokenizer;

// Which pre-tokenizer split pattern and special tokens a tiktoken rank file gets
// (the file itself holds neither). tokenizer.json files carry their own.
typedef enum {
    TOKENIZER_AUTO = 0,   // from the number of ranks: 50256 -> GPT-2, 128000 -> Llama 3
    TOKENIZER_GPT2,       // r50k_base split pattern, <|endoftext|> after the ranks
    TOKENIZER_LLAMA3,     // Llama 3 split pattern, the 256 Llama 3 special tokens after the ranks
} TokenizerFamily;

// Loads a vocabulary file, telling a tokenizer.json (JSON object) from a tiktoken
// rank file by its content. NULL with scpt_error() naming the file when it is
// missing, unreadable, empty or malformed.
Tokenizer *tokenizer_load(const char *path, TokenizerFamily family);

// Loads "gpt2" or "llama3" from the setup cache (see tokenizer_default_path),
// or else treats `spec` as a path with family auto-detection.
Tokenizer *tokenizer_open(const char *spec);

// Writes $SCPT_CACHE/vocab/gpt2/r50k_base.tiktoken or $SCPT_CACHE/vocab/llama3/
// tokenizer.model into buf ($SCPT_CACHE defaults to ${XDG_CACHE_HOME:-~/.cache}/scpt).
// -1 with scpt_error() set for any other name.
int tokenizer_default_path(const char *name, char *buf, size_t cap);

void tokenizer_free(Tokenizer *t);

int tokenizer_vocab_size(const Tokenizer *t);   // largest id + 1, special tokens included
int tokenizer_eot(const Tokenizer *t);          // document separator: <|endoftext|> / <|end_of_text|>; -1 if none
int tokenizer_bos(const Tokenizer *t);          // <|begin_of_text|>; -1 if none (GPT-2)
const char *tokenizer_name(const Tokenizer *t); // "gpt2", "llama3" or "custom" (split pattern family)

// Id of the token whose text is exactly `text` (special tokens such as
// "<|end_of_text|>" included); -1 if there is none.
int tokenizer_token_id(const Tokenizer *t, const char *text);

// Bytes of one token (not NUL-terminated); NULL when id is not in the vocabulary.
const char *tokenizer_token_bytes(const Tokenizer *t, int id, size_t *len);
int tokenizer_is_special(const Tokenizer *t, int id);

// Growable id array that encode appends to.
typedef struct {
    int32_t *ids;
    size_t len, cap;
} TokenIds;
void token_ids_reserve(TokenIds *v, size_t extra);   // room for `extra` more ids
void token_ids_free(TokenIds *v);
static inline void token_ids_push(TokenIds *v, int32_t id) {
    if (v->len == v->cap) token_ids_reserve(v, 1);
    v->ids[v->len++] = id;
}

// Encodes any byte string (invalid UTF-8 included) as ordinary text: special
// token strings in it are encoded like any other text (tiktoken's
// encode_ordinary). Appends to out; -1 with scpt_error() set if the split
// pattern engine fails (it does not on valid input).
int tokenizer_encode(const Tokenizer *t, const char *text, size_t len, TokenIds *out);

// Like tokenizer_encode, but occurrences of special tokens in the text become
// their ids (tiktoken's allowed_special="all", Hugging Face's default).
int tokenizer_encode_special(const Tokenizer *t, const char *text, size_t len, TokenIds *out);

// Concatenated bytes of the ids, malloc'd and NUL-terminated (*len excludes the
// NUL). NULL with scpt_error() set for an id outside the vocabulary.
char *tokenizer_decode(const Tokenizer *t, const int32_t *ids, size_t n, size_t *len);

// For splitting one huge document into pieces that can be encoded separately
// (in parallel): the largest cut c <= len, c > 0, such that encoding text[0,c)
// and text[c,len) on their own gives exactly the ids of encoding the whole,
// whatever follows text[len). Only searched in the last `window` bytes; 0 when
// none is found there or the split pattern is not a built-in one.
size_t tokenizer_safe_cut(const Tokenizer *t, const char *text, size_t len, size_t window);

#endif
