#!/usr/bin/env bash
# Two nodes x 8 GPUs under Slurm: `sbatch scripts/launch_2x8_slurm.sh --model llama3-8b --train ...`
# srun starts one rank per GPU; each reads its rank, world size and local rank from
# SLURM_PROCID / SLURM_STEP_NUM_TASKS / SLURM_LOCALID and uses the GPU of its local
# rank. Open MPI's runtime comes from srun's PMIx (--mpi=pmix); NCCL's unique id goes
# out over MPI. If one rank fails, --kill-on-bad-exit ends the others.
#SBATCH --job-name=scpt
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=8
#SBATCH --gpus-per-node=8
#SBATCH --cpus-per-task=16
#SBATCH --time=12:00:00
#SBATCH --output=%x-%j.out
set -euo pipefail
cd "${SLURM_SUBMIT_DIR:-.}"
export OMP_NUM_THREADS=${SLURM_CPUS_PER_TASK:-1}
exec srun --mpi=pmix --kill-on-bad-exit=1 --cpu-bind=cores \
    "${TRAIN:-./train}" --comm "${COMM:-nccl}" --zero "${ZERO:-1}" --out "${OUT:-out/$SLURM_JOB_ID}" "$@"
