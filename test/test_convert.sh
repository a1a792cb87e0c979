#!/usr/bin/env bash
# The convert program and train --init: a trained checkpoint -> Hugging Face folder
# -> checkpoint -> folder again is byte-identical; train starts from a folder and
# from a GGUF and names the tokenizer beside it; bad flags and inputs exit non-zero
# with the file named. SCPT_BIN selects the build (repo root or build/asan/bin).
set -u
cd "$(dirname "$0")/.."
. test/check.sh
make_shards=$tests/make_shards
scratch test_convert_sh
# check, with the command's last lines when it fails
check() { local name=$1; shift; if "$@" >"$tmp/log" 2>&1; then ok "$name"; else bad "$name: $(tail -n 3 "$tmp/log")"; fi; }
fails_with() { # name, expected message, command...
    local name=$1 want=$2; shift 2
    if "$@" >"$tmp/out" 2>&1; then bad "$name (succeeded)"; elif grep -qF -- "$want" "$tmp/out"; then ok "$name";
    else bad "$name: $(cat "$tmp/out")"; fi
}

$make_shards "$tmp/train" 1 3000 100 1 || { echo "cannot make shards"; exit 1; }
common=(--train "$tmp/train_*.bin" --val "" --batch 2 --seq 16 --lr 1e-3 --warmup 1 --seed 3 --threads 2 --eval-every 0)
check "train a tiny llama" $bin/train --model tiny-llama "${common[@]}" --steps 2 --ckpt-every 2 --out "$tmp/run"
ckpt=$tmp/run/ckpt_00000002.safetensors
echo '{"model": {"type": "BPE", "vocab": {}, "merges": []}}' >"$tmp/run/tokenizer.json"
check "checkpoint -> HF folder" $bin/convert --in "$ckpt" --out "$tmp/hf"
check "the tokenizer beside it is copied" cmp "$tmp/run/tokenizer.json" "$tmp/hf/tokenizer.json"
check "HF folder -> checkpoint" $bin/convert --in "$tmp/hf" --out "$tmp/back.safetensors"
check "-> HF folder again" $bin/convert --in "$tmp/back.safetensors" --out "$tmp/hf2"
check "HF round trip is byte-identical" cmp "$tmp/hf/model.safetensors" "$tmp/hf2/model.safetensors"
check "HF folder -> GGUF bf16" $bin/convert --in "$tmp/hf" --out "$tmp/m.gguf" --dtype bf16
check "GGUF -> HF folder" $bin/convert --in "$tmp/m.gguf" --out "$tmp/hf3" --dtype bf16
check "bf16 HF from GGUF == bf16 HF from the folder" \
    bash -c "$bin/convert --in '$tmp/hf' --out '$tmp/hf4' --dtype bf16 && cmp '$tmp/hf3/model.safetensors' '$tmp/hf4/model.safetensors'"
$bin/train --init "$tmp/hf" "${common[@]}" --steps 1 --out "$tmp/run2" >"$tmp/init.log" 2>&1
check "train --init HF folder runs" test -f "$tmp/run2/metrics.jsonl"
check "train --init names the tokenizer beside it" grep -qF "its tokenizer: $tmp/hf/tokenizer.json" "$tmp/init.log"
check "train --init GGUF runs" $bin/train --init "$tmp/m.gguf" "${common[@]}" --steps 1 --out "$tmp/run3"

fails_with "unknown dtype" "--dtype must be" $bin/convert --in "$ckpt" --out "$tmp/x" --dtype q4
fails_with "missing model" "$tmp/nothing" $bin/convert --in "$tmp/nothing" --out "$tmp/x"
mkdir -p "$tmp/bert" && echo '{"model_type": "bert"}' >"$tmp/bert/config.json"
fails_with "unsupported architecture" "model_type 'bert' is not supported" $bin/train --init "$tmp/bert" "${common[@]}" --out "$tmp/run4"
printf 'GGUF\003\0\0\0' >"$tmp/short.gguf"
fails_with "truncated GGUF" "short.gguf" $bin/convert --in "$tmp/short.gguf" --out "$tmp/x"
finish
