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

# ---- EntiGraph client, corpus reader, GGUF library (issue #4) -------------------
CORPUS_PART    := corpus
GGUF_PART      := gguf
ENTIGRAPH_PART := entigraph_prompts entigraph_plan entigraph_journal entigraph_http entigraph_api
PROGRAMS += entigraph
entigraph: $(call objs,$(UTIL_PART) $(CORPUS_PART) $(ENTIGRAPH_PART) entigraph_main)
entigraph: LDLIBS += -lcurl -lcjson
TESTS += test_gguf test_corpus test_entigraph
$(B)/test/test_gguf: $(call objs,$(UTIL_PART) $(GGUF_PART))
$(B)/test/test_corpus: $(call objs,$(UTIL_PART) $(CORPUS_PART))
$(B)/test/test_corpus: LDLIBS += -lcjson
$(B)/test/test_entigraph: $(call objs,$(UTIL_PART) $(CORPUS_PART) $(ENTIGRAPH_PART))
$(B)/test/test_entigraph: LDLIBS += -lcurl -lcjson
# programs the test scripts run, and the scripts (each prints its own summary line)
TEST_HELPERS += make_tiny_llama
$(B)/test/make_tiny_llama: $(call objs,$(UTIL_PART) $(GGUF_PART))
TEST_SCRIPTS += test/test_entigraph_faults.sh test/test_entigraph_llama.sh

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

test: deps all $(addprefix $(B)/test/,$(TESTS) $(TEST_HELPERS))
	test/run_tests.sh $(addprefix $(B)/test/,$(TESTS)) $(TEST_SCRIPTS)

clean:
	rm -rf $(B) $(PROGRAMS)

help:
	@echo "make            build $(PROGRAMS) (and the CUDA path when nvcc is found)"
	@echo "make test       install test dependencies, build, run the whole suite"
	@echo "make clean      remove build outputs"

-include $(shell find $(B) -name '*.d' 2>/dev/null)
