# scpt build. `make` builds every program (and the CUDA path when nvcc is found),
# `make test` runs the whole suite, `make help` lists the targets.

CC      ?= gcc
B       := build
CFLAGS  := -std=gnu11 -O3 -march=native -ffp-contract=fast -fopenmp -g \
           -Wall -Wextra -Wno-unused-parameter -Iinclude -MMD -MP $(EXTRA_CFLAGS)
LDFLAGS := -fopenmp $(EXTRA_LDFLAGS)
LDLIBS  := -lm

# objects of src/ stems: $(call objs,util shard) -> build/util.o build/shard.o
objs = $(patsubst %,$(B)/%.o,$(1))

# ---- parts: each a list of src/ stems -----------------------------------------
UTIL_PART  := util
DATA_PART  := shard

# ---- programs -----------------------------------------------------------------
PROGRAMS :=

# ---- tests --------------------------------------------------------------------
# C test programs: test/<name>.c linked with the parts they exercise.
TESTS := test_shard
$(B)/test/test_shard: $(call objs,$(UTIL_PART) $(DATA_PART))

# ---- tokenizer (issue #3): BPE library, the `tokenize` shard writer, demo data ----
TOKENIZER_PART := tokenizer tokenizer_tiktoken tokenizer_hf bpe
TOKENIZER_LIBS := -lpcre2-8 -lcjson -lpthread
PROGRAMS += tokenize
tokenize: $(call objs,$(UTIL_PART) $(DATA_PART) $(TOKENIZER_PART) tokenize_input tokenize)
tokenize: LDLIBS += $(TOKENIZER_LIBS)
TOKENIZER_TESTS := test_tokenizer test_tokenizer_ref test_tokenize
TESTS += $(TOKENIZER_TESTS)
$(addprefix $(B)/test/,$(TOKENIZER_TESTS)): $(call objs,$(UTIL_PART) $(DATA_PART) $(TOKENIZER_PART) tokenize_input)
$(addprefix $(B)/test/,$(TOKENIZER_TESTS)): LDLIBS += $(TOKENIZER_LIBS)
$(B)/dev/bench_tokenizer: dev/bench_tokenizer.c $(call objs,$(UTIL_PART) $(TOKENIZER_PART) tokenize_input)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $^ $(LDFLAGS) $(LDLIBS) $(TOKENIZER_LIBS) -o $@

# data/demo: the Brown corpus (tags stripped, made by scripts/setup.d/vocab.sh) in GPT-2 tokens, 5% validation
SCPT_CACHE ?= $(if $(XDG_CACHE_HOME),$(XDG_CACHE_HOME),$(HOME)/.cache)/scpt
.PHONY: demo-data bench-tokenizer
demo-data: tokenize
	@test -f $(SCPT_CACHE)/brown/brown.jsonl || { echo "demo-data: $(SCPT_CACHE)/brown/brown.jsonl is missing: run scripts/setup --deps-only"; exit 1; }
	./tokenize --vocab gpt2 --val-frac 0.05 --out data/demo/brown $(SCPT_CACHE)/brown/brown.jsonl
bench-tokenizer: $(B)/dev/bench_tokenizer
	dev/bench_tokenizer.sh

.PHONY: all test deps clean help
.SECONDARY:
all: $(PROGRAMS)

$(B)/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(B)/test/%.o: test/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itest -c $< -o $@

$(B)/test/%: $(B)/test/%.o
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(PROGRAMS):
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

# installs what the tests need (Debian packages, npm packages into the cache); quick when present
deps:
	scripts/setup --deps-only

test: deps all $(addprefix $(B)/test/,$(TESTS))
	test/run_tests.sh $(addprefix $(B)/test/,$(TESTS))

clean:
	rm -rf $(B) $(PROGRAMS)

help:
	@echo "make            build $(PROGRAMS) (and the CUDA path when nvcc is found)"
	@echo "make test       install test dependencies, build, run the whole suite"
	@echo "make clean      remove build outputs"

-include $(shell find $(B) -name '*.d' 2>/dev/null)
