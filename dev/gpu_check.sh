#!/usr/bin/env bash
# The first GPU run in one command: does the CUDA path work, and how fast is it?
#   dev/gpu_check.sh [OUTDIR]        (or `make gpu-check`; OUTDIR default: $OUT, else out/gpu_check)
# Stages, each gated on the time left of GPU_CHECK_BUDGET seconds (default 480, sized
# for a 16-core H200) and skipped with the reason when it would not fit:
#   machine   nvidia-smi, driver, nvcc, NCCL, compute-sanitizer, python / torch
#   deps      cJSON and PCRE2 from gpu_deps/*.deb (`make gpu-deps`) when the system
#             lacks them, unpacked into build/gpu_deps and built against; make too
#   build     only what the later stages run, with every core
#   device    whether CUDA starts (the kernel test's probe; CUDA's error when not)
#   test-gpu  `make test-gpu` under SCPT_REQUIRE_GPU=1: no device is a failure
#   e2e       train at gpt2-124m, B=16, T=1024 beside the PyTorch reference
#             (dev/bench_e2e.sh): tokens/s, MFU, the ratio
#   memcheck  compute-sanitizer memcheck over the kernel, attention (small shapes), matmul and model tests
#   benches   every kernel benchmark of dev/cuda
#   racecheck compute-sanitizer racecheck over the attention (small shapes: the dQ semaphores) and kernel tests
# GPU_CHECK_STAGES="e2e benches" runs only those of the stages after build (a rerun
# of what an earlier run had no time for). Every log goes to OUTDIR, and a
# one-screen verdict to OUTDIR/verdict.txt (also printed). Exits 0 only when every stage passed; a stage skipped (no device, no
# time, not built) or failed makes it exit 1.
set -uo pipefail
cd "$(dirname "$0")/.."
unset MAKEFLAGS MFLAGS MAKELEVEL   # from `make gpu-check`: the makes below are top-level ones
out=${1:-${OUT:-out/gpu_check}}
budget=${GPU_CHECK_BUDGET:-480}
mkdir -p "$out" || exit 1
out=$(cd "$out" && pwd)
start=$(date +%s)
verdict=$out/verdict.txt
lines=()     # the verdict's stage lines
notes=()     # what follows them: numbers, failing tests
status=0

elapsed() { echo $(($(date +%s) - start)); }
left() { echo $((budget - $(elapsed))); }
# record STAGE RESULT DETAIL: one verdict line (RESULT: PASS, FAIL, SKIPPED, or OFF:
# left out by GPU_CHECK_STAGES, the only one besides PASS that does not fail the check)
record() {
    local line
    line=$(printf "%-10s %-7s %s" "$1" "$2" "$3")
    echo "$line"
    lines+=("$line")
    [ "$2" = PASS ] || [ "$2" = OFF ] || status=1
}
# fits STAGE SECONDS: true when the stage's estimate fits in the time left, else recorded skipped
fits() {
    [ "$2" -le "$(left)" ] && return 0
    record "$1" SKIPPED "time: needs ~$2 s, $(left) s of the ${budget} s budget left"
    return 1
}
# run_logged LOG SECONDS CMD...: the command with its output in LOG, stopped after SECONDS
run_logged() {
    local log=$1 limit=$2
    shift 2
    [ "$limit" -gt 0 ] || limit=1
    echo "\$ $*" >"$log"
    timeout --kill-after=10 "$limit" "$@" >>"$log" 2>&1
}
stage_header() { echo "== $1 ($(elapsed) s elapsed)"; }

# ---- machine ------------------------------------------------------------------
stage_header machine
jobs=$(nproc 2>/dev/null || echo 4)
nvcc=$(command -v nvcc || ls -d /usr/local/cuda/bin/nvcc /usr/local/cuda-*/bin/nvcc 2>/dev/null | sort -V | tail -n 1)
{
    echo "date: $(date -u)"
    echo "host: $(uname -srm), $jobs cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)"
    if command -v nvidia-smi >/dev/null; then
        timeout 30 nvidia-smi
        timeout 30 nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
    else
        echo "nvidia-smi: not found"
    fi
    if [ -n "$nvcc" ]; then "$nvcc" --version | tail -n 2; else echo "nvcc: not found (PATH, /usr/local/cuda*/bin)"; fi
    sanitizer=$(command -v compute-sanitizer || ls "$(dirname "${nvcc:-/none/x}")/compute-sanitizer" 2>/dev/null)
    if [ -n "$sanitizer" ]; then "$sanitizer" --version | tail -n 1; else echo "compute-sanitizer: not found"; fi
    echo "python: $(python3 --version 2>&1)"
    timeout 60 python3 -c 'import torch; print("torch", torch.__version__, "CUDA", torch.version.cuda, "| GPU:",
        torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none visible to torch")' 2>&1 | tail -n 1
    python3 -c 'import nvidia.nccl as n; print("pip NCCL:", n.__path__[0])' 2>/dev/null || echo "pip NCCL: none"
} >"$out/machine.txt" 2>&1
cat "$out/machine.txt"
gpu_name=$(timeout 30 nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -n 1)
torch_line=$(grep -E '^torch ' "$out/machine.txt" || echo "torch: not importable")
record machine PASS "${gpu_name:-no nvidia-smi} | $(grep -o 'release [0-9.]*' <<<"$("${nvcc:-true}" --version 2>/dev/null)" || echo 'no nvcc') | $torch_line"

# ---- deps: cJSON, PCRE2 and make from gpu_deps/*.deb where the system lacks them ----
stage_header deps
prefix=$PWD/build/gpu_deps
make_cmd=$(command -v make || true)
extra_cflags='' extra_ldflags=''
probe_libs() {
    printf '#define PCRE2_CODE_UNIT_WIDTH 8\n#include <cjson/cJSON.h>\n#include <pcre2.h>\nint main(void) { return 0; }\n' |
        ${CC:-gcc} $extra_cflags -x c - $extra_ldflags -lcjson -lpcre2-8 -o /dev/null 2>"$out/deps.log"
}
# dpkg -x, or without dpkg the .deb's data.tar.* (an ar member) through tar
unpack_debs() {
    local deb parts=$prefix.parts
    mkdir -p "$prefix"
    for deb in "$PWD"/gpu_deps/*.deb; do
        if command -v dpkg-deb >/dev/null; then dpkg-deb -x "$deb" "$prefix" || return 1; continue; fi
        rm -rf "$parts" && mkdir -p "$parts" && (cd "$parts" && ar x "$deb") && tar -xf "$parts"/data.tar.* -C "$prefix" ||
            return 1
    done
    rm -rf "$parts"
}
deps_from="the system"
if ! probe_libs || [ -z "$make_cmd" ]; then
    if ! compgen -G "gpu_deps/*.deb" >/dev/null; then
        record deps FAIL "cJSON/PCRE2 headers or make missing, and no gpu_deps/*.deb: run 'make gpu-deps' where apt works"
    elif ! unpack_debs; then
        record deps FAIL "cannot unpack gpu_deps/*.deb into $prefix"
    else
        lib=$prefix/usr/lib/x86_64-linux-gnu
        extra_cflags="-I$prefix/usr/include" extra_ldflags="-L$lib -Wl,-rpath,$lib"
        [ -n "$make_cmd" ] || make_cmd=$prefix/usr/bin/make
        deps_from="gpu_deps/*.deb unpacked into $prefix"
        probe_libs && record deps PASS "$deps_from" || record deps FAIL "still no cJSON/PCRE2 after unpacking (deps.log)"
    fi
else
    record deps PASS "cJSON, PCRE2 and make from the system"
fi
make_args=(-j"$jobs" ${nvcc:+NVCC=$nvcc} "EXTRA_CFLAGS=$extra_cflags" "EXTRA_LDFLAGS=$extra_ldflags")

# ---- build: what the stages below run -----------------------------------------
stage_header build
built=0
benches=$(ls dev/cuda/bench_*.cu 2>/dev/null | sed -E 's|dev/cuda/(.*)\.cu|build/cuda/dev/\1|')
if [ -z "$nvcc" ]; then
    record build FAIL "no nvcc: the CUDA path cannot be built here (install the CUDA toolkit)"
elif [ -z "$make_cmd" ]; then
    record build FAIL "no make (gpu_deps/*.deb brings one: make gpu-deps)"
elif fits build 240; then
    nccl_line=$("$make_cmd" -n train 2>/dev/null | grep '^NCCL:' || true)
    echo "$nccl_line"
    targets=(train plan build/test/make_shards build/test/ckpt_diff build/test/test_kernels_gpu build/test/test_matmul_gpu
             build/test/test_model_gpu $benches)
    grep -q 'NCCL: not found' <<<"$nccl_line" || targets+=(build/test/test_comm_nccl)
    t0=$(elapsed)
    if run_logged "$out/build.log" "$(left)" "$make_cmd" "${make_args[@]}" "${targets[@]}"; then
        built=1
        record build PASS "$(($(elapsed) - t0)) s, -j$jobs | $nccl_line"
    else
        record build FAIL "see build.log: $(grep -m1 -iE 'error|No rule' "$out/build.log" | cut -c1-150)"
    fi
fi

# ---- is there a device? the kernel test's probe says so, with CUDA's reason -------
device=0 no_device="not built"
if [ $built = 1 ]; then
    if build/test/test_kernels_gpu --probe; then
        device=1
    else
        no_device="no device: $(SCPT_REQUIRE_GPU=0 build/test/test_kernels_gpu | grep -o 'no CUDA device.*' | head -n 1)"
    fi
    [ $device = 1 ] && record device PASS "CUDA starts: ${gpu_name:-a device is visible}" || record device FAIL "$no_device"
fi
# at most twice a stage's estimate, and never past the budget
cap() { local l; l=$(left); echo $(( l < 2 * $1 ? l : 2 * $1 )); }
# selected STAGE: in GPU_CHECK_STAGES (when set), else recorded skipped
selected() {
    [ -z "${GPU_CHECK_STAGES:-}" ] || [[ " $GPU_CHECK_STAGES " == *" $1 "* ]] && return 0
    record "$1" OFF "not in GPU_CHECK_STAGES"
    return 1
}
# gate STAGE SECONDS: true when the stage can run: selected, built, a device, time left
gate() {
    selected "$1" || return 1
    if [ $device = 0 ]; then record "$1" SKIPPED "$no_device"; return 1; fi
    fits "$1" "$2"
}

# ---- test-gpu: runs without a device too, to show it fails with CUDA's error ------
stage_header test-gpu
if ! selected test-gpu; then
    :
elif [ $built = 0 ]; then
    record test-gpu SKIPPED "$no_device"
elif fits test-gpu 150; then
    SCPT_REQUIRE_GPU=1 run_logged "$out/test_gpu.log" "$(cap 150)" "$make_cmd" "${make_args[@]}" test-gpu
    rc=$?
    tally=$(grep -E '^suite tally' "$out/test_gpu.log" | tail -n 1)
    [ $rc = 124 ] && tally="stopped at the time limit; $tally"
    if [ $rc = 0 ]; then record test-gpu PASS "$tally"
    else record test-gpu FAIL "${tally:-no tally (see test_gpu.log)}$([ $device = 0 ] && echo " ($no_device)")"; fi
    # the failures, each under the program that printed it
    while read -r l; do notes+=("  $l"); done < <(awk '/^== / { prog = $2 } /^\[FAIL\]|^  FAIL |^broken:/ {
        sub(/^ +/, ""); print prog ": " $0 }' "$out/test_gpu.log" | cut -c1-160 | head -n 10)
fi

# ---- e2e: train beside PyTorch at gpt2-124m, B=16, T=1024 -------------------------
stage_header e2e
if gate e2e 120; then
    torch_flag=()
    grep -q '^torch ' "$out/machine.txt" || torch_flag=(--no-torch)
    run_logged "$out/e2e.log" "$(cap 120)" dev/bench_e2e.sh --steps 20 --logs "$out/e2e" "${torch_flag[@]}" gpt2-124m:16
    rc=$?
    row=$(grep -E '^gpt2-124m ' "$out/e2e.log" | tr -s ' ')
    [ $rc = 0 ] && record e2e PASS "$row" || record e2e FAIL "${row:-no result} (e2e.log)"
    [ ${#torch_flag[@]} = 0 ] || notes+=("  e2e: no PyTorch reference (torch not importable)")
fi

# ---- compute-sanitizer ------------------------------------------------------------
stage_header memcheck
if gate memcheck 90; then
    run_logged "$out/memcheck.log" "$(cap 90)" "$make_cmd" "${make_args[@]}" gpu-sanitize \
        "GPU_SANITIZE_RUNS=memcheck:test_kernels_gpu memcheck:test_attention_gpu:small memcheck:test_matmul_gpu memcheck:test_model_gpu:gradients" &&
        record memcheck PASS "$(grep -c '^== compute-sanitizer' "$out/memcheck.log") programs, no errors" ||
        record memcheck FAIL "$(grep -m1 -E 'ERROR SUMMARY: [1-9]|Invalid|stopped' "$out/memcheck.log" || echo 'see memcheck.log')"
fi

# ---- kernel benchmarks --------------------------------------------------------------
stage_header benches
if gate benches 60; then
    failed_benches=()
    for b in $benches; do
        run_logged "$out/$(basename "$b").log" "$(( $(left) < 60 ? $(left) : 60 ))" "$b" || failed_benches+=("$(basename "$b")")
        grep -q MISMATCH "$out/$(basename "$b").log" && failed_benches+=("$(basename "$b") (MISMATCH)")
    done
    [ ${#failed_benches[@]} = 0 ] && record benches PASS "$(wc -w <<<"$benches") benchmarks (bench_*.log)" ||
        record benches FAIL "${failed_benches[*]}"
fi

stage_header racecheck
if gate racecheck 90; then
    run_logged "$out/racecheck.log" "$(cap 90)" "$make_cmd" "${make_args[@]}" gpu-sanitize \
        "GPU_SANITIZE_RUNS=racecheck:test_attention_gpu:small racecheck:test_kernels_gpu" &&
        record racecheck PASS "test_attention_gpu (small shapes) and test_kernels_gpu, no hazards" ||
        record racecheck FAIL "$(grep -m1 -E 'RACECHECK SUMMARY: [1-9]|ERROR|stopped' "$out/racecheck.log" || echo 'see racecheck.log')"
fi

# ---- verdict --------------------------------------------------------------------------
{
    echo "scpt gpu_check $(git rev-parse --short HEAD 2>/dev/null) | $(date -u '+%F %T UTC') | $(elapsed) s of ${budget} s"
    echo "logs: $out"
    printf '%s\n' "${lines[@]}"
    [ ${#notes[@]} = 0 ] || printf '%s\n' "${notes[@]}"
    off=$(printf '%s\n' "${lines[@]}" | grep -c '^[a-z-]* *OFF')
    [ $status = 0 ] && echo "verdict: the GPU path passed every stage$([ "$off" = 0 ] || echo " that ran ($off left out)")" ||
        echo "verdict: NOT conclusive or failing: see the lines above (a skipped stage counts against it)"
} >"$verdict"
echo
cat "$verdict"
exit $status
