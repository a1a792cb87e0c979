# Sourced by the test scripts (after they cd to the repo root).
# check NAME COMMAND... runs the command and prints "[pass] NAME" or "[FAIL] NAME";
# finish prints the script's "tally: pass=N fail=N skip=N" line that test/run_tests.sh
# adds up (the shape of test/test.h's), and returns the status to exit with.
pass=0 fail=0 skipped=0
ok() { echo "[pass] $1"; pass=$((pass + 1)); }
bad() { echo "[FAIL] $1"; fail=$((fail + 1)); }
check() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }
finish() { echo "tally: pass=$pass fail=$fail skip=$skipped"; [ "$fail" -eq 0 ]; }
# the whole script skipped, with the reason
skip_all() { echo "  skipped: $1"; echo "tally: pass=0 fail=0 skip=1"; exit 0; }
# a GPU script that cannot run (no device, a part not built): skipped with the reason,
# or under SCPT_REQUIRE_GPU=1 (make test-gpu) a failure with it
gpu_unavailable() {
    [ "${SCPT_REQUIRE_GPU:-}" = 1 ] || skip_all "$1"
    bad "$1 (SCPT_REQUIRE_GPU=1)"
    finish
    exit 1
}

# the programs under test: the repo root, or build/asan/bin for the sanitizer run (SCPT_BIN)
bin=${SCPT_BIN:-.}
# that build's test programs and helpers: build/test, or build/asan/test (SCPT_TESTS)
tests=${SCPT_TESTS:-build/test}
# tmp: a scratch directory removed when the script exits
scratch() { tmp=$(mktemp -d "/tmp/scpt_$1_XXXXXX"); trap 'rm -rf "$tmp"' EXIT; }
