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
# (KEEP=1 keeps it to look at), the scripted server of node_server stopped with it
server_pid=
scratch() {
    tmp=$(mktemp -d "/tmp/scpt_$1_XXXXXX")
    trap '[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; [ -z "${KEEP:-}" ] && rm -rf "$tmp"' EXIT
}
# node_server PORT_FILE SCRIPT ARGS...: (re)starts a scripted node server in the
# background, the one before it stopped first, and waits up to 10 s for it to write
# its port into PORT_FILE; the port in $port
node_server() {
    local port_file=$1
    shift
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    rm -f "$port_file"
    node "$@" &
    server_pid=$!
    for _ in $(seq 200); do [ -s "$port_file" ] && break; sleep 0.05; done
    port=$(cat "$port_file")
}
