#!/usr/bin/env bash
# A torchrun-style launch: NPROC ranks on this node (NNODES nodes, this one NODE_RANK)
# with RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT in their environment,
# which is what `torchrun --nproc-per-node 8 --nnodes 2 --node-rank R
# --master-addr HOST --master-port 29500 --no-python ./train ...` gives too. Rank 0
# hands NCCL's unique id to the others over a TCP rendezvous on MASTER_ADDR:MASTER_PORT,
# so this path needs the NCCL backend (GPU ranks, COMM=nccl); with NPROC=1 NNODES=1
# it runs a single rank of any backend.
#   NPROC=8 scripts/launch_torchrun.sh --model llama3-8b --train ...
# If one rank fails, the others are killed and the script exits with its status.
set -uo pipefail
cd "$(dirname "$0")/.."
nproc_=${NPROC:-8} nnodes=${NNODES:-1} node_rank=${NODE_RANK:-0}
export MASTER_ADDR=${MASTER_ADDR:-127.0.0.1} MASTER_PORT=${MASTER_PORT:-29500}
export WORLD_SIZE=$((nproc_ * nnodes))
comm=${COMM:-$([ "$WORLD_SIZE" -gt 1 ] && echo nccl || echo auto)}
pids=()
for ((local = 0; local < nproc_; local++)); do
    RANK=$((node_rank * nproc_ + local)) LOCAL_RANK=$local \
        "${TRAIN:-./train}" --comm "$comm" --zero "${ZERO:-1}" "$@" &
    pids+=($!)
done
status=0
# the first rank to fail ends the job
while [ ${#pids[@]} -gt 0 ]; do
    wait -n "${pids[@]}"
    rc=$?
    alive=()
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive+=("$p"); done
    pids=("${alive[@]+"${alive[@]}"}")
    if [ $rc -ne 0 ] && [ $status -eq 0 ]; then
        status=$rc
        [ ${#pids[@]} -gt 0 ] && kill "${pids[@]}" 2>/dev/null
    fi
done
exit $status
