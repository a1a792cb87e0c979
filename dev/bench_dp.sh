#!/usr/bin/env bash
# Data-parallel throughput on this machine: the same global batch as 1 rank with
# all cores (the reference, measured in the same run) and as 2 MPI ranks with half
# the cores each, ZeRO-0 and ZeRO-1. On one machine the ranks share memory
# bandwidth and cores, so this measures the overhead of the collectives and the
# split, not a speed-up.
#   dev/bench_dp.sh [MODEL] [GLOBAL_BATCH] [SEQ] [STEPS]
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:-gpt2-demo} batch=${2:-16} seq=${3:-64} steps=${4:-30}
make -s train build/test/make_shards
tmp=$(mktemp -d /tmp/scpt_bench_dp_XXXXXX)
trap 'rm -rf "$tmp"' EXIT
build/test/make_shards "$tmp/train" 1 200000 50257 1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl_vader_single_copy_mechanism=none
cores=$(nproc)
common=(--model "$model" --train "$tmp/train_*.bin" --val "" --seq "$seq" --steps "$steps" --log-every 1000000)
# the "done:" line's mean ms/step (the first step, which allocates, is left out)
ms() { sed -nE 's/^done: .* mean ([0-9.]+) ms\/step.*/\1/p' "$1"; }
./train "${common[@]}" --batch "$batch" --threads "$cores" --out "$tmp/ref" >"$tmp/ref.log"
ref=$(ms "$tmp/ref.log")
echo "machine: $cores cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); $model, global batch $batch x $seq, $steps steps"
printf '%-34s %10s %10s\n' run "ms/step" "vs 1 rank"
printf '%-34s %10s %10s\n' "1 rank x $batch, $cores threads" "$ref" "1.00"
for z in 0 1; do
    mpirun --oversubscribe --bind-to none -np 2 ./train "${common[@]}" --batch $((batch / 2)) --zero $z \
        --threads $((cores / 2 > 0 ? cores / 2 : 1)) --out "$tmp/z$z" >"$tmp/z$z.log"
    t=$(ms "$tmp/z$z.log")
    printf '%-34s %10s %10s\n' "2 ranks x $((batch / 2)), ZeRO-$z" "$t" "$(awk -v a="$t" -v b="$ref" 'BEGIN { printf "%.2f", a / b }')"
done
