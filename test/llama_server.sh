# Sourced by test/test_entigraph_llama.sh and dev/bench_entigraph.sh: where
# llama.cpp's server and vocab files are, and how to start the server.
cache=${SCPT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/scpt}
llama_server=$cache/llama.cpp/build/bin/llama-server
llama_vocab=$cache/llama.cpp/src/models/ggml-vocab-gpt-2.gguf

# start_llama_server MODEL LOG SLOTS CTX [ARGS...]: serves MODEL on a free loopback port
# (ARGS go to llama-server); sets $port and $server_pid, returns 1 (after showing the
# log) when it cannot
start_llama_server() {
    local try
    for try in 1 2 3; do
        port=$((20000 + (RANDOM % 20000)))
        "$llama_server" -m "$1" --host 127.0.0.1 --port "$port" -np "$3" -c "$4" -t "$(nproc)" "${@:5}" >"$2" 2>&1 &
        server_pid=$!
        for _ in $(seq 120); do
            node -e 'require("http").get(process.argv[1], (r) => process.exit(r.statusCode === 200 ? 0 : 1))
                         .on("error", () => process.exit(1))' "http://127.0.0.1:$port/health" && return 0
            kill -0 "$server_pid" 2>/dev/null || break
            sleep 0.25
        done
        kill "$server_pid" 2>/dev/null
        wait "$server_pid" 2>/dev/null
        server_pid=
    done
    tail -n 20 "$2"
    return 1
}
