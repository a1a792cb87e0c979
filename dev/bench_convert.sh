#!/usr/bin/env bash
# Conversion throughput on a GPT-2 124M checkpoint (random weights, one training
# step): checkpoint -> GGUF f16, -> Hugging Face bf16, Hugging Face -> checkpoint,
# each against `cp` of its input file in the same run (the disk's ceiling).
set -eu
cd "$(dirname "$0")/.."
make -s convert train build/test/make_shards
tmp=$(mktemp -d /tmp/scpt_bench_convert_XXXXXX)
trap 'rm -rf "$tmp"' EXIT
build/test/make_shards "$tmp/d" 1 4000 50257 1 >/dev/null
./train --model gpt2-124m --train "$tmp/d_*.bin" --val "" --batch 1 --seq 16 --steps 1 --warmup 1 --out "$tmp/run" >/dev/null
ckpt=$tmp/run/ckpt_00000001.safetensors
./convert --in "$ckpt" --out "$tmp/hf0" >/dev/null   # the folder the last row reads
t() { local s; s=$(date +%s.%N); "$@" >/dev/null; echo "$(date +%s.%N) - $s" | bc; }
row() { # name, input file, command...
    local name=$1 in=$2; shift 2
    local mb; mb=$(($(stat -c %s "$in") / 1000000))
    local tc; tc=$(t cp "$in" "$tmp/copy")
    local tx; tx=$(t "$@")
    printf '%-28s %5d MB in  %6.2f s  cp %5.2f s  ratio %.1fx\n' "$name" "$mb" "$tx" "$tc" "$(echo "$tx / $tc" | bc -l)"
}
echo "convert, GPT-2 124M; $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); $(date -u +%F)"
row "checkpoint -> GGUF f16" "$ckpt" ./convert --in "$ckpt" --out "$tmp/m.gguf" --dtype f16
row "checkpoint -> HF bf16" "$ckpt" ./convert --in "$ckpt" --out "$tmp/hf" --dtype bf16
row "HF f32 -> checkpoint" "$tmp/hf0/model.safetensors" ./convert --in "$tmp/hf0" --out "$tmp/back.safetensors"
