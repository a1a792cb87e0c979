#!/usr/bin/env bash
# train --device cuda end to end on gpt2-124m at T = 1024 (make test-gpu; not part
# of make test): the host memory of a GPU run does not grow with B x T x T (train
# used to reserve the CPU model's activations on the GPU path too: two fp32 copies
# of every activation, L x B x NH x T x T attention probabilities included: over
# 2 GiB per sequence here), and --no-final-ckpt writes no checkpoint. Without a GPU it is
# skipped with the reason, or fails under SCPT_REQUIRE_GPU=1.
set -u
cd "$(dirname "$0")/.."
. test/check.sh
scratch test_train_gpu

probe=$("$bin/train" --device cuda --model gpt2-124m --seq 1024 --train "$tmp/none_*.bin" --val '' \
    --out "$tmp/probe" 2>&1)
grep -q "no CUDA device" <<<"$probe" && gpu_unavailable "no GPU: $(grep -o 'no CUDA device.*' <<<"$probe")"

"$tests/make_shards" "$tmp/train" 1 200000 50257 1 || { echo "cannot make shards"; exit 1; }
# peak allocated host memory (train's closing line: VmPeak, which counts allocations
# never touched, as the unused activations were) of a 2-step run at batch $1
peak_mib() {
    "$bin/train" --device cuda --model gpt2-124m --train "$tmp/train_*.bin" --val '' --seq 1024 --batch "$1" \
        --steps 2 --no-final-ckpt --log-every 1 --out "$tmp/b$1" >"$tmp/b$1.log" 2>&1 || { tail -3 "$tmp/b$1.log"; echo 0; return; }
    sed -nE 's/^peak host memory: ([0-9]+) MiB allocated.*/\1/p' "$tmp/b$1.log"
}
small=$(peak_mib 1)
large=$(peak_mib 8)
echo "  peak host memory: batch 1 $small MiB, batch 8 $large MiB (reserving CPU activations added ~20 GiB)"
check "a GPU run at batch 1 reports its peak host memory" test "${small:-0}" -gt 0
check "a GPU run at batch 8 reports its peak host memory" test "${large:-0}" -gt 0
# 7 more sequences of 1024 tokens cost the host their token ids and the loader's
# windows (well under 1 MiB). Whether the GPU's own allocations show in the address
# space depends on the driver's unified addressing: its activations for 7 more
# sequences are ~2.8 GB. Reserving host activations added ~20 GiB. Limit: 4 GiB.
check "host memory does not grow with B x T x T on the GPU path (+$((large - small)) MiB, limit 4096)" \
    test $((large - small)) -le 4096
check "--no-final-ckpt: 2 steps trained" grep -q '"step": 2,' "$tmp/b8/metrics.jsonl"
check "--no-final-ckpt: no checkpoint written" test -f "$tmp/b8/metrics.jsonl" -a -z "$(ls "$tmp/b8" | grep ckpt_)"
finish
