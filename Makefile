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

# ---- data parallel (issue #6): collectives, ZeRO-0/1, the scaling plan ---------
# Open MPI is a setup dependency, so `train` always links it; without mpirun/srun it
# never calls MPI_Init and runs as world 1. Where pkg-config finds no Open MPI, the
# MPI backend is left out and --comm mpi says so.
MPI_CFLAGS := $(shell pkg-config --cflags ompi-c 2>/dev/null)
MPI_LIBS   := $(shell pkg-config --libs ompi-c 2>/dev/null)
COMM_PART  := comm zero $(if $(MPI_LIBS),comm_mpi)
train_objs += $(call objs,$(COMM_PART))
train_libs += $(MPI_LIBS)
$(B)/comm_mpi.o: CFLAGS += $(MPI_CFLAGS)
# the NCCL backend, for the CUDA path: built when nvcc and nccl.h are found
CUDA_HOME  ?= /usr/local/cuda
NCCL_FOUND := $(and $(wildcard $(CUDA_HOME)/bin/nvcc),$(wildcard $(CUDA_HOME)/include/nccl.h))
NCCL_PART  := comm_nccl rendezvous
NCCL_LIBS  := -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lnccl -lcudart
$(B)/comm_nccl.o $(B)/test/test_comm_nccl.o: CFLAGS += -I$(CUDA_HOME)/include
DP_TESTS := test_comm test_plan test/test_dp.sh
TESTS += $(DP_TESTS) $(if $(NCCL_FOUND),test_comm_nccl)
$(B)/test/test_comm: $(call objs,comm rendezvous $(if $(MPI_LIBS),comm_mpi) $(UTIL_PART))
$(B)/test/test_comm: test_libs := $(MPI_LIBS)
$(B)/test/test_comm_nccl: $(call objs,comm $(NCCL_PART) $(if $(MPI_LIBS),comm_mpi) $(UTIL_PART))
$(B)/test/test_comm_nccl: test_libs := $(NCCL_LIBS) $(MPI_LIBS)
TEST_HELPERS += ckpt_diff
$(B)/test/ckpt_diff: $(call objs,safetensors $(UTIL_PART))
$(B)/test/ckpt_diff: test_libs := -lcjson
# the memory / communication / time plan of doc/scaling.md
PROGRAMS += plan
plan_objs = $(call objs,plan plan_main config $(UTIL_PART))
$(B)/test/test_plan: $(call objs,plan $(MODEL_PART) $(UTIL_PART))
.PHONY: scaling-doc
scaling-doc: $(BIN)/plan
	$(BIN)/plan --doc >doc/scaling.md

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
