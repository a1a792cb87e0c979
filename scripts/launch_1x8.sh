#!/usr/bin/env bash
# One node, 8 ranks under mpirun: one GPU per rank (picked by the local rank) with the
# CUDA path and --comm nccl, or 8 CPU ranks of the CPU path over MPI.
#   scripts/launch_1x8.sh --model llama3-8b --train 'data/ent_*.bin' --replay 'data/rp_*.bin' ...
# Environment: NP (ranks, default 8), TRAIN (the program, default ./train),
# COMM (auto: MPI for CPU ranks; nccl for GPU ranks), ZERO (1), MPIRUN_ARGS (extra mpirun flags).
# --batch is per rank: the global batch is NP x --batch x --grad-accum sequences.
# --device auto (train's default) puts the ranks on GPUs when the model runs there;
# add --device cuda to stop instead of falling back to CPU ranks.
set -euo pipefail
cd "$(dirname "$0")/.."
np=${NP:-8}
# --bind-to none: each rank runs its own OpenMP threads (--threads), pinning one core would starve them
exec mpirun -np "$np" --bind-to none ${MPIRUN_ARGS:-} \
    "${TRAIN:-./train}" --comm "${COMM:-auto}" --zero "${ZERO:-1}" --threads "${THREADS:-$(( $(nproc) / np > 0 ? $(nproc) / np : 1 ))}" "$@"
