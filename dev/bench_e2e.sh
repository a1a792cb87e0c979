#!/usr/bin/env bash
# End-to-end training throughput on the GPU: scpt's `train` and the PyTorch
# reference (dev/bench_pytorch.py: same model and batch, torch.compile, SDPA
# flash attention, bf16 autocast, fused AdamW) measured in the same run, with
# tokens/s, MFU and the ratio. Needs a CUDA device and, for the reference, torch.
#   dev/bench_e2e.sh [--steps N] [--logs DIR] [--no-torch] [MODEL:BATCH[:SEQ[:LAYERS]] ...]
#   dev/bench_e2e.sh                          gpt2-124m at B=16,32,64 and llama3.2-1b at B=16, T=1024
#   dev/bench_e2e.sh --steps 20 gpt2-124m:16  one configuration, 20 steps
#   dev/bench_e2e.sh llama3-8b:1:8192:4       Llama 3 8B's layer shapes, 4 of its 32 layers
#                                             (the whole model's weights and Adam state do not
#                                             fit one card); "8B tok/s" rescales tokens/s to the
#                                             whole model at the same MFU
# --logs keeps every run's log there (default: a temporary folder, removed);
# PEAK_TFLOPS (default 989) and PYTHON (default python3) from the environment.
# Beside each measured step: the step `plan --roofline` expects on this card
# (ROOFLINE_GPU: h100, h100-pcie, h200 or a100; default from nvidia-smi's name) and
# measured / expected.
# MFU = tokens/s x FLOPs per token / peak, FLOPs per token = 6 N + 12 L C T (N the
# matmul weights, lm head included once; PaLM's count, as llm.c and nanoGPT use),
# peak = the card's dense bf16 rate: 989 TFLOP/s for H100 SXM and H200.
# Timing: mean step time over the steps after the first 5 (allocation, cuBLASLt
# heuristics, torch.compile), so --steps must be at least 7. train writes no final
# checkpoint (--no-final-ckpt). Exits 1 when any run failed.
set -uo pipefail
cd "$(dirname "$0")/.."
steps=${STEPS:-30}
peak=${PEAK_TFLOPS:-989}
python=${PYTHON:-python3}
logs='' torch=1 configs=()
while [ $# -gt 0 ]; do
    case $1 in
        --steps) steps=$2; shift 2 ;;
        --logs) logs=$2; shift 2 ;;
        --no-torch) torch=0; shift ;;
        -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
        -*) echo "bench_e2e: unknown option '$1' (see --help)" >&2; exit 2 ;;
        *) configs+=("$1"); shift ;;
    esac
done
[ ${#configs[@]} -gt 0 ] || configs=(gpt2-124m:16 gpt2-124m:32 gpt2-124m:64 llama3.2-1b:16)
[[ $steps =~ ^[0-9]+$ ]] && [ "$steps" -ge 7 ] || { echo "bench_e2e: --steps must be a number >= 7, not '$steps'" >&2; exit 2; }
[ -x ./train ] && [ -x build/test/make_shards ] || { echo "bench_e2e: run 'make train build/test/make_shards' first" >&2; exit 1; }
tmp=$(mktemp -d /tmp/scpt_bench_e2e_XXXXXX)
trap 'rm -rf "$tmp"' EXIT
[ -n "$logs" ] || logs=$tmp/logs
mkdir -p "$logs"

# the shards of a model's vocabulary, made once: 4M random-rule tokens
shards() {
    local family=gpt2 vocab=50257
    case $1 in llama*) family=llama vocab=128256 ;; esac
    [ -f "$tmp/${family}_000.bin" ] || build/test/make_shards "$tmp/$family" 1 4000000 $vocab 1 >&2
    echo "$tmp/${family}_*.bin"
}

# model batch seq layers -> "tokens/s mfu% step_ms" of scpt's train (or "failed - -")
scpt_run() {
    local model=$1 batch=$2 seq=$3 log="$logs/train_$1_b$2_t$3_l$4.log" out="$tmp/run_$1_$2_$3_$4"
    if ! ./train --device cuda --model "$model" --layers "$4" --train "$(shards "$model")" --val '' --batch "$batch" \
        --seq "$seq" --steps "$steps" --warmup 1 --log-every 10 --no-final-ckpt --out "$out" >"$log" 2>&1; then
        tail -3 "$log" >&2
        echo "failed - -"
        return
    fi
    local flops
    flops=$(sed -nE 's/^flops per token: ([0-9.e+]+).*/\1/p' "$log")
    sed -nE 's/.*"step": ([0-9]+), .*"step_ms": ([0-9.]+).*/\1 \2/p' "$out/metrics.jsonl" |
        awk -v tok=$((batch * seq)) -v flops="$flops" -v peak="$peak" \
            '$1 > 5 { ms += $2; n++ } END { ts = tok / (ms / n / 1e3); printf "%.0f %.1f %.1f\n", ts, 100 * ts * flops / (peak * 1e12), ms / n }'
}

# model batch seq layers -> "tokens/s mfu%" of the PyTorch reference (or "failed -", "skipped -")
torch_run() {
    local log="$logs/torch_$1_b$2_t$3_l$4.log"
    [ $torch = 1 ] || { echo "skipped -"; return; }
    if ! "$python" dev/bench_pytorch.py --model "$1" --batch "$2" --seq "$3" --layers "$4" --steps "$steps" \
        --peak-tflops "$peak" >"$log" 2>&1; then
        tail -3 "$log" >&2
        echo "failed -"
        return
    fi
    sed -nE 's/.*: ([0-9]+) tokens\/s, .* MFU ([0-9.]+)%.*/\1 \2/p' "$log"
}

# model batch seq layers -> the step time `plan --roofline` expects, ms (or - without ./plan)
roofline_ms() {
    [ -x ./plan ] || { echo -; return; }
    ./plan --roofline --gpu "$card" --peak-tflops "$peak" --model "$1" --batch "$2" --seq "$3" --layers "$4" 2>/dev/null |
        sed -nE 's/^expected step: ([0-9.]+) ms.*/\1/p' | grep . || echo -
}

gpu_name=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)
case $gpu_name in *H200*) card=h200 ;; *H100*PCIe*) card=h100-pcie ;; *A100*) card=a100 ;; *) card=h100 ;; esac
card=${ROOFLINE_GPU:-$card}
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null || echo "nvidia-smi: not found or failed"
date -u
echo "$steps steps per run, timed after the first 5"
echo "roofline: plan --roofline --gpu $card"
printf "%-12s %4s %5s | %12s %6s | %12s %6s | %10s | %9s %12s %8s\n" model B T "scpt tok/s" MFU "torch tok/s" MFU \
    "scpt/torch" "step ms" "roofline ms" "measured/roofline"
failed=0
for config in "${configs[@]}"; do
    IFS=: read -r model batch seq layers <<<"$config"
    seq=${seq:-1024} layers=${layers:-0}
    [[ $batch =~ ^[0-9]+$ && $seq =~ ^[0-9]+$ && $layers =~ ^[0-9]+$ ]] ||
        { echo "bench_e2e: '$config' is not MODEL:BATCH[:SEQ[:LAYERS]]" >&2; exit 2; }
    read -r s_tok s_mfu s_ms < <(scpt_run "$model" "$batch" "$seq" "$layers")
    r_ms=$(roofline_ms "$model" "$batch" "$seq" "$layers")
    read -r t_tok t_mfu < <(torch_run "$model" "$batch" "$seq" "$layers")
    [ "$s_tok" = failed ] || [ "$t_tok" = failed ] && failed=1
    ratio=$(awk -v a="$s_tok" -v b="$t_tok" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2fx", a / b; else print "-" }')
    vs=$(awk -v a="$s_ms" -v b="$r_ms" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2fx", a / b; else print "-" }')
    printf "%-12s %4s %5s | %12s %5s%% | %12s %5s%% | %10s | %9s %12s %8s\n" "$model" "$batch" "$seq" "$s_tok" "$s_mfu" \
        "$t_tok" "$t_mfu" "$ratio" "$s_ms" "$r_ms" "$vs"
    if [ "$layers" != 0 ] && [ "$s_tok" != failed ] && [ -x ./plan ]; then
        # the whole model at the same MFU: its tokens/s = MFU x peak / its FLOPs per token
        whole=$(./plan --roofline --gpu "$card" --model "$model" --batch "$batch" --seq "$seq" 2>/dev/null |
            sed -nE "s/.*PaLM's ([0-9.e+]+) FLOP per token.*/\1/p")
        awk -v m="$s_mfu" -v p="$peak" -v f="$whole" -v model="$model" -v l="$layers" 'BEGIN { if (f > 0)
            printf "  %s cut to %s layers: the whole model at this MFU: %.0f tokens/s per GPU\n", model, l, m / 100 * p * 1e12 / f }'
    fi
done
exit $failed
