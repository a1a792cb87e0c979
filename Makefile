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

# ---- CUDA kernels (issue #5): kernels/*.cu, their GPU tests and benchmarks -------
# Built whenever nvcc is found, so a machine without a GPU still proves they compile.
# Objects go to build/cuda whatever B is: the sanitizer build links the same ones.
.DEFAULT_GOAL := all
ifndef NVCC
NVCC := $(firstword $(shell command -v nvcc 2>/dev/null) $(wildcard /usr/local/cuda/bin/nvcc))
endif
ifneq ($(NVCC),)
CUDA_HOME  ?= $(patsubst %/bin/nvcc,%,$(NVCC))
CUDA_B     := build/cuda
# sm_80 (A100) and sm_90 (H100/H200); nothing uses sm_90a-only instructions yet
NVCC_FLAGS := -O3 -std=c++17 -g -lineinfo -Iinclude -Ikernels -MMD -MP \
              -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 \
              -Xcompiler -Wall,-Wextra,-Wno-unused-parameter -Werror all-warnings
CUDA_LIBS  := -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcudart -lstdc++
KERNELS_PART := encoder layernorm rmsnorm rope attention gelu swiglu residual classifier adamw global_norm
KERNELS_OBJS := $(patsubst %,$(CUDA_B)/kernels/%.o,$(KERNELS_PART))
all: $(KERNELS_OBJS)
$(CUDA_B)/%.o: %.cu
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCC_FLAGS) -c $< -o $@

# kernel tests against the CPU twins; they skip (and pass) without a device. Not in
# the ASan rerun: the CUDA runtime maps memory where ASan keeps its shadow gap.
GPU_TESTS := test_kernels_gpu
ifneq ($(B),build/asan)
TESTS += $(GPU_TESTS)
endif
$(B)/test/test_kernels_gpu: $(CUDA_B)/test/test_kernels_gpu.o $(KERNELS_OBJS) $(call objs,$(LAYERS_PART) $(UTIL_PART))
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) $(CUDA_LIBS) -o $@
# `make test-gpu SANITIZE=1` also runs the kernel test under compute-sanitizer
GPU_SANITIZE_TESTS := test_kernels_gpu
COMPUTE_SANITIZER := $(firstword $(shell command -v compute-sanitizer 2>/dev/null) $(CUDA_HOME)/bin/compute-sanitizer)
.PHONY: test-gpu bench-kernels
test-gpu: $(addprefix $(B)/test/,$(GPU_TESTS))
	test/run_tests.sh $(addprefix $(B)/test/,$(GPU_TESTS))
ifeq ($(SANITIZE),1)
	@for t in $(GPU_SANITIZE_TESTS); do \
	    if ! $(B)/test/$$t --probe; then echo "SKIP: no CUDA device (compute-sanitizer not run on $$t)"; continue; fi; \
	    for tool in memcheck racecheck; do \
	        $(COMPUTE_SANITIZER) --tool $$tool --error-exitcode 1 $(B)/test/$$t || exit 1; \
	    done; \
	done
endif

# dev/cuda: one benchmark per kernel family (see dev/cuda/README.md)
KERNEL_BENCHES := $(patsubst dev/cuda/%.cu,%,$(wildcard dev/cuda/bench_*.cu))
all: $(addprefix $(CUDA_B)/dev/,$(KERNEL_BENCHES))
$(CUDA_B)/dev/%: $(CUDA_B)/dev/cuda/%.o $(KERNELS_OBJS) $(call objs,$(LAYERS_PART) $(UTIL_PART))
	$(CC) $(LDFLAGS) $^ $(LDLIBS) $(CUDA_LIBS) -o $@
bench-kernels: $(addprefix $(CUDA_B)/dev/,$(KERNEL_BENCHES))
	@for b in $(KERNEL_BENCHES); do $(CUDA_B)/dev/$$b || exit 1; done
else
$(info note: nvcc not found: the CUDA kernels, their tests and benchmarks are skipped)
.PHONY: test-gpu bench-kernels
test-gpu bench-kernels:
	@echo "SKIP: nvcc not found (install the CUDA toolkit to build the GPU path)"
endif

# ---- GPU model and training path (issue #5): cuBLASLt matmuls, src/model_cuda.cu ---
# train runs on the GPU when one is visible (--device auto|cpu|cuda). It links the
# GPU model whenever nvcc is found, except in the sanitizer build (ASan and the
# CUDA runtime do not mix); otherwise src/model_cuda_stub.c, which sees no device.
train_objs += $(B)/device.o
ifneq ($(NVCC),)
ifneq ($(B),build/asan)
GPU_MODEL_OBJS := $(CUDA_B)/src/model_cuda.o $(CUDA_B)/kernels/matmul.o $(KERNELS_OBJS)
GPU_MODEL_LIBS := $(CUDA_LIBS) -lcublasLt
# whole-model gradients, 200-step loss curve and checkpoint exchange against the CPU path
TESTS += test_model_gpu
GPU_TESTS += test_model_gpu
test-gpu: $(B)/test/test_model_gpu
$(B)/test/test_model_gpu: $(GPU_MODEL_OBJS) $(call objs,$(MODEL_PART) $(CKPT_PART) $(DATA_PART) $(UTIL_PART))
$(B)/test/test_model_gpu: test_libs := -lcjson $(GPU_MODEL_LIBS)
endif
endif
train_objs += $(if $(GPU_MODEL_OBJS),$(GPU_MODEL_OBJS),$(B)/model_cuda_stub.o)
train_libs += $(GPU_MODEL_LIBS)
# end-to-end training throughput and MFU against PyTorch (needs a GPU and torch)
.PHONY: bench-e2e
bench-e2e: $(BIN)/train $(B)/test/make_shards
	dev/bench_e2e.sh

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
