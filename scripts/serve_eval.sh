#!/usr/bin/env bash
# The serve-and-eval loop on one machine: a checkpoint `train` wrote -> `convert` to
# GGUF -> llama.cpp's llama-server -> `eval --server` (generative chain-of-thought QA,
# doc/eval.md) -> the server stopped again.
#
#   scripts/serve_eval.sh (--run DIR | --ckpt FILE) --qa FILE [options] [-- EVAL_ARGS...]
#
#   --run DIR         a train run directory: its newest checkpoint
#   --ckpt FILE       a checkpoint (or anything convert reads: HF folder, .gguf, llm.c .bin)
#   --qa FILE         the questions (QuALITY JSONL or the simple format)
#   --out DIR         eval's output directory, and model.gguf (default out/serve_eval)
#   --tokenizer FILE  tokenizer.json or a GGUF holding tokenizer.* keys (default: the
#                     tokenizer.json beside the checkpoint, else llama.cpp's GPT-2 vocabulary)
#   --dtype T         GGUF weights: f32, f16 (default) or bf16
#   --slots N         llama-server slots = requests in flight (default 4)
#   --ctx N           tokens per slot (default 4096: 5 exemplars + an article's question + 300 new)
#   --server-bin P    llama-server (default: the one scripts/setup builds)
#   --server-args S   more llama-server arguments, split at spaces (e.g. "-t 8 -ngl 99")
# Everything after -- goes to eval (e.g. -- --samples 5 --limit 100 --chat).
# On a GPU machine the same loop runs on vLLM instead (doc/eval.md "Serving with vLLM").
set -euo pipefail
cd "$(dirname "$0")/.."
. test/llama_server.sh   # start_llama_server, $llama_server, $llama_vocab

run='' ckpt='' qa='' out=out/serve_eval tokenizer='' dtype=f16 slots=4 ctx=4096 server_args=''
bin=${SCPT_BIN:-.}
die() { echo "serve_eval: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
    case $1 in
    --run) run=$2; shift 2 ;;
    --ckpt) ckpt=$2; shift 2 ;;
    --qa) qa=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --tokenizer) tokenizer=$2; shift 2 ;;
    --dtype) dtype=$2; shift 2 ;;
    --slots) slots=$2; shift 2 ;;
    --ctx) ctx=$2; shift 2 ;;
    --server-bin) llama_server=$2; shift 2 ;;
    --server-args) server_args=$2; shift 2 ;;
    --) shift; break ;;
    -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
    esac
done
[ -n "$qa" ] || die "--qa FILE is required"
[ -f "$qa" ] || die "--qa $qa: no such file"
if [ -n "$run" ]; then
    ckpt=$(ls "$run"/ckpt_*.safetensors 2>/dev/null | sort | tail -n 1)
    [ -n "$ckpt" ] || die "--run $run: no ckpt_*.safetensors in it"
fi
[ -n "$ckpt" ] || die "give --run DIR or --ckpt FILE"
[ -e "$ckpt" ] || die "--ckpt $ckpt: no such file"
[ -x "$llama_server" ] || die "$llama_server is not there (scripts/setup.d/llama_server.sh builds it, or give --server-bin)"
if [ -z "$tokenizer" ] && [ ! -f "$(dirname "$ckpt")/tokenizer.json" ]; then tokenizer=$llama_vocab; fi

mkdir -p "$out"
gguf=$out/model.gguf
if [ ! -f "$gguf" ] || [ "$ckpt" -nt "$gguf" ]; then
    echo "serve_eval: converting $ckpt -> $gguf ($dtype)"
    "$bin/convert" --in "$ckpt" --out "$gguf" --dtype "$dtype" ${tokenizer:+--tokenizer "$tokenizer"}
fi

server_pid=
trap '[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null' EXIT
echo "serve_eval: starting llama-server ($slots slots x $ctx tokens), log $out/llama-server.log"
# shellcheck disable=SC2086 # --server-args is a list of words
start_llama_server "$gguf" "$out/llama-server.log" "$slots" $((slots * ctx)) $server_args ||
    die "llama-server did not start (its log: $out/llama-server.log)"
echo "serve_eval: llama-server on port $port"
rc=0
"$bin/eval" --server "http://127.0.0.1:$port/v1" --qa "$qa" --out "$out" --concurrency "$slots" "$@" || rc=$?
exit $rc
