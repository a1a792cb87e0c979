#!/usr/bin/env bash
# Data parallel on GPUs over NCCL (make test-gpu; not part of make test). With one
# GPU: --comm nccl at world 1 against --comm none, and mpirun -np 1 choosing NCCL.
# With two or more: 2 ranks x batch B against 1 GPU x batch 2B for ZeRO-0 and
# ZeRO-1, ZeRO-0 against ZeRO-1, the ZeRO-1 memory saving, kill + resume under 2
# ranks, a 2-rank checkpoint continued on 1 GPU at the same global batch (another
# refused), and the launch scripts (mpirun and the torchrun-style TCP rendezvous).
# Without a GPU (or without NCCL) it is skipped with the reason, or fails under
# SCPT_REQUIRE_GPU=1 (make test-gpu sets it). Run it by hand as
# test/test_dp_gpu.sh after `make test-gpu` has built what it needs.
set -u
cd "$(dirname "$0")/.."
. test/check.sh
. test/dp_common.sh
scratch test_dp_gpu

# Is there a GPU? train itself says so: --device cuda stops at once without one (it
# stops later on the missing shards with one). nvidia-smi counts them (within
# CUDA_VISIBLE_DEVICES when set); without it, one is assumed.
probe=$("$bin/train" --device cuda --comm none --model tiny-llama-hs64 --seq 16 --train "$tmp/none_*.bin" \
    --val '' --out "$tmp/probe" 2>&1)
grep -q "no CUDA device" <<<"$probe" && gpu_unavailable "no GPU: $(grep -o 'no CUDA device.*' <<<"$probe")"
[ -x "$tests/test_comm_nccl" ] || gpu_unavailable "NCCL was not found at build time (see make's 'NCCL:' line)"
gpus=1
command -v nvidia-smi >/dev/null && gpus=$(nvidia-smi -L | grep -c '^GPU')
if [ -n "${CUDA_VISIBLE_DEVICES:-}" ]; then
    visible=$(tr ',' '\n' <<<"$CUDA_VISIBLE_DEVICES" | grep -c .)
    [ "$visible" -lt "$gpus" ] && gpus=$visible
fi
echo "GPUs: $gpus"

"$tests/make_shards" "$tmp/train" 2 3000 100 1 && "$tests/make_shards" "$tmp/replay" 1 2000 100 2 &&
    "$tests/make_shards" "$tmp/val" 1 1000 100 3 || { echo "cannot make shards"; exit 1; }
# tiny-llama-hs64: head size 64, the smallest the attention kernel runs; GQA, RoPE,
# untied head. Deterministic kernels, so reruns and resumes are bitwise.
common=(--model tiny-llama-hs64 --device cuda --deterministic 1 --train "$tmp/train_*.bin"
        --replay "$tmp/replay_*.bin" --replay-frac 0.3 --val "$tmp/val_*.bin" --seq 32 --grad-accum 2 --lr 3e-3
        --warmup 2 --eval-every 6 --val-batches 2 --seed 7 --log-every 100 --bucket-mib 0.01)
# --bucket-mib 0.01: a bucket per layer, one for the final norm and head, one for the
# embeddings (4), so NCCL runs exchange gradients during backward, bucket by bucket
# The 12-step comparisons run without clipping (--clip 0), so ZeRO-0 and ZeRO-1 apply
# the same gradients (see below); the kill + resume run clips.
short=(--steps 12 --clip 0)
ckpt12=ckpt_00000012.safetensors

# ---- one GPU: the NCCL collectives (incl. the bucket reduce and bf16 broadcast the
# GPU step uses), then NCCL at world 1 is the single-process run, bit for bit.
"$tests/test_comm_nccl" >"$tmp/comm1.log" 2>&1
check "NCCL collectives at world 1 (exit $?)" grep -q '^tally: pass=2 fail=0' "$tmp/comm1.log" At world 1 the
# NCCL backend only sums host scalars (the loss) over one rank, which is exact.
"$bin/train" "${common[@]}" "${short[@]}" --comm none --batch 8 --out "$tmp/one" >"$tmp/one.log" 2>&1
check "1 GPU x 2B reference run (--comm none)" test -f "$tmp/one/$ckpt12"
"$bin/train" "${common[@]}" "${short[@]}" --comm nccl --batch 8 --out "$tmp/nccl1" >"$tmp/nccl1.log" 2>&1
check "--comm nccl at world 1 runs on NCCL" grep -q "ranks: 1 (nccl, launched by single)" "$tmp/nccl1.log"
check "--comm nccl at world 1 exchanges 4 gradient buckets" grep -q "gradient buckets: 4 of" "$tmp/nccl1.log"
d=$(max_diff "$(losses "$tmp/one/metrics.jsonl")" "$(losses "$tmp/nccl1/metrics.jsonl")")
check "--comm nccl at world 1: 12 losses equal --comm none (max diff $d, tolerance 0)" within "$d" 0
check "--comm nccl at world 1: the same final checkpoint, byte for byte" \
    cmp -s "$tmp/one/$ckpt12" "$tmp/nccl1/$ckpt12"
if command -v mpirun >/dev/null; then
    mpi 1 "$bin/train" "${common[@]}" --steps 2 --batch 8 --out "$tmp/mpi1" >"$tmp/mpi1.log" 2>&1
    check "mpirun -np 1 with --comm auto picks NCCL for a GPU rank" \
        grep -q "ranks: 1 (nccl, launched by mpirun)" "$tmp/mpi1.log"
fi

if [ "$gpus" -lt 2 ] || ! command -v mpirun >/dev/null; then
    echo "skipped: needs 2 GPUs and mpirun (GPUs: $gpus)"
    skipped=$((skipped + 1))
    finish
    exit
fi

mpi 2 "$tests/test_comm_nccl" >"$tmp/comm2.log" 2>&1
check "NCCL collectives with 2 ranks (exit $?)" test "$(grep -c '^tally: pass=2 fail=0' "$tmp/comm2.log")" -eq 2

# ---- 2 GPUs x batch 4 against 1 GPU x batch 8, ZeRO-0 and ZeRO-1
# Tolerance of the losses against 1 GPU x 2B: 5e-3 per step (the loss is ~4.6). The
# data and the math are the same, but cuBLASLt may pick other kernels for B rows than
# for 2B rows, and the 2B-row weight gradients are summed in another order than two
# B-row sums averaged over NCCL. Those fp32 differences (~1e-7 relative) flip the
# rounding of some bf16 activations and parameters (2^-9 relative each), which moves
# the loss by ~1e-4..1e-3 over 12 steps. A data fault (both ranks reading the same
# rows, a rank's gradients left out) moves it by 1e-2 or more. The final weights are
# not compared here: AdamW turns a bf16 flip in a near-zero gradient into an update of
# up to lr, so only the losses separate rounding from faults.
LOSS_TOL=5e-3
for z in 0 1; do
    mpi 2 "$bin/train" "${common[@]}" "${short[@]}" --batch 4 --zero $z --out "$tmp/z$z" >"$tmp/z$z.log" 2>&1
    check "ZeRO-$z: 2-GPU run completes over NCCL" test -f "$tmp/z$z/$ckpt12" -a \
        -n "$(grep 'ranks: 2 (nccl, launched by mpirun)' "$tmp/z$z.log")"
    check "ZeRO-$z: memory printed per rank" grep -q "memory rank 1 (ZeRO-$z, GPU)" "$tmp/z$z.log"
    check "ZeRO-$z: 4 gradient buckets" grep -q "gradient buckets: 4 of" "$tmp/z$z.log"
    d=$(max_diff "$(losses "$tmp/one/metrics.jsonl")" "$(losses "$tmp/z$z/metrics.jsonl")")
    check "ZeRO-$z: 12 losses match 1 GPU x 2B (max diff $d <= $LOSS_TOL)" within "$d" $LOSS_TOL
    d=$(max_diff "$(val_losses "$tmp/one/metrics.jsonl")" "$(val_losses "$tmp/z$z/metrics.jsonl")")
    check "ZeRO-$z: validation losses match 1 GPU x 2B (max diff $d <= $LOSS_TOL)" within "$d" $LOSS_TOL
done
# ZeRO-0 against ZeRO-1 on the same 2 GPUs: each rank computes the same gradients, and
# the mean of two values is the same bits whether all-reduced or reduced into its
# owner, so without clipping both apply the same update: losses and checkpoints equal
# (tolerance 1e-6 only to report a difference as a number). The gradient norms differ
# by the order of summing squares (whole vector vs two shards summed on the device): 1e-5.
d=$(max_diff "$(losses "$tmp/z0/metrics.jsonl")" "$(losses "$tmp/z1/metrics.jsonl")")
check "ZeRO-1 losses equal ZeRO-0's (max diff $d <= 1e-6)" within "$d" 1e-6
d=$(max_diff "$(grad_norms "$tmp/z0/metrics.jsonl")" "$(grad_norms "$tmp/z1/metrics.jsonl")")
check "ZeRO-1 gradient norms (from shards) equal ZeRO-0's (max diff $d <= 1e-5)" within "$d" 1e-5
"$tests/ckpt_diff" "$tmp/z0/$ckpt12" "$tmp/z1/$ckpt12" "" 1e-6 >"$tmp/diff01.log"
check "ZeRO-1 final weights and gathered AdamW moments equal ZeRO-0's: $(cat "$tmp/diff01.log")" test $? -eq 0
# ZeRO-1 keeps master weights and moments for half the parameters on each of 2 ranks
optim_mib() { grep "memory rank 0" "$1" | sed -E 's/.*adam m,v ([0-9.]+).*/\1/'; }
o0=$(optim_mib "$tmp/z0.log") o1=$(optim_mib "$tmp/z1.log")
check "ZeRO-1 holds half the optimizer state per rank ($o1 vs $o0 MiB)" awk "BEGIN { exit !($o1 > 0 && $o1 <= 0.55 * $o0) }"

# ---- kill -9 both ranks after a checkpoint, resume under 2 ranks: bit for bit (the
# GPU step is deterministic, NCCL's sums have a fixed order for a fixed world)
kill_and_resume 2 600 "$tmp" "${common[@]}" --steps 600 --ckpt-every 50 --zero 1 --batch 4

# ---- the 2-rank ZeRO-1 checkpoint on 1 GPU x 2B continues the trajectory (losses
# within LOSS_TOL, for the reasons above); 1 GPU x B is refused
mkdir -p "$tmp/w1"
cp "$tmp/z1/$ckpt12" "$tmp/w1/"
mpi 2 "$bin/train" "${common[@]}" --clip 0 --batch 4 --steps 20 --resume auto --out "$tmp/z1" >/dev/null 2>&1
"$bin/train" "${common[@]}" --clip 0 --batch 8 --steps 20 --resume auto --out "$tmp/w1" >"$tmp/w1.log" 2>&1
d=$(max_diff "$(losses "$tmp/z1/metrics.jsonl" | tail -n 8)" "$(losses "$tmp/w1/metrics.jsonl")")
check "2-GPU checkpoint continued on 1 GPU x 2B: steps 13-20 within $LOSS_TOL (max diff $d)" within "$d" $LOSS_TOL
"$bin/train" "${common[@]}" --batch 4 --steps 20 --resume "$tmp/w1/$ckpt12" --out "$tmp/w2" >"$tmp/w2.log" 2>&1
check "1 GPU x B from a 2 x B checkpoint refused" grep -q "differs in --batch x world size" "$tmp/w2.log"

# ---- the launch scripts with 2 GPU ranks: mpirun, and torchrun-style (NCCL's id over
# the TCP rendezvous on MASTER_ADDR:MASTER_PORT)
tiny=(--model tiny-llama-hs64 --device cuda --train "$tmp/train_*.bin" --val "" --batch 4 --seq 32 --steps 3)
NP=2 THREADS=1 MPIRUN_ARGS="--oversubscribe" TRAIN=$bin/train timeout 120 scripts/launch_1x8.sh "${tiny[@]}" \
    --out "$tmp/l1" >"$tmp/l1.log" 2>&1
check "launch_1x8.sh with NP=2 trains on 2 GPUs over NCCL" grep -q "ranks: 2 (nccl, launched by mpirun)" "$tmp/l1.log"
NPROC=2 MASTER_PORT=$((20000 + $$ % 20000)) TRAIN=$bin/train timeout 120 scripts/launch_torchrun.sh "${tiny[@]}" \
    --out "$tmp/l2" >"$tmp/l2.log" 2>&1
check "launch_torchrun.sh with NPROC=2 trains on 2 GPUs over NCCL" \
    grep -q "ranks: 2 (nccl, launched by torchrun)" "$tmp/l2.log"

finish
