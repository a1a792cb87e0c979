# Sourced by the data-parallel test scripts (test_dp.sh on CPU ranks, test_dp_gpu.sh
# on GPU ranks) after test/check.sh, with $bin (the build's programs) set: Open MPI
# settings for tests, launching ranks, reading metrics, and the kill + resume check.

# Open MPI refuses root unless told; these tests run as whoever runs make test
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# containers often deny the cross-process memory copy (CMA) of the shared-memory transport
export OMPI_MCA_btl_vader_single_copy_mechanism=none
# Open MPI keeps allocations until exit that LeakSanitizer would report as leaks of ours;
# the address and undefined-behaviour checks stay on
[ "${SCPT_SANITIZED:-0}" = 1 ] && export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
# ranks share the machine's cores with everything else: no pinning
mpi() { local np=$1; shift; timeout "${limit:-120}" mpirun --oversubscribe --bind-to none -np "$np" "$@"; }
# the train processes (ranks) started under a background job
ranks_of() {
    local p
    for p in $(pgrep -P "$1"); do
        [ "$(ps -o comm= -p "$p")" = train ] && echo "$p"
        ranks_of "$p"
    done
}

# "step loss" lines, validation losses, gradient norms of a metrics file
losses() { grep '"loss"' "$1" | sed -E 's/.*"step": ([0-9]+), "loss": ([0-9.]+).*/\1 \2/'; }
val_losses() { grep '"val_loss"' "$1" | sed -E 's/.*"val_loss": ([0-9.]+).*/\1/'; }
grad_norms() { grep '"grad_norm"' "$1" | sed -E 's/.*"grad_norm": ([0-9.]+).*/\1/'; }
# largest |a - b| over two columns of numbers, or 1e9 when the line counts differ
max_diff() { awk 'NR == FNR { a[FNR] = $NF; n = FNR; next } { d = a[FNR] - $NF; if (d < 0) d = -d;
    if (d > m) m = d; c = FNR } END { print (c == n && n > 0) ? m + 0 : 1e9 }' <(echo "$1") <(echo "$2"); }
within() { awk "BEGIN { exit !($1 <= $2) }"; }

# kill_and_resume NP STEPS DIR TRAIN_ARGS...: a straight NP-rank run of STEPS steps
# (TRAIN_ARGS set --steps and --ckpt-every), and the same run killed (kill -9 of every
# rank) after its first checkpoint, then resumed under NP ranks: its end must be the
# straight run's, byte for byte, with every step logged once. The interrupted run
# validates every step (which changes nothing in the checkpoints) so that the steps
# after its first checkpoint leave time to kill it.
kill_and_resume() {
    local np=$1 steps=$2 dir=$3 job ranks
    shift 3
    mpi "$np" "$bin/train" "$@" --eval-every 0 --out "$dir/k1" >"$dir/k1.log" 2>&1
    mpi "$np" "$bin/train" "$@" --eval-every 1 --val-batches 1 --out "$dir/k2" >"$dir/k2.log" 2>&1 &
    job=$!
    for _ in $(seq 3000); do
        compgen -G "$dir/k2/ckpt_*.safetensors" >/dev/null && break
        sleep 0.01
    done
    ranks=$(ranks_of $job)
    [ -n "$ranks" ] && kill -9 $ranks 2>/dev/null
    wait $job 2>/dev/null
    local last
    last=ckpt_$(printf %08d "$steps").safetensors
    check "the $np-rank run was killed mid-way" test -n "$ranks" -a ! -e "$dir/k2/$last"
    mpi "$np" "$bin/train" "$@" --eval-every 0 --resume auto --out "$dir/k2" >"$dir/k2b.log" 2>&1
    check "$np-rank resume reports its step" grep -q "resumed .* at step" "$dir/k2b.log"
    check "killed $np-rank run resumed to a byte-identical end" cmp -s "$dir/k1/$last" "$dir/k2/$last"
    check "every step logged once after kill + resume" \
        test "$(losses "$dir/k2/metrics.jsonl" | cut -d' ' -f1 | sort -u | wc -l)" -eq "$steps" -a \
        "$(losses "$dir/k2/metrics.jsonl" | wc -l)" -eq "$steps"
}
