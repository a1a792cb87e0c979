# Sourced by the llama.cpp parts (not run by scripts/setup: its name ends in .bash).
# cmake_progress NAME LOG BUILD_DIR JOBS TARGET...: builds the targets, the full log in
# LOG, and shows cmake's percentage as it goes: one line redrawn on a terminal, a line
# per 10% otherwise. On failure prints the log's tail and exits 1.
cmake_progress() {
    local name=$1 log=$2 build=$3 jobs=$4
    shift 4
    local tty=0
    [ -t 1 ] && tty=1
    if ! cmake --build "$build" --target "$@" -j"$jobs" 2>&1 | tee "$log" |
        awk -v name="$name" -v tty=$tty -v t0="$(date +%s)" '
            match($0, /^\[ *[0-9]+%\]/) {
                p = substr($0, 2, RLENGTH - 3) + 0
                if (tty) { printf "\r%s: %3d%% (%d s)", name, p, systime() - t0; fflush() }
                else if (p >= next_p) { printf "%s: %3d%% (%d s)\n", name, p, systime() - t0; fflush(); next_p = p - p % 10 + 10 }
            }
            END { if (tty) printf "\n" }'; then
        tail -n 30 "$log" >&2
        exit 1
    fi
}
