// llama_logprobs MODEL.gguf ID... : loads a GGUF with libllama, decodes the ids as
// one sequence and prints each position's logits (one line of n_vocab numbers).
// llama_logprobs MODEL.gguf --tokenize TEXT : prints llama.cpp's ids of TEXT (no
// special tokens added or parsed), from the GGUF's tokenizer metadata alone.
// A separate process because libggml-base exports gguf_* symbols that our GGUF
// library's names would interpose in a shared executable.
struct gguf_context;   // llama.h names it in a prototype without declaring it
#include <llama.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void quiet(enum ggml_log_level level, const char *text, void *user) {
    (void)user;
    if (level == GGML_LOG_LEVEL_ERROR) fputs(text, stderr);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: llama_logprobs MODEL.gguf ID...\n");
        return 2;
    }
    int T = argc - 2, tokenize = strcmp(argv[2], "--tokenize") == 0;
    llama_log_set(quiet, NULL);
    llama_backend_init();
    struct llama_model_params mp = llama_model_default_params();
    mp.vocab_only = tokenize;
    struct llama_model *model = llama_model_load_from_file(argv[1], mp);
    if (!model) {
        fprintf(stderr, "llama_logprobs: llama.cpp cannot load %s\n", argv[1]);
        return 1;
    }
    if (tokenize) {
        const char *text = argc > 3 ? argv[3] : "";
        int n_max = (int)strlen(text) + 8;
        llama_token *ids = malloc(sizeof *ids * n_max);
        int n = llama_tokenize(llama_model_get_vocab(model), text, (int)strlen(text), ids, n_max, false, false);
        for (int i = 0; i < n; i++) printf("%d%c", ids[i], i + 1 < n ? ' ' : '\n');
        free(ids);
        llama_model_free(model);
        return n < 0;
    }
    struct llama_context_params cp = llama_context_default_params();
    cp.n_ctx = cp.n_batch = cp.n_ubatch = (uint32_t)(T < 64 ? 64 : T);
    cp.n_threads = cp.n_threads_batch = 2;
    cp.type_k = cp.type_v = GGML_TYPE_F32;   // the default F16 cache would round k and v
    cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
    struct llama_context *ctx = llama_init_from_model(model, cp);
    if (!ctx) return 1;
    int V = llama_vocab_n_tokens(llama_model_get_vocab(model));
    struct llama_batch b = llama_batch_init(T, 0, 1);
    for (int t = 0; t < T; t++) {
        b.token[t] = atoi(argv[2 + t]);
        b.pos[t] = t;
        b.n_seq_id[t] = 1;
        b.seq_id[t][0] = 0;
        b.logits[t] = 1;
    }
    b.n_tokens = T;
    if (llama_decode(ctx, b) != 0) {
        fprintf(stderr, "llama_logprobs: llama_decode failed\n");
        return 1;
    }
    for (int t = 0; t < T; t++) {
        const float *l = llama_get_logits_ith(ctx, t);
        for (int i = 0; i < V; i++) printf("%.9g%c", l[i], i + 1 < V ? ' ' : '\n');
    }
    llama_batch_free(b);
    llama_free(ctx);
    llama_model_free(model);
    llama_backend_free();
    return 0;
}
