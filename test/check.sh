# Sourced by test scripts: check NAME COMMAND... runs the command and records ok
# or FAIL; finish prints the closing "N passed, N failed, N skipped" line that
# test/run_tests.sh adds up, and returns the status to exit with.
pass=0 fail=0 skipped=0
ok() { echo "ok   $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1"; fail=$((fail + 1)); }
check() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }
finish() { echo "$pass passed, $fail failed, $skipped skipped"; [ "$fail" -eq 0 ]; }
