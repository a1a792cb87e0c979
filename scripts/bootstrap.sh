#!/usr/bin/env bash
# Bootstrapping (EntiGraph paper, open question 4): a model trained here writes its
# own synthetic corpus. Exports MODEL (a checkpoint, Hugging Face folder or llm.c
# .bin) to GGUF, serves it with llama.cpp's llama-server on a loopback port, and
# runs `entigraph` against it; the output JSONL can then be tokenized and trained on.
#
#   scripts/bootstrap.sh MODEL CORPUS OUT_DIR [entigraph options...]
#   env: VOCAB=gpt2|llama3|FILE  tokenizer for the GGUF when MODEL has no tokenizer.json
#        beside it (default gpt2: llama.cpp's GPT-2 vocabulary; llama3: the cached
#        tokenizer.json); DTYPE=f32|f16|bf16 (default f16); SLOTS (4); CTX (tokens, 4096 per slot);
#        BIN (where convert and entigraph are, default .); ENTIGRAPH (default $BIN/entigraph); SCPT_CACHE.
# Writes OUT_DIR/model.gguf, OUT_DIR/server.log and OUT_DIR/entigraph.jsonl (resumed
# when run again, as entigraph resumes its output).
set -euo pipefail
[ $# -ge 3 ] || { sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
model=$1 corpus=$2 out=$3
shift 3
bin=${BIN:-.}
entigraph=${ENTIGRAPH:-$bin/entigraph}
cache=${SCPT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/scpt}
server=$cache/llama.cpp/build/bin/llama-server
slots=${SLOTS:-4}
ctx=${CTX:-$((4096 * slots))}
for p in "$bin/convert" "$entigraph" "$server"; do
    [ -x "$p" ] || { echo "bootstrap: $p is missing (make; scripts/setup --deps-only builds llama-server)" >&2; exit 1; }
done
[ -e "$corpus" ] || { echo "bootstrap: corpus $corpus does not exist" >&2; exit 1; }
mkdir -p "$out"

# the tokenizer: the one beside the model, else VOCAB
tokenizer=()
beside=$([ -d "$model" ] && echo "$model/tokenizer.json" || echo "$(dirname "$model")/tokenizer.json")
if [ ! -f "$beside" ]; then
    case ${VOCAB:-gpt2} in
    gpt2) tokenizer=(--tokenizer "$cache/llama.cpp/src/models/ggml-vocab-gpt-2.gguf") ;;
    llama3) tokenizer=(--tokenizer "$cache/vocab/llama3/tokenizer.json") ;;
    *) tokenizer=(--tokenizer "$VOCAB") ;;
    esac
fi
echo "bootstrap: exporting $model to $out/model.gguf"
"$bin/convert" --in "$model" --out "$out/model.gguf" --dtype "${DTYPE:-f16}" "${tokenizer[@]}"

server_pid=
trap '[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; true' EXIT
for try in 1 2 3; do
    port=$((20000 + RANDOM % 20000))
    "$server" -m "$out/model.gguf" --host 127.0.0.1 --port "$port" -np "$slots" -c "$ctx" -t "$(nproc)" \
        >"$out/server.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 240); do
        curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break 2
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.25
    done
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=
done
[ -n "$server_pid" ] || { tail -n 20 "$out/server.log" >&2; echo "bootstrap: llama-server did not start" >&2; exit 1; }
echo "bootstrap: llama-server (pid $server_pid) serves $out/model.gguf on 127.0.0.1:$port"

OPENAI_BASE_URL=http://127.0.0.1:$port/v1 OPENAI_API_KEY=none \
    "$entigraph" --corpus "$corpus" --output "$out/entigraph.jsonl" --model scpt --concurrency "$slots" "$@"
echo "bootstrap: synthetic corpus in $out/entigraph.jsonl; next: tokenize it and train --init on it"
