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

# `make` alone builds everything (rules for single files come before the `all` rule)
.DEFAULT_GOAL := all
# sub-makes print no "Entering/Leaving directory" lines: the last line of `make test` is its total
MAKEFLAGS += --no-print-directory

# objects of src/ paths without .c: $(call objs,util/util data/shard) -> build/util/util.o build/data/shard.o
objs = $(patsubst %,$(B)/%.o,$(1))

# ---- parts: each a list of src/ paths without .c (one folder per part: doc/architecture.md) -----------------------------------------
UTIL_PART   := util/util util/args
DATA_PART   := data/shard data/loader
# the CPU twins of the kernels, one family per file, and the model built from them
LAYERS_PART := $(addprefix model/,encoder layernorm rmsnorm matmul rope attention gelu swiglu residual residual_norm classifier adamw global_norm)
MODEL_PART  := $(LAYERS_PART) model/config model/model model/optim model/roofline
CKPT_PART   := weights/safetensors weights/checkpoint util/metrics

# ---- programs -----------------------------------------------------------------
# each program: <name>_objs and <name>_libs
PROGRAMS   := train
train_objs  = $(call objs,train $(MODEL_PART) $(CKPT_PART) $(DATA_PART) $(UTIL_PART))
train_libs := -lcjson

# ---- tests --------------------------------------------------------------------
# test/test_layering.sh: no loop between source files or parts (doc/architecture.md)
# C test programs: test/<name>.c linked with the parts they exercise. Programs in
# TESTS_F64 are built against the double-precision build of the model (build/f64).
TESTS := test/test_layering.sh test_shard test_loader test_optim test_model test_checkpoint test_gradcheck test/test_train.sh test/test_cli.sh
# train under faults: NaN, corrupt checkpoints, signals, restarts, unwritable --out, full disk
TESTS += test/test_train_faults.sh
$(B)/test/test_shard: $(call objs,$(UTIL_PART) $(DATA_PART))
$(B)/test/test_loader: $(call objs,$(UTIL_PART) $(DATA_PART))
$(B)/test/test_optim: $(call objs,$(MODEL_PART) $(UTIL_PART))
$(B)/test/test_model: $(call objs,$(MODEL_PART) $(UTIL_PART))
$(B)/test/test_checkpoint: $(call objs,$(MODEL_PART) $(CKPT_PART) $(DATA_PART) $(UTIL_PART))
$(B)/test/test_checkpoint: test_libs := -lcjson
$(B)/test/test_gradcheck: $(patsubst %,$(B)/f64/%.o,$(MODEL_PART) util/util)
# the CPU twins of the fused residual + norm kernels (kernels/residual_norm.cu) against their definition
TESTS += test_residual_norm
$(B)/test/test_residual_norm: $(call objs,$(LAYERS_PART) $(UTIL_PART))
# the CPU model of the tensor-core attention (kernels/flash_attention.cu) against the reference
TESTS += test_flash_model
$(B)/test/test_flash_model: $(call objs,model/flash_attention model/attention $(UTIL_PART))
# helpers the test scripts run
TEST_HELPERS := make_shards
$(B)/test/make_shards: $(call objs,$(UTIL_PART) $(DATA_PART))
# instruction tuning: the loss mask from shard to gradient (test/test_sft.sh: the programs and llama-server)
TESTS += test_sft
$(B)/test/test_sft: $(call objs,$(MODEL_PART) $(DATA_PART) $(UTIL_PART))

# ---- tokenizer (issue #3): BPE library, the `tokenize` shard writer, demo data ----
TOKENIZER_PART := tokenizer/vocab tokenizer/tokenizer tokenizer/tokenizer_tiktoken tokenizer/tokenizer_hf tokenizer/bpe tokenizer/chat_template tokenizer/chat_encode \
                  data/tokenize_input data/decompress data/input_files data/dedup
TOKENIZER_LIBS := -lpcre2-8 -lcjson -lpthread -lz -lzstd
PROGRAMS += tokenize
tokenize_objs  = $(call objs,tokenize $(TOKENIZER_PART) $(DATA_PART) $(UTIL_PART))
tokenize_libs := $(TOKENIZER_LIBS)
TOKENIZER_TESTS := test_tokenizer test_tokenizer_ref test_tokenize test_dedup
TESTS += $(TOKENIZER_TESTS) test/test_tokenize_compressed.sh test/test_tokenize_dedup.sh
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
	$(BIN)/tokenize --force --vocab gpt2 --val-frac 0.05 --out data/demo/brown $(SCPT_CACHE)/brown/brown.jsonl
bench-tokenizer: $(B)/dev/bench_tokenizer
	dev/bench_tokenizer.sh

# ---- weights import/export (issue #7): Hugging Face folders, llm.c .bin, GGUF --------
CONVERT_PART := $(addprefix weights/,convert_map hf_import hf_export gguf_model gguf) tokenizer/chat_template
PROGRAMS += convert
convert_objs  = $(call objs,convert $(CONVERT_PART) $(MODEL_PART) $(CKPT_PART) $(DATA_PART) $(UTIL_PART))
convert_libs := -lcjson
train_objs += $(call objs,$(CONVERT_PART))
CONVERT_TESTS := test_convert test_llama_ref test_fuzz_replay
TESTS += $(CONVERT_TESTS) test/test_convert.sh test/test_bootstrap.sh
$(addprefix $(B)/test/,$(CONVERT_TESTS)): $(call objs,$(CONVERT_PART) $(MODEL_PART) $(CKPT_PART) $(DATA_PART) $(UTIL_PART))
$(addprefix $(B)/test/,$(CONVERT_TESTS)): test_libs := -lcjson
# llama.cpp as the independent reference: libllama from scripts/setup.d/llama_tools.sh,
# in its own program (libggml-base exports gguf_* names that would clash with ours)
LLAMA_CPP := $(SCPT_CACHE)/llama.cpp
TEST_HELPERS += llama_logprobs
$(B)/test/llama_logprobs.o: CFLAGS += -I$(LLAMA_CPP)/src/include -I$(LLAMA_CPP)/src/ggml/include
$(B)/test/llama_logprobs: test_libs := -L$(LLAMA_CPP)/build/bin -Wl,-rpath,$(LLAMA_CPP)/build/bin -lllama
$(B)/test/test_llama_ref: $(call objs,$(TOKENIZER_PART)) | $(B)/test/llama_logprobs
$(B)/test/test_llama_ref: test_libs := $(TOKENIZER_LIBS)
# fuzzing (clang's libFuzzer; doc/formats.md "Fuzzing"): make fuzz-safetensors / fuzz-gguf
# grow test/fuzz/<format>/; test_fuzz_replay replays that corpus in make test
FUZZ_SECONDS ?= 180
FUZZ_SRCS = $(patsubst %,src/%.c,$(CONVERT_PART) $(MODEL_PART) $(CKPT_PART) $(DATA_PART) $(UTIL_PART))
$(B)/dev/fuzz_seeds: dev/fuzz_seeds.c $(call objs,$(CONVERT_PART) $(MODEL_PART) $(CKPT_PART) $(DATA_PART) $(UTIL_PART))
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itest $^ $(LDFLAGS) $(LDLIBS) -lcjson -o $@
$(B)/fuzz/%: dev/fuzz_readers.c test/fuzz_harness.h $(FUZZ_SRCS)
	@mkdir -p $(dir $@)
	clang -std=gnu11 -O1 -g -Iinclude -Itest -fsanitize=fuzzer,address,undefined $(if $(filter gguf,$*),-DFUZZ_GGUF) \
	    dev/fuzz_readers.c $(FUZZ_SRCS) -lcjson -lm -o $@
.PHONY: fuzz-seeds fuzz-safetensors fuzz-gguf
fuzz-seeds: $(B)/dev/fuzz_seeds
	$(B)/dev/fuzz_seeds test/fuzz && mv test/fuzz/safetensors/seed/model.safetensors test/fuzz/safetensors/seed_llama.safetensors && rm -r test/fuzz/safetensors/seed
fuzz-safetensors fuzz-gguf: fuzz-%: $(B)/fuzz/%
	$(B)/fuzz/$* -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -timeout=2 -rss_limit_mb=2048 test/fuzz/$*

# ---- EntiGraph client and corpus reader (issue #4) ------------------------------
CORPUS_PART    := data/corpus
GGUF_PART      := weights/gguf
ENTIGRAPH_PART := $(addprefix entigraph/,entigraph_prompts entigraph_plan entigraph_journal entigraph_http entigraph_api entigraph_cost entigraph_batch)
ENTIGRAPH_LIBS := -lcurl $(TOKENIZER_LIBS)
PROGRAMS += entigraph
entigraph_objs  = $(call objs,entigraph $(ENTIGRAPH_PART) $(TOKENIZER_PART) $(CORPUS_PART) $(UTIL_PART))
entigraph_libs := $(ENTIGRAPH_LIBS)
TESTS += test_corpus test_entigraph test/test_entigraph_faults.sh test/test_entigraph_llama.sh test/test_entigraph_plan.sh test/test_entigraph_batch.sh test/test_sft.sh
$(B)/test/test_corpus: $(call objs,$(CORPUS_PART) $(UTIL_PART))
$(B)/test/test_corpus: test_libs := -lcjson
$(B)/test/test_entigraph: $(call objs,$(ENTIGRAPH_PART) $(TOKENIZER_PART) $(CORPUS_PART) $(UTIL_PART))
$(B)/test/test_entigraph: test_libs := $(ENTIGRAPH_LIBS)
# the random-weight GGUF maker that test/test_entigraph_llama.sh runs (the fault test's
# scripted server is test/entigraph_fault_server.js)
TEST_HELPERS += make_tiny_llama
$(B)/test/make_tiny_llama: $(call objs,$(GGUF_PART) $(UTIL_PART))
.PHONY: bench-entigraph
bench-entigraph: $(BIN)/entigraph $(B)/test/make_tiny_llama
	dev/bench_entigraph.sh

# ---- CUDA kernels (issue #5): kernels/*.cu, their GPU tests and benchmarks -------
# Built whenever nvcc is found, so a machine without a GPU still proves they compile.
# Objects go to build/cuda whatever B is: the sanitizer build links the same ones.
# `make test-gpu` fails where no device works, with the CUDA error (SCPT_REQUIRE_GPU=0: skips)
SCPT_REQUIRE_GPU ?= 1
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
CUDA_LIBS  := -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcudart -lcublas -lstdc++
KERNELS_PART := encoder layernorm rmsnorm rope attention flash_attention attention_gemm gelu swiglu residual residual_norm classifier adamw global_norm
KERNELS_OBJS := $(patsubst %,$(CUDA_B)/kernels/%.o,$(KERNELS_PART))
# dev/cuda: one benchmark per kernel family (see dev/cuda/README.md)
KERNEL_BENCHES := $(patsubst dev/cuda/%.cu,%,$(wildcard dev/cuda/bench_*.cu))
all: $(KERNELS_OBJS)
$(CUDA_B)/%.o: %.cu
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCC_FLAGS) -c $< -o $@

# kernel tests against the CPU twins (test_kernels_gpu: kernels/, test_attention_gpu:
# the attention kernels, test_matmul_gpu: the cuBLASLt matmuls); they skip (and pass)
# without a device, except under SCPT_REQUIRE_GPU=1, which `make test-gpu` sets. Neither they nor the benchmarks are
# in the ASan rerun: the CUDA runtime maps memory where ASan keeps its shadow gap
# (compute-sanitizer checks the GPU side instead).
GPU_TESTS := test_kernels_gpu test_attention_gpu test_matmul_gpu
ifneq ($(B),build/asan)
TESTS += $(GPU_TESTS)
all: $(addprefix $(CUDA_B)/dev/,$(KERNEL_BENCHES))
endif
$(B)/test/test_kernels_gpu: $(CUDA_B)/test/test_kernels_gpu.o $(KERNELS_OBJS) $(call objs,$(LAYERS_PART) $(UTIL_PART))
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) $(CUDA_LIBS) -o $@
# the attention kernels against the CPU reference, the fp32 kernels and the CPU model of the tensor-core ones
$(B)/test/test_attention_gpu: $(CUDA_B)/test/test_attention_gpu.o $(KERNELS_OBJS) $(call objs,$(LAYERS_PART) model/flash_attention $(UTIL_PART))
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) $(CUDA_LIBS) -o $@
$(B)/test/test_matmul_gpu: $(CUDA_B)/test/test_matmul_gpu.o $(CUDA_B)/kernels/matmul.o $(call objs,$(LAYERS_PART) $(UTIL_PART))
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) $(CUDA_LIBS) -lcublasLt -o $@
test-gpu gpu-sanitize: export SCPT_REQUIRE_GPU := $(SCPT_REQUIRE_GPU)
# `make gpu-sanitize` (or `make test-gpu SANITIZE=1`): compute-sanitizer memcheck and
# racecheck over the kernel tests, memcheck over the matmuls and the GPU model's
# gradient tests (its small shapes: every kernel forward and backward); one kernel
# family under racecheck: compute-sanitizer --tool racecheck build/test/test_kernels_gpu rope
COMPUTE_SANITIZER := $(firstword $(shell command -v compute-sanitizer 2>/dev/null) $(CUDA_HOME)/bin/compute-sanitizer)
GPU_SANITIZE_RUNS := memcheck:test_kernels_gpu racecheck:test_kernels_gpu memcheck:test_attention_gpu \
                     racecheck:test_attention_gpu memcheck:test_matmul_gpu
.PHONY: test-gpu bench-kernels gpu-sanitize
test-gpu: $(addprefix $(B)/test/,$(GPU_TESTS))
	test/run_tests.sh $(addprefix $(B)/test/,$(GPU_TESTS)) $(GPU_TEST_SCRIPTS)
ifeq ($(SANITIZE),1)
	$(MAKE) gpu-sanitize
endif
gpu-sanitize: $(addprefix $(B)/test/,$(GPU_TESTS))
	@if ! $(B)/test/test_kernels_gpu --probe; then \
	    $(B)/test/test_kernels_gpu | grep -v '^tally'; \
	    echo "compute-sanitizer not run: no CUDA device"; [ "$$SCPT_REQUIRE_GPU" != 1 ]; exit; fi; \
	for run in $(GPU_SANITIZE_RUNS); do \
	    set -- $$(echo $$run | tr ':' ' '); \
	    echo "== compute-sanitizer --tool $$1 $(B)/test/$$2 $$3"; \
	    $(COMPUTE_SANITIZER) --tool $$1 --error-exitcode 1 $(B)/test/$$2 $$3 || exit 1; \
	done

$(CUDA_B)/dev/%: $(CUDA_B)/dev/cuda/%.o $(KERNELS_OBJS) $(call objs,$(LAYERS_PART) $(UTIL_PART))
	$(CC) $(LDFLAGS) $^ $(LDLIBS) $(CUDA_LIBS) -o $@
bench-kernels: $(addprefix $(CUDA_B)/dev/,$(KERNEL_BENCHES))
	@for b in $(KERNEL_BENCHES); do $(CUDA_B)/dev/$$b || exit 1; done
else
$(info note: nvcc not found: the CUDA kernels, their tests and benchmarks are skipped)
.PHONY: test-gpu bench-kernels gpu-sanitize
test-gpu bench-kernels gpu-sanitize:
	@echo "$(if $(filter 1,$(SCPT_REQUIRE_GPU)),FAIL,SKIP): nvcc not found (install the CUDA toolkit to build the GPU path)"; \
	 [ "$(SCPT_REQUIRE_GPU)" != 1 ]
endif

# ---- evaluation (issue #8): QA accuracy, BM25 retrieval, perplexity, the scaling-curve fit ----
EVAL_PART := eval/qa $(CORPUS_PART) eval/eval_qa eval/eval_score eval/bm25
# train --qa: QA accuracy in the metrics (src/eval/train_qa.c)
train_objs += $(call objs,eval/train_qa $(EVAL_PART) $(TOKENIZER_PART))
train_libs += $(TOKENIZER_LIBS)
PROGRAMS += eval
# eval --server (issue #15): generative QA and dense retrieval through a server, on entigraph's HTTP layer
EVAL_GEN_PART := $(addprefix eval/,answer gen_prompt settings_journal eval_gen oai_batch retrieve_dense eval_summaries eval_server) \
                 $(addprefix entigraph/,entigraph_http entigraph_journal entigraph_prompts entigraph_plan entigraph_api)
eval_objs  = $(call objs,eval $(EVAL_PART) $(EVAL_GEN_PART) $(TOKENIZER_PART) $(MODEL_PART) $(CKPT_PART) $(DATA_PART) $(UTIL_PART))
eval_libs := $(TOKENIZER_LIBS) -lcurl
TESTS += test_eval_gen test/test_eval_server.sh test/test_eval_llama.sh
$(B)/test/test_eval_gen: $(call objs,$(addprefix eval/,answer gen_prompt oai_batch retrieve_dense qa) entigraph/entigraph_http entigraph/entigraph_prompts $(CORPUS_PART) $(UTIL_PART))
$(B)/test/test_eval_gen: test_libs := -lcurl -lcjson
PROGRAMS += fitcurve corpus_text
corpus_text_objs  = $(call objs,corpus_text $(CORPUS_PART) $(UTIL_PART))
corpus_text_libs := -lcjson
fitcurve_objs  = $(call objs,fitcurve eval/fit $(UTIL_PART))
fitcurve_libs := -lcjson
EVAL_TESTS := test_eval test_fit
TESTS += test/test_eval.sh
$(B)/test/test_fit: $(call objs,eval/fit $(UTIL_PART))
# the whole pipeline on this machine: generation, CPT at three budgets, eval, plot (scripts/demo.sh)
.PHONY: demo llama-cpp
demo: all llama-cpp
	scripts/demo.sh
# the paper's Section 6 model made runnable (issue #18): a fictional world, a stand-in LM,
# Raw / Rephrase / EntiGraph CPT at five budgets, eval, fits, plot (scripts/miniature.sh);
# test/test_miniature.sh runs it at reduced size
.PHONY: miniature
miniature: all
	scripts/miniature.sh
TESTS += test/test_miniature.sh
# llama.cpp's llama-server and libllama (the tests' reference, make demo's generator),
# built into $(SCPT_CACHE)/llama.cpp with a progress line; quick when built
llama-cpp:
	scripts/setup.d/llama_server.sh
	scripts/setup.d/llama_tools.sh
TESTS += $(EVAL_TESTS)
$(addprefix $(B)/test/,$(EVAL_TESTS)): $(call objs,$(EVAL_PART) $(TOKENIZER_PART) $(MODEL_PART) $(CKPT_PART) $(DATA_PART) $(UTIL_PART))
$(addprefix $(B)/test/,$(EVAL_TESTS)): test_libs := $(TOKENIZER_LIBS)

# ---- data parallel (issue #6): collectives, ZeRO-0/1, the scaling plan ---------
# Open MPI is a setup dependency, so `train` always links it; without mpirun/srun it
# never calls MPI_Init and runs as world 1. Where pkg-config finds no Open MPI, the
# MPI backend is left out and --comm mpi says so.
MPI_CFLAGS := $(shell pkg-config --cflags ompi-c 2>/dev/null)
MPI_LIBS   := $(shell pkg-config --libs ompi-c 2>/dev/null)
# the gradient buckets: the plan (comm) and the model's ranges in backward order (model)
BUCKETS_PART := comm/buckets model/grad_buckets
COMM_PART  := comm/comm $(BUCKETS_PART) dist/zero $(if $(MPI_LIBS),comm/comm_mpi)
train_objs += $(call objs,$(COMM_PART))
train_libs += $(MPI_LIBS)
$(B)/comm/comm_mpi.o: CFLAGS += $(MPI_CFLAGS)
# the NCCL backend, for the CUDA path: built when nvcc and nccl.h are found, in
# NCCL_HOME, else $(CUDA_HOME), else the pip wheel PyTorch installs (nvidia/nccl,
# whose library is only libnccl.so.2)
CUDA_HOME  ?= /usr/local/cuda
NCCL_HOME  ?= $(if $(wildcard $(CUDA_HOME)/include/nccl.h),$(CUDA_HOME),$(shell python3 -c \
              'import nvidia.nccl as n; print(n.__path__[0])' 2>/dev/null))
NCCL_FOUND := $(and $(wildcard $(CUDA_HOME)/bin/nvcc),$(wildcard $(NCCL_HOME)/include/nccl.h))
NCCL_LIBDIRS := $(wildcard $(NCCL_HOME)/lib $(NCCL_HOME)/lib64)
NCCL_PART  := comm/comm_nccl comm/rendezvous
NCCL_LIBS  := $(foreach d,$(NCCL_LIBDIRS),-L$(d) -Wl,-rpath,$(d)) \
              $(if $(wildcard $(addsuffix /libnccl.so,$(NCCL_LIBDIRS))),-lnccl,-l:libnccl.so.2) \
              -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcudart
$(B)/comm/comm_nccl.o $(B)/test/test_comm_nccl.o: CFLAGS += -I$(NCCL_HOME)/include -I$(CUDA_HOME)/include
ifeq ($(MAKELEVEL),0)
ifneq ($(NVCC),)
$(info NCCL: $(if $(NCCL_FOUND),$(NCCL_HOME) (NCCL data parallel and its tests are built),not found in NCCL_HOME, \
  $(CUDA_HOME)/include or pip's nvidia/nccl: train has no NCCL backend and test-gpu fails without its tests))
endif
endif
DP_TESTS := test_comm test_buckets test_plan test/test_dp.sh
TESTS += $(DP_TESTS) $(if $(NCCL_FOUND),test_comm_nccl)
$(B)/test/test_comm: $(call objs,comm/comm comm/buckets comm/rendezvous $(if $(MPI_LIBS),comm/comm_mpi) $(UTIL_PART))
$(B)/test/test_comm: test_libs := $(MPI_LIBS)
$(B)/test/test_comm_nccl: $(call objs,comm/comm comm/buckets $(NCCL_PART) $(if $(MPI_LIBS),comm/comm_mpi) $(UTIL_PART))
# the plan over the presets' layouts, world 1..8 (no collectives: the none backend)
$(B)/test/test_buckets: $(call objs,comm/comm $(BUCKETS_PART) $(MODEL_PART) $(UTIL_PART))
$(B)/test/test_comm_nccl: test_libs := $(NCCL_LIBS) $(MPI_LIBS)
TEST_HELPERS += ckpt_diff
$(B)/test/ckpt_diff: $(call objs,weights/safetensors $(UTIL_PART))
$(B)/test/ckpt_diff: test_libs := -lcjson
# the memory / communication / time plan of doc/scaling.md
PROGRAMS += plan
plan_objs = $(call objs,plan dist/plan $(MODEL_PART) $(UTIL_PART))
$(B)/test/test_plan: $(call objs,dist/plan $(MODEL_PART) $(UTIL_PART))
# the roofline of one GPU training step (plan --roofline)
TESTS += test_roofline
$(B)/test/test_roofline: $(call objs,$(MODEL_PART) $(UTIL_PART))
.PHONY: scaling-doc
scaling-doc: $(BIN)/plan
	$(BIN)/plan --doc >doc/scaling.md

# ---- GPU model and training path (issue #5): cuBLASLt matmuls, src/model/model_cuda.cu ---
# train runs on the GPU when one is visible (--device auto|cpu|cuda). It links the
# GPU model whenever nvcc is found, except in the sanitizer build (ASan and the
# CUDA runtime do not mix); otherwise src/model/model_cuda_stub.c, which sees no device.
train_objs += $(B)/model/device.o
ifneq ($(NVCC),)
ifneq ($(B),build/asan)
GPU_MODEL_OBJS := $(CUDA_B)/src/model/model_cuda.o $(CUDA_B)/kernels/matmul.o $(KERNELS_OBJS)
GPU_MODEL_LIBS := $(CUDA_LIBS) -lcublasLt
# whole-model gradients, 200-step loss curve and checkpoint exchange against the CPU path
TESTS += test_model_gpu
GPU_TESTS += test_model_gpu
GPU_SANITIZE_RUNS += memcheck:test_model_gpu:gradients
test-gpu gpu-sanitize: $(B)/test/test_model_gpu
$(B)/test/test_model_gpu: $(GPU_MODEL_OBJS) $(call objs,comm/comm $(BUCKETS_PART) $(MODEL_PART) $(CKPT_PART) $(DATA_PART) $(UTIL_PART))
$(B)/test/test_model_gpu: test_libs := -lcjson $(GPU_MODEL_LIBS)
endif
endif
train_objs += $(if $(GPU_MODEL_OBJS),$(GPU_MODEL_OBJS),$(B)/model/model_cuda_stub.o)
train_libs += $(GPU_MODEL_LIBS)

# ---- data parallel on GPUs (issue #6): train links the NCCL backend with the GPU model ----
# test/test_dp_gpu.sh (make test-gpu, not make test): NCCL at world 1 against --comm none,
# and with 2 GPUs ZeRO-0/1 against 1 GPU x 2B and kill + resume; skips without GPUs
ifneq ($(and $(GPU_MODEL_OBJS),$(NCCL_FOUND)),)
train_objs += $(call objs,$(NCCL_PART))
train_libs += $(NCCL_LIBS)
endif
# test_dp_gpu.sh runs without NCCL too, to fail (SCPT_REQUIRE_GPU=1) or skip saying so;
# test_train_gpu.sh: train --device cuda end to end (host memory, --no-final-ckpt)
ifneq ($(GPU_MODEL_OBJS),)
GPU_TEST_SCRIPTS := test/test_dp_gpu.sh test/test_train_gpu.sh
test-gpu: $(BIN)/train $(B)/test/make_shards $(B)/test/ckpt_diff $(if $(NCCL_FOUND),$(B)/test/test_comm_nccl)
endif
# end-to-end training throughput and MFU against PyTorch (needs a GPU and torch)
.PHONY: bench-e2e
bench-e2e: $(BIN)/train $(BIN)/plan $(B)/test/make_shards
	dev/bench_e2e.sh

# ---- the first GPU run (issue #13): dev/gpu_check.sh, doc/gpu_training.md ----------
# gpu-check: machine, build, test-gpu, train vs PyTorch, compute-sanitizer, kernel
# benchmarks, each gated on time; logs and verdict in $(OUT) (or out/gpu_check).
# gpu-deps: here, where apt works, the .deb files of what the build links that a GPU
# machine may lack (cJSON, PCRE2, make: train links -lcjson -lpcre2-8; libcurl only
# entigraph, which the check does not build), into gpu_deps/ (ignored by git; it
# travels with a copy of the tree, and gpu_check.sh unpacks it with dpkg -x)
GPU_DEBS := libcjson1 libcjson-dev libpcre2-8-0 libpcre2-dev make
.PHONY: gpu-check gpu-deps
gpu-check:
	dev/gpu_check.sh $(OUT)
gpu-deps:
	mkdir -p gpu_deps && cd gpu_deps && apt-get download $(GPU_DEBS)

.PHONY: all test test-asan asan-run deps clean help
.SECONDARY:
all: $(addprefix $(BIN)/,$(PROGRAMS))

define program_rule
$(BIN)/$(1): $$($(1)_objs)
	@mkdir -p $(BIN)
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

# closes with one line adding up the plain and the sanitizer runs
test: deps
	$(MAKE) all $(filter $(B)/test/%,$(test_commands)) $(addprefix $(B)/test/,$(TEST_HELPERS))
	@mkdir -p build && rm -f build/test_totals
	SCPT_TOTALS=build/test_totals test/run_tests.sh $(test_commands)
	SCPT_TOTALS=build/test_totals $(MAKE) test-asan
	@awk '{p += $$1; f += $$2; s += $$3} END {printf "overall: %d passed, %d failed, %d skipped\n", p, f, s}' build/test_totals

# the suite again, built with AddressSanitizer and UndefinedBehaviorSanitizer
# (its programs go to build/asan/bin: build/asan/<part>/ holds the objects)
test-asan:
	$(MAKE) B=build/asan BIN=build/asan/bin EXTRA_CFLAGS="-O2 -fsanitize=address,undefined,float-cast-overflow -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	        EXTRA_LDFLAGS="-fsanitize=address,undefined,float-cast-overflow" asan-run

asan-run: all $(filter $(B)/test/%,$(test_commands)) $(addprefix $(B)/test/,$(TEST_HELPERS))
	SCPT_BIN=$(BIN) SCPT_TESTS=$(B)/test SCPT_SANITIZED=1 test/run_tests.sh $(test_commands)

clean:
	rm -rf build $(PROGRAMS)

help:
	@echo "make all (or make)   build the programs: $(PROGRAMS) (and the CUDA path when nvcc is found)"
	@echo "make PROGRAM         build one of them, e.g. make train"
	@echo "make test            install test dependencies (llama.cpp included), build, run the whole suite,"
	@echo "                     then again under ASan+UBSan"
	@echo "make test-asan       only the ASan+UBSan run of the suite"
	@echo "make test-gpu        the GPU tests: fail without a working device (SCPT_REQUIRE_GPU=0: skip)"
	@echo "make gpu-sanitize    compute-sanitizer memcheck and racecheck on the GPU tests"
	@echo "make gpu-check       the one command for a GPU machine: tests, sanitizer, benchmarks, verdict (dev/gpu_check.sh)"
	@echo "make gpu-deps        download here the .deb files a GPU machine without -dev packages builds against"
	@echo "make deps            install what builds and tests need (scripts/setup --deps-only)"
	@echo "make llama-cpp       build llama.cpp's llama-server and libllama into the cache"
	@echo "make demo-data       tokenize the Brown corpus into data/demo (train's default data)"
	@echo "make demo            the whole pipeline on this machine: generation, CPT at three budgets, eval, plot"
	@echo "make miniature       the paper's Section 6 model made runnable: world, stand-in LM, Raw/Rephrase/EntiGraph CPT, fits, plot"
	@echo "make scaling-doc     regenerate doc/scaling.md from ./plan"
	@echo "make fuzz-seeds      write the fuzzing seeds into test/fuzz"
	@echo "make fuzz-safetensors, fuzz-gguf"
	@echo "                     grow the fuzzing corpus with libFuzzer (clang; FUZZ_SECONDS, default $(FUZZ_SECONDS))"
	@echo "make bench-tokenizer, bench-entigraph, bench-kernels, bench-e2e"
	@echo "                     benchmarks (doc/benchmarks.md)"
	@echo "make clean           remove build outputs"
	@echo "make help            this list"

-include $(shell find build -name '*.d' 2>/dev/null)
