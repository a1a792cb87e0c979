#!/usr/bin/env bash
# scripts/bootstrap.sh end to end with a stand-in client (test/fake_entigraph.sh):
# a GPT-2-vocabulary model trained one step here is exported to GGUF with llama.cpp's
# GPT-2 vocabulary, llama-server serves it, and a chat completion comes back.
set -u
cd "$(dirname "$0")/.."
. test/check.sh
make_shards=$tests/make_shards
cache=${SCPT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/scpt}
# convert and train under ASan: test_convert.sh covers them
[ -n "${SCPT_SANITIZED:-}" ] && skip_all "the sanitized run (8 s of llama-server for no sanitized code)"
[ -x "$cache/llama.cpp/build/bin/llama-server" ] || skip_all "llama-server is not built (scripts/setup.d/llama_server.sh)"
scratch test_bootstrap

$make_shards "$tmp/train" 1 2000 50257 1 >/dev/null || { echo "cannot make shards"; exit 1; }
$bin/train --model gpt2-demo --train "$tmp/train_*.bin" --val "" --batch 1 --seq 16 --steps 1 --warmup 1 \
    --threads 2 --out "$tmp/run" >"$tmp/train.log" 2>&1 || { cat "$tmp/train.log"; bad "train"; }
echo '{"id": "a", "text": "A short document."}' >"$tmp/corpus.jsonl"
if BIN=$bin ENTIGRAPH=test/fake_entigraph.sh SLOTS=1 scripts/bootstrap.sh "$tmp/run/ckpt_00000001.safetensors" \
    "$tmp/corpus.jsonl" "$tmp/boot" >"$tmp/boot.log" 2>&1; then
    ok "bootstrap.sh exports, serves and runs the client"
else
    tail -n 20 "$tmp/boot.log"
    bad "bootstrap.sh"
fi
if grep -q '"choices"' "$tmp/boot/entigraph.jsonl" 2>/dev/null; then
    ok "llama-server answered a chat completion from our GGUF"
else
    bad "no completion in the output: $(head -c 300 "$tmp/boot/entigraph.jsonl" 2>/dev/null)"
fi
finish
