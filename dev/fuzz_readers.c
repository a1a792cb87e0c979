// libFuzzer harnesses of the safetensors and GGUF readers (test/fuzz_harness.h).
// Built by `make fuzz-safetensors` / `make fuzz-gguf` with clang -fsanitize=fuzzer,
// which run for FUZZ_SECONDS on the corpus in test/fuzz/<format>/ and add the
// inputs that reach new code to it (doc/formats.md, "Fuzzing").
#include "fuzz_harness.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    fuzz_setup();
    atexit(fuzz_teardown);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
#ifdef FUZZ_GGUF
    fuzz_gguf(data, size);
#else
    fuzz_safetensors(data, size);
#endif
    return 0;
}
