# scpt build. `make` builds every program (and the CUDA path when nvcc is found),
# `make test` runs the whole suite, `make help` lists the targets.

CC      ?= gcc
B       ?= build
# where programs go: the repo root (like llm.c), or the sanitizer build's directory
BIN     ?= .
CFLAGS  := -std=gnu11 -O3 -march=native -ffp-contract=fast -fopenmp -g \
           -Wall -Wextra -Wno-unused-parameter -Iinclude -MMD -MP $(EXTRA_CFLAGS)
LDFLAGS := -fopenmp $(EXTRA_LDFLAGS)
LDLIBS  := -lm

# objects of src/ stems: $(call objs,util shard) -> build/util.o build/shard.o
objs = $(patsubst %,$(B)/%.o,$(1))

# ---- parts: each a list of src/ stems -----------------------------------------
UTIL_PART   := util args
DATA_PART   := shard loader
# the CPU twins of the kernels, one family per file, and the model built from them
LAYERS_PART := encoder layernorm rmsnorm matmul rope attention gelu swiglu residual classifier adamw global_norm
MODEL_PART  := $(LAYERS_PART) config model optim
CKPT_PART   := safetensors checkpoint metrics

# ---- programs -----------------------------------------------------------------
# each program: <name>_objs and <name>_libs
PROGRAMS   := train
train_objs  = $(call objs,train $(MODEL_PART) $(CKPT_PART) $(DATA_PART) $(UTIL_PART))
train_libs := -lcjson

# ---- tests --------------------------------------------------------------------
# C test programs: test/<name>.c linked with the parts they exercise. Programs in
# TESTS_F64 are built against the double-precision build of the model (build/f64).
TESTS := test_shard test_loader test_optim test_model test_checkpoint test_gradcheck test/test_train.sh
$(B)/test/test_shard: $(call objs,$(UTIL_PART) $(DATA_PART))
$(B)/test/test_loader: $(call objs,$(UTIL_PART) $(DATA_PART))
$(B)/test/test_optim: $(call objs,$(MODEL_PART) $(UTIL_PART))
$(B)/test/test_model: $(call objs,$(MODEL_PART) $(UTIL_PART))
$(B)/test/test_checkpoint: $(call objs,$(MODEL_PART) $(CKPT_PART) $(DATA_PART) $(UTIL_PART))
$(B)/test/test_checkpoint: test_libs := -lcjson
$(B)/test/test_gradcheck: $(patsubst %,$(B)/f64/%.o,$(MODEL_PART) util)
# helpers the test scripts run
TEST_HELPERS := make_shards
$(B)/test/make_shards: $(call objs,$(UTIL_PART) $(DATA_PART))

# ---- tokenizer (issue #3): BPE library, the `tokenize` shard writer, demo data ----
TOKENIZER_PART := tokenizer tokenizer_tiktoken tokenizer_hf bpe tokenize_input
TOKENIZER_LIBS := -lpcre2-8 -lcjson -lpthread
PROGRAMS += tokenize
tokenize_objs  = $(call objs,tokenize $(TOKENIZER_PART) $(DATA_PART) $(UTIL_PART))
tokenize_libs := $(TOKENIZER_LIBS)
TOKENIZER_TESTS := test_tokenizer test_tokenizer_ref test_tokenize
TESTS += $(TOKENIZER_TESTS)
$(addprefix $(B)/test/,$(TOKENIZER_TESTS)): $(call objs,$(TOKENIZER_PART) $(DATA_PART) $(UTIL_PART))
$(addprefix $(B)/test/,$(TOKENIZER_TESTS)): test_libs := $(TOKENIZER_LIBS)
$(B)/dev/bench_tokenizer: dev/bench_tokenizer.c $(call objs,$(TOKENIZER_PART) $(UTIL_PART))
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $^ $(LDFLAGS) $(LDLIBS) $(TOKENIZER_LIBS) -o $@

# data/demo: the Brown corpus (tags stripped, made by scripts/setup.d/vocab.sh) in GPT-2 tokens, 5% validation
SCPT_CACHE ?= $(if $(XDG_CACHE_HOME),$(XDG_CACHE_HOME),$(HOME)/.cache)/scpt
.PHONY: demo-data bench-tokenizer
demo-data: $(BIN)/tokenize
	@test -f $(SCPT_CACHE)/brown/brown.jsonl || { echo "demo-data: $(SCPT_CACHE)/brown/brown.jsonl is missing: run scripts/setup --deps-only"; exit 1; }
	$(BIN)/tokenize --vocab gpt2 --val-frac 0.05 --out data/demo/brown $(SCPT_CACHE)/brown/brown.jsonl
bench-tokenizer: $(B)/dev/bench_tokenizer
	dev/bench_tokenizer.sh

# ---- evaluation (issue #8): QA accuracy, BM25 retrieval, perplexity, the scaling-curve fit ----
EVAL_PART := qa corpus eval_qa eval_score bm25
# train --qa: QA accuracy in the metrics (src/train_qa.c)
train_objs += $(call objs,train_qa $(EVAL_PART) $(TOKENIZER_PART))
train_libs += $(TOKENIZER_LIBS)
PROGRAMS += eval
eval_objs  = $(call objs,eval $(EVAL_PART) $(TOKENIZER_PART) $(MODEL_PART) $(CKPT_PART) $(DATA_PART) $(UTIL_PART))
eval_libs := $(TOKENIZER_LIBS)
PROGRAMS += fitcurve corpus_text
corpus_text_objs  = $(call objs,corpus_text corpus $(UTIL_PART))
corpus_text_libs := -lcjson
fitcurve_objs  = $(call objs,fitcurve fit $(UTIL_PART))
fitcurve_libs := -lcjson
EVAL_TESTS := test_eval test_fit
TESTS += test/test_eval.sh
$(B)/test/test_fit: $(call objs,fit $(UTIL_PART))
# the whole pipeline on this machine: generation, CPT at three budgets, eval, plot (scripts/demo.sh)
.PHONY: demo
demo: all
	scripts/demo.sh
TESTS += $(EVAL_TESTS)
$(addprefix $(B)/test/,$(EVAL_TESTS)): $(call objs,$(EVAL_PART) $(TOKENIZER_PART) $(MODEL_PART) $(CKPT_PART) $(DATA_PART) $(UTIL_PART))
$(addprefix $(B)/test/,$(EVAL_TESTS)): test_libs := $(TOKENIZER_LIBS)

.PHONY: all test test-asan asan-run deps clean help
.SECONDARY:
all: $(addprefix $(BIN)/,$(PROGRAMS))

define program_rule
$(BIN)/$(1): $$($(1)_objs)
	$$(CC) $$(LDFLAGS) $$^ $$(LDLIBS) $$($(1)_libs) -o $$@
endef
$(foreach p,$(PROGRAMS),$(eval $(call program_rule,$(p))))

$(B)/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(B)/f64/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DSCPT_F64 -c $< -o $@

$(B)/test/%.o: test/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(if $(filter test_gradcheck%,$*),-DSCPT_F64) -Itest -c $< -o $@

$(B)/test/%: $(B)/test/%.o
	$(CC) $(LDFLAGS) $^ $(LDLIBS) $(test_libs) -o $@

# the test list as commands: C programs from build/test, scripts as they are
test_commands = $(foreach t,$(TESTS),$(if $(filter %.sh,$(t)),$(t),$(B)/test/$(t)))

# installs what the tests need (Debian packages, npm packages into the cache); quick when present
deps:
	scripts/setup --deps-only

test: deps
	$(MAKE) all $(filter $(B)/test/%,$(test_commands)) $(addprefix $(B)/test/,$(TEST_HELPERS))
	test/run_tests.sh $(test_commands)
	$(MAKE) test-asan

# the suite again, built with AddressSanitizer and UndefinedBehaviorSanitizer
test-asan:
	$(MAKE) B=build/asan BIN=build/asan EXTRA_CFLAGS="-O2 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	        EXTRA_LDFLAGS="-fsanitize=address,undefined" asan-run

asan-run: all $(filter $(B)/test/%,$(test_commands)) $(addprefix $(B)/test/,$(TEST_HELPERS))
	SCPT_BIN=$(BIN) SCPT_SANITIZED=1 test/run_tests.sh $(test_commands)

clean:
	rm -rf build $(PROGRAMS)

help:
	@echo "make            build $(PROGRAMS) (and the CUDA path when nvcc is found)"
	@echo "make test       install test dependencies, build, run the whole suite (then again under ASan+UBSan)"
	@echo "make clean      remove build outputs"

-include $(shell find build -name '*.d' 2>/dev/null)
