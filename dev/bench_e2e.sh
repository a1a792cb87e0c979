#!/usr/bin/env bash
# End-to-end training throughput on the GPU: scpt's `train` and the PyTorch
# reference (dev/bench_pytorch.py: same model and batch, torch.compile, SDPA
# flash attention, bf16 autocast, fused AdamW) measured in the same run, with
# tokens/s, MFU and the ratio. Needs a CUDA device and, for the reference, torch.
#   dev/bench_e2e.sh                  gpt2-124m at B=16,32,64 and llama3.2-1b at B=16, T=1024
#   STEPS=50 PEAK_TFLOPS=989 dev/bench_e2e.sh
# MFU = tokens/s x FLOPs per token / peak, FLOPs per token = 6 N + 12 L C T (N the
# matmul weights, lm head included once; PaLM's count, as llm.c and nanoGPT use),
# peak = the card's dense bf16 rate: 989 TFLOP/s for H100 SXM and H200.
# Timing: mean step time over the steps after the first 5 (allocation, cuBLASLt
# heuristics, torch.compile).
set -euo pipefail
cd "$(dirname "$0")/.."
steps=${STEPS:-30}
peak=${PEAK_TFLOPS:-989}
T=1024
python=${PYTHON:-python3}
tmp=$(mktemp -d /tmp/scpt_bench_e2e_XXXXXX)
trap 'rm -rf "$tmp"' EXIT
[ -x ./train ] && [ -x build/test/make_shards ] || { echo "bench_e2e: run 'make train build/test/make_shards' first"; exit 1; }
build/test/make_shards "$tmp/gpt2" 1 4000000 50257 1
build/test/make_shards "$tmp/llama" 1 4000000 128256 1

# model batch vocab-shards -> "tokens/s mfu%" of scpt's train
scpt_run() {
    local model=$1 batch=$2 data=$3 out="$tmp/run_$1_$2"
    ./train --device cuda --model "$model" --train "$tmp/${data}_*.bin" --val '' --batch "$batch" --seq $T \
        --steps "$steps" --warmup 1 --log-every 10 --out "$out" >"$out.log" 2>&1 || { tail -5 "$out.log" >&2; echo "failed -"; return; }
    local flops
    flops=$(sed -nE 's/^flops per token: ([0-9.e+]+).*/\1/p' "$out.log")
    sed -nE 's/.*"step": ([0-9]+), .*"step_ms": ([0-9.]+).*/\1 \2/p' "$out/metrics.jsonl" |
        awk -v tok=$((batch * T)) -v flops="$flops" -v peak="$peak" \
            '$1 > 5 { ms += $2; n++ } END { ts = tok / (ms / n / 1e3); printf "%.0f %.1f\n", ts, 100 * ts * flops / (peak * 1e12) }'
}

# model batch -> "tokens/s mfu%" of the PyTorch reference
torch_run() {
    local out
    if ! out=$("$python" dev/bench_pytorch.py --model "$1" --batch "$2" --seq $T --steps "$steps" --peak-tflops "$peak" 2>"$tmp/torch.err"); then
        tail -3 "$tmp/torch.err" >&2
        echo "failed -"
        return
    fi
    echo "$out" | sed -nE 's/.*: ([0-9]+) tokens\/s, .* MFU ([0-9.]+)%.*/\1 \2/p'
}

nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
date -u
printf "%-12s %4s %5s | %12s %6s | %12s %6s | %s\n" model B T "scpt tok/s" MFU "torch tok/s" MFU "scpt/torch"
for run in "gpt2-124m 16 gpt2" "gpt2-124m 32 gpt2" "gpt2-124m 64 gpt2" "llama3.2-1b 16 llama"; do
    set -- $run
    read -r s_tok s_mfu < <(scpt_run "$1" "$2" "$3")
    read -r t_tok t_mfu < <(torch_run "$1" "$2")
    ratio=$(awk -v a="$s_tok" -v b="$t_tok" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2fx", a / b; else print "-" }')
    printf "%-12s %4s %5s | %12s %5s%% | %12s %5s%% | %s\n" "$1" "$2" $T "$s_tok" "$s_mfu" "$t_tok" "$t_mfu" "$ratio"
done
