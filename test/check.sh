# Sourced by the test scripts (after they cd to the repo root).
# check NAME COMMAND... runs the command and records ok or FAIL; finish prints the
# closing "N passed, N failed, N skipped" line that test/run_tests.sh adds up, and
# returns the status to exit with.
pass=0 fail=0 skipped=0
ok() { echo "ok   $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1"; fail=$((fail + 1)); }
check() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }
finish() { echo "$pass passed, $fail failed, $skipped skipped"; [ "$fail" -eq 0 ]; }
# the whole script skipped, with the reason
skip_all() { echo "  skipped: $1"; echo "0 passed, 0 failed, 1 skipped"; exit 0; }

# the build under test: the repo root, or build/asan for the sanitizer run (SCPT_BIN)
bin=${SCPT_BIN:-.}
# that build's test programs and helpers (the plain build keeps them in build/test)
tests=$bin/test
[ "$bin" = . ] && tests=build/test
# tmp: a scratch directory removed when the script exits
scratch() { tmp=$(mktemp -d "/tmp/scpt_$1_XXXXXX"); trap 'rm -rf "$tmp"' EXIT; }
