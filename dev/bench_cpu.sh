#!/usr/bin/env bash
# CPU training throughput of `train` on GPT-2 124M (B=4, T=64: llm.c's
# train_gpt2.c shape) and on the llama3-demo shape (Llama 3 vocabulary, GQA), with llm.c's CPU trainer
# measured in the same run when you point at it:
#   dev/bench_cpu.sh                          ours only
#   LLMC_DIR=/path/to/llm.c dev/bench_cpu.sh  also llm.c's ./train_gpt2, run in that
#                                             folder (built there with its own Makefile,
#                                             with gpt2_124M.bin and the tinyshakespeare
#                                             shards it expects)
# Prints the median step time over the timed steps and tokens/s; the first step
# (page faults, allocation) is not timed. Threads: OMP_NUM_THREADS, else all cores.
set -euo pipefail
cd "$(dirname "$0")/.."
steps=${STEPS:-8}
threads=${OMP_NUM_THREADS:-$(nproc)}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
[ -x ./train ] || make -s train
ls data/demo/brown_train_*.bin >/dev/null 2>&1 || make -s demo-data

# median of the numbers on stdin
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# ours: step_ms from the metrics file, steps 2..N
ours() {  # preset batch seq
    local name=$1 B=$2 T=$3
    ./train --model "$name" --batch "$B" --seq "$T" --steps "$steps" --warmup 1 --eval-every 0 --val '' \
        --threads "$threads" --out "$work/$name" --keep-ckpts 1 --log-every 1000 >/dev/null
    sed -n 's/.*"step": \([0-9]*\),.*"step_ms": \([0-9.]*\),.*/\1 \2/p' "$work/$name/metrics.jsonl" |
        awk '$1 > 1 { print $2 }' | median
}

report() {  # label ms tokens
    awk -v l="$1" -v ms="$2" -v n="$3" 'BEGIN { printf "%-34s %9.1f ms/step %9.0f tokens/s\n", l, ms, n / ms * 1000 }'
}

echo "threads: $threads, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(date -u +%F)"
ms=$(ours gpt2-124m 4 64)
report "scpt gpt2-124m B=4 T=64" "$ms" 256
if [ -n "${LLMC_DIR:-}" ]; then
    # llm.c prints "step N: train loss X (took Y ms)" for steps 0..40, with validation
    # and sampling between some of them; only the train steps 1.. are timed
    llmc_ms=$(cd "$LLMC_DIR" && OMP_NUM_THREADS=$threads ./train_gpt2 |
        sed -n 's/^step \([0-9]*\): train loss .* (took \([0-9.]*\) ms)/\1 \2/p' |
        awk '$1 > 0 { print $2 }' | median)
    report "llm.c train_gpt2 B=4 T=64" "$llmc_ms" 256
    awk -v a="$ms" -v b="$llmc_ms" 'BEGIN { printf "ratio: scpt is %.2fx llm.c tokens/s\n", b / a }'
fi
ms=$(ours llama3-demo 4 256)
report "scpt llama3-demo B=4 T=256" "$ms" 1024
