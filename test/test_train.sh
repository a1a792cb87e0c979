#!/usr/bin/env bash
# End-to-end tests of the train program: learning, exact resume (straight run vs
# stop + resume, and vs kill -9 + resume), flag validation and error messages.
# SCPT_BIN selects the build (the repo root, or build/asan/bin for the sanitizer run).
set -u
cd "$(dirname "$0")/.."
. test/check.sh
train=$bin/train
make_shards=$tests/make_shards
scratch test_train

$make_shards "$tmp/train" 2 3000 100 1 && $make_shards "$tmp/replay" 1 2000 100 2 &&
    $make_shards "$tmp/val" 1 1000 100 3 || { echo "cannot make shards"; exit 1; }
common=(--model tiny-llama --train "$tmp/train_*.bin" --replay "$tmp/replay_*.bin" --replay-frac 0.3
        --val "$tmp/val_*.bin" --batch 4 --seq 16 --grad-accum 2 --lr 3e-3 --warmup 2 --eval-every 5
        --val-batches 2 --seed 7 --threads 2)
losses() { grep '"loss"' "$1" | sed -E 's/.*"step": ([0-9]+), "loss": ([0-9.]+).*/\1 \2/'; }

# a straight 20-step run, checkpointing at 10 and 20
$train "${common[@]}" --steps 20 --ckpt-every 10 --keep-ckpts 0 --out "$tmp/a" >"$tmp/a.log" 2>&1
check "straight run completes" test -f "$tmp/a/ckpt_00000020.safetensors"
first=$(losses "$tmp/a/metrics.jsonl" | head -n 1 | cut -d' ' -f2)
last=$(losses "$tmp/a/metrics.jsonl" | tail -n 1 | cut -d' ' -f2)
check "loss falls ($first -> $last)" awk -v a="$first" -v b="$last" 'BEGIN { exit !(b < a - 0.5) }'
check "progress line shows loss, tok/s and ETA" grep -qE 'step +20/20 \| loss [0-9.]+ .*tok/s \| ETA' "$tmp/a.log"
check "validation loss logged" grep -q '"val_loss"' "$tmp/a/metrics.jsonl"

# --layers cuts the preset (a big model's layer shapes in a benchmark); a resume keeps the run's
$train "${common[@]}" --layers 1 --steps 2 --val '' --out "$tmp/layers" >"$tmp/layers.log" 2>&1
check "--layers 1 trains a one-layer tiny-llama" grep -q "tiny-llama: llama, 1 layers" "$tmp/layers.log"
$train "${common[@]}" --layers 3 --steps 4 --val '' --out "$tmp/layers" >"$tmp/layers3.log" 2>&1
check "--layers refuses to resume a run of another depth" grep -q "the run in .* has 1 layers" "$tmp/layers3.log"

# stop at 10, resume to 20: the same losses and byte-identical final weights
mkdir -p "$tmp/b"
cp "$tmp/a/ckpt_00000010.safetensors" "$tmp/b/"
head -n "$(grep -n '"step": 10,' "$tmp/a/metrics.jsonl" | tail -n 1 | cut -d: -f1)" "$tmp/a/metrics.jsonl" \
    >"$tmp/b/metrics.jsonl"
$train "${common[@]}" --steps 20 --resume auto --out "$tmp/b" >"$tmp/b.log" 2>&1
check "resume reports the step" grep -q "resumed .* at step 10" "$tmp/b.log"
check "resumed losses equal the straight run's" cmp -s <(losses "$tmp/a/metrics.jsonl") <(losses "$tmp/b/metrics.jsonl")
check "resumed final checkpoint is byte-identical" cmp -s "$tmp/a/ckpt_00000020.safetensors" "$tmp/b/ckpt_00000020.safetensors"
cp "$tmp/b/ckpt_00000020.safetensors" "$tmp/b20.safetensors"
$train "${common[@]}" --steps 20 --out "$tmp/b" >"$tmp/b2.log" 2>&1
check "a finished run is not redone" grep -q "the run is complete: step 20 of 20" "$tmp/b2.log"
check "a finished run is not overwritten" cmp -s "$tmp/b20.safetensors" "$tmp/b/ckpt_00000020.safetensors"

# kill -9 mid-run after a checkpoint, resume: the same end state as a straight run
$train "${common[@]}" --steps 300 --eval-every 0 --log-every 100 --out "$tmp/k1" >"$tmp/k1.log" 2>&1
$train "${common[@]}" --steps 300 --eval-every 0 --log-every 100 --ckpt-every 25 --out "$tmp/k2" >"$tmp/k2.log" 2>&1 &
pid=$!
for _ in $(seq 2000); do
    compgen -G "$tmp/k2/ckpt_*.safetensors" >/dev/null && break
    sleep 0.01
done
killed=0
kill -9 $pid 2>/dev/null && killed=1
wait $pid 2>/dev/null
check "the run was killed mid-way" test $killed -eq 1 -a ! -e "$tmp/k2/ckpt_00000300.safetensors"
# rerun as it was started: a run directory holding checkpoints is continued without a flag
$train "${common[@]}" --steps 300 --eval-every 0 --log-every 100 --ckpt-every 25 --out "$tmp/k2" \
    >"$tmp/k2b.log" 2>&1
check "killed run resumed to a byte-identical end" \
    cmp -s "$tmp/k1/ckpt_00000300.safetensors" "$tmp/k2/ckpt_00000300.safetensors"
check "no step logged twice after kill + resume" \
    test "$(losses "$tmp/k2/metrics.jsonl" | cut -d' ' -f1 | sort | uniq -d | wc -l)" -eq 0
check "every step logged after kill + resume" test "$(losses "$tmp/k2/metrics.jsonl" | wc -l)" -eq 300

# a resume that would change the data order is refused
$train "${common[@]}" --steps 20 --batch 8 --resume "$tmp/a/ckpt_00000010.safetensors" --out "$tmp/d" >"$tmp/d.log" 2>&1
check "resume with another --batch refused" grep -q "cannot continue the same trajectory" "$tmp/d.log"

# --no-final-ckpt: the steps and their metrics, no checkpoint
$train "${common[@]}" --steps 3 --no-final-ckpt --out "$tmp/n" >"$tmp/n.log" 2>&1
check "--no-final-ckpt trains" grep -q '"step": 3,' "$tmp/n/metrics.jsonl"
check "--no-final-ckpt writes no checkpoint" test -z "$(ls "$tmp/n" | grep ckpt_)"

# The peak allocated host memory train reports (VmPeak) sees the CPU path's
# activations: 64 x 64 tokens of tiny-llama-hs64 hold ~140 MiB of them (two fp32
# copies of ~4300 values per token), 1 x 64 tokens ~2 MiB. test/test_train_gpu.sh
# reads the same line to show that a --device cuda run allocates none.
peak() { sed -nE 's/^peak host memory: ([0-9]+) MiB allocated.*/\1/p' "$1"; }
for b in 1 64; do
    $train "${common[@]}" --model tiny-llama-hs64 --seq 64 --batch $b --grad-accum 1 --val '' --steps 1 \
        --no-final-ckpt --out "$tmp/m$b" >"$tmp/m$b.log" 2>&1
done
p1=$(peak "$tmp/m1.log") p64=$(peak "$tmp/m64.log")
grow=$(( ${p64:-0} - ${p1:-0} ))
check "peak host memory grows with the CPU path's activations (+$grow MiB, expected ~140)" test $grow -ge 100

# flags and errors
$train --help >"$tmp/help.log" 2>&1
check "--help exits 0 and documents flags" grep -q -- "--replay-frac" "$tmp/help.log"
$train --batch 0 >"$tmp/e1.log" 2>&1
check "--batch 0 rejected" test $? -eq 2 -a -n "$(grep 'outside' "$tmp/e1.log")"
$train --bogus >"$tmp/e2.log" 2>&1
check "unknown flag rejected" grep -q "unknown option '--bogus'" "$tmp/e2.log"
$train --model tiny-gpt2 --seq 16 --train "$tmp/none_*.bin" --val '' --out "$tmp/e" >"$tmp/e3.log" 2>&1
check "missing shards named" grep -q "none_\*.bin" "$tmp/e3.log"
$train --model nope --out "$tmp/e" >"$tmp/e4.log" 2>&1
check "unknown preset named" grep -q "unknown model preset 'nope'" "$tmp/e4.log"
printf 'garbage' >"$tmp/bad.safetensors"
$train --init "$tmp/bad.safetensors" --out "$tmp/e" >"$tmp/e5.log" 2>&1
check "corrupt checkpoint named" grep -q "bad.safetensors" "$tmp/e5.log"

finish
