#!/usr/bin/env bash
# Data-parallel tests over Open MPI on loopback (mpirun --oversubscribe -np 2):
# the MPI collectives, 2 ranks x batch B against 1 rank x batch 2B for ZeRO-0 and
# ZeRO-1, kill + resume under 2 ranks, resuming a 2-rank checkpoint on 1 rank at the
# same global batch (and refusing another), and a rank that dies ending the job.
# SCPT_BIN selects the build (the repo root, or build/asan/bin for the sanitizer run).
set -u
cd "$(dirname "$0")/.."
. test/check.sh

command -v mpirun >/dev/null || skip_all "mpirun not found (scripts/setup installs openmpi-bin)"
. test/dp_common.sh
scratch test_dp

# ---- the collectives of the MPI backend, 2 and 3 ranks, buckets across shard edges
for np in 2 3; do
    mpi "$np" "$tests/test_comm" >"$tmp/comm$np.log" 2>&1
    rc=$?
    check "MPI collectives with $np ranks (exit $rc)" \
        test $rc -eq 0 -a "$(grep -c '^tally: pass=[0-9]* fail=0' "$tmp/comm$np.log")" -eq "$np"
done

"$tests/make_shards" "$tmp/train" 2 3000 100 1 && "$tests/make_shards" "$tmp/replay" 1 2000 100 2 &&
    "$tests/make_shards" "$tmp/val" 1 1000 100 3 || { echo "cannot make shards"; exit 1; }
common=(--model tiny-llama --train "$tmp/train_*.bin" --replay "$tmp/replay_*.bin" --replay-frac 0.3
        --val "$tmp/val_*.bin" --seq 16 --grad-accum 2 --lr 3e-3 --warmup 2 --eval-every 6 --val-batches 2
        --seed 7 --threads 1 --log-every 100)
# Tolerances (2 ranks x B against 1 rank x 2B): the same data and the same math, but
# the mean over 2B rows is computed as the mean of two means of B rows, and the
# gradient norm from shards, so sums run in another order: float32 rounding
# (~1e-7 relative) per step. 12 AdamW steps move a weight by up to 12 * lr = 0.036;
# observed differences are ~1e-6. A real fault (a rank's data missing from the mean,
# a shard not updated or not gathered, wrong data split) changes the losses in the
# 2nd-3rd decimal and the weights by ~lr = 3e-3. So: losses within 1e-4 per step,
# weights and AdamW moments within 2e-5.
LOSS_TOL=1e-4 WEIGHT_TOL=2e-5

# ---- 2 ranks x batch 4 == 1 rank x batch 8, ZeRO-0 and ZeRO-1, gradients in 1 KiB buckets
# (the final norm and head, each layer, the embeddings: 4 buckets, pieces cut at the shard edge)
"$bin/train" "${common[@]}" --batch 8 --steps 12 --out "$tmp/one" >"$tmp/one.log" 2>&1
check "single-rank reference run" test -f "$tmp/one/ckpt_00000012.safetensors"
for z in 0 1; do
    mpi 2 "$bin/train" "${common[@]}" --batch 4 --zero $z --bucket-mib 0.001 --steps 12 --out "$tmp/z$z" \
        >"$tmp/z$z.log" 2>&1
    check "ZeRO-$z: 2-rank run completes" test -f "$tmp/z$z/ckpt_00000012.safetensors"
    check "ZeRO-$z: rank 0 alone prints" test "$(grep -c '^step    12/12' "$tmp/z$z.log")" -eq 1
    check "ZeRO-$z: memory printed per rank" grep -q "memory rank 1 (ZeRO-$z)" "$tmp/z$z.log"
    check "ZeRO-$z: 4 gradient buckets" grep -q "gradient buckets: 4 of" "$tmp/z$z.log"
    d=$(max_diff "$(losses "$tmp/one/metrics.jsonl")" "$(losses "$tmp/z$z/metrics.jsonl")")
    check "ZeRO-$z: 12 losses match 1 rank x 2B (max diff $d <= $LOSS_TOL)" awk "BEGIN { exit !($d <= $LOSS_TOL) }"
    d=$(max_diff "$(val_losses "$tmp/one/metrics.jsonl")" "$(val_losses "$tmp/z$z/metrics.jsonl")")
    check "ZeRO-$z: validation losses match (max diff $d)" awk "BEGIN { exit !($d <= $LOSS_TOL) }"
    "$tests/ckpt_diff" "$tmp/one/ckpt_00000012.safetensors" "$tmp/z$z/ckpt_00000012.safetensors" "" $WEIGHT_TOL \
        >"$tmp/diff$z.log"
    check "ZeRO-$z: final weights and AdamW moments match: $(cat "$tmp/diff$z.log")" test $? -eq 0
done

# ---- kill -9 both ranks after a checkpoint, resume under 2 ranks: the straight run's end, bit for bit
# 280 steps after the first checkpoint leave time to kill the run. Sanitized MPI ranks
# step ~7x slower (waits in collectives dominate on shared cores): 60 steps do.
steps=300 every=20
[ "${SCPT_SANITIZED:-0}" = 1 ] && steps=60 every=10
kill_and_resume 2 $steps "$tmp" "${common[@]}" --steps $steps --ckpt-every $every --zero 1 --batch 4

# ---- another world size: the same global batch continues the trajectory, another is refused
mkdir -p "$tmp/w1"
cp "$tmp/z1/ckpt_00000012.safetensors" "$tmp/w1/"
mpi 2 "$bin/train" "${common[@]}" --batch 4 --steps 20 --resume auto --out "$tmp/z1" >/dev/null 2>&1
"$bin/train" "${common[@]}" --batch 8 --steps 20 --resume auto --out "$tmp/w1" >"$tmp/w1.log" 2>&1
"$tests/ckpt_diff" "$tmp/z1/ckpt_00000020.safetensors" "$tmp/w1/ckpt_00000020.safetensors" "" $WEIGHT_TOL \
    >"$tmp/diffw.log"
check "2-rank checkpoint resumed on 1 rank x 2B: $(cat "$tmp/diffw.log")" test $? -eq 0
"$bin/train" "${common[@]}" --batch 4 --steps 20 --resume "$tmp/w1/ckpt_00000012.safetensors" --out "$tmp/w2" \
    >"$tmp/w2.log" 2>&1
check "1 rank x B from a 2 x B checkpoint refused" grep -q "differs in --batch x world size" "$tmp/w2.log"

# ---- the launch scripts, scaled down to this machine
tiny=(--model tiny-llama --train "$tmp/train_*.bin" --val "" --batch 4 --seq 16 --steps 3 --log-every 1)
NP=2 THREADS=1 MPIRUN_ARGS="--oversubscribe" TRAIN=$bin/train timeout 60 scripts/launch_1x8.sh "${tiny[@]}" \
    --out "$tmp/l1" >"$tmp/l1.log" 2>&1
check "launch_1x8.sh with NP=2 trains over MPI" grep -q "ranks: 2 (mpi, launched by mpirun)" "$tmp/l1.log"
NPROC=1 TRAIN=$bin/train timeout 60 scripts/launch_torchrun.sh "${tiny[@]}" --out "$tmp/l2" >"$tmp/l2.log" 2>&1
check "launch_torchrun.sh with one rank trains" grep -q "ranks: 1 (none, launched by torchrun)" "$tmp/l2.log"
NPROC=2 TRAIN=$bin/train timeout 60 scripts/launch_torchrun.sh "${tiny[@]}" --out "$tmp/l3" >"$tmp/l3.log" 2>&1
rc=$?
check "torchrun-style CPU ranks: a clear error (exit $rc)" \
    test $rc -ne 0 -a $rc -ne 124 -a -n "$(grep 'moves GPU buffers, but this run trains on the CPU' "$tmp/l3.log")"
# NCCL for CPU ranks is refused before anything starts, with the flag to use instead
"$bin/train" "${tiny[@]}" --device cpu --comm nccl --out "$tmp/l4" >"$tmp/l4.log" 2>&1
rc=$?
check "--comm nccl --device cpu refused (exit $rc)" test $rc -eq 1 -a -n "$(grep 'CPU ranks use --comm mpi' "$tmp/l4.log")"

# ---- a rank that dies: the other exits with an error instead of waiting in a collective
limit=30 mpi 2 "$bin/train" "${common[@]}" --batch 4 --steps 1000000 --eval-every 0 --out "$tmp/dead" \
    >"$tmp/dead.log" 2>&1 &
job=$!
for _ in $(seq 3000); do
    grep -q '"loss"' "$tmp/dead/metrics.jsonl" 2>/dev/null && break
    sleep 0.01
done
ranks=($(ranks_of $job))
[ ${#ranks[@]} -eq 2 ] && kill -9 "${ranks[1]}"
t0=$SECONDS
wait $job
rc=$?
check "killing one of ${#ranks[@]} ranks ends the job with an error (exit $rc in $((SECONDS - t0)) s, 124 = hung)" \
    test ${#ranks[@]} -eq 2 -a $rc -ne 0 -a $rc -ne 124
# gone, or a zombie nobody reaped (its parent mpirun has exited)
check "the surviving rank ended too" test -z "$(ps -o stat= -p "${ranks[0]:-1}" 2>/dev/null | grep -v '^Z')"

finish
