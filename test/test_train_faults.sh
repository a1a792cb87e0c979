#!/usr/bin/env bash
# The train program under faults: a diverging run and a corrupt checkpoint stop with
# the step and tensor, signals stop with a checkpoint, a restart never logs a step
# twice, stale temporary files go, an unwritable --out or a full metrics disk fail
# loudly and early. SCPT_BIN selects the build (see test/check.sh).
set -u
cd "$(dirname "$0")/.."
. test/check.sh
train=$bin/train
scratch test_train_faults

$tests/make_shards "$tmp/train" 2 3000 100 1 && $tests/make_shards "$tmp/val" 1 1000 100 3 ||
    { echo "cannot make shards"; exit 1; }
# a constant learning rate: a run stopped at step k and continued to N equals a
# straight N-step run, whatever N is
common=(--model tiny-llama --train "$tmp/train_*.bin" --val '' --batch 4 --seq 16 --seed 3 --threads 2
        --schedule constant --warmup 0 --log-every 1 --device cpu)
steps_logged() { grep -o '"step": [0-9]*, "loss"' "$1" | grep -o '[0-9]*'; }
# waits (up to 60 s) until metrics file $1 holds the loss of step $2
wait_for_step() {
    for _ in $(seq 6000); do
        grep -q "\"step\": $2, \"loss\"" "$1" 2>/dev/null && return 0
        sleep 0.01
    done
    return 1
}
# byte offset of tensor $2's data in safetensors file $1
tensor_offset() {
    local n start
    n=$(od -An -tu8 -N8 "$1" | tr -d ' ')
    start=$(head -c $((8 + n)) "$1" | tail -c "$n" | grep -o "\"$2\":{[^}]*}" |
        sed -E 's/.*"data_offsets":\[([0-9]+),.*/\1/')
    [ -n "$start" ] || { echo "no tensor $2 in $1" >&2; return 1; }
    echo $((8 + n + start))
}
# writes the 4 bytes $3 (printf escapes) at tensor $2's first element
poke() { printf "$3" | dd of="$1" bs=1 seek="$(tensor_offset "$1" "$2")" conv=notrunc status=none; }
no_duplicates() { test -z "$(steps_logged "$1" | sort | uniq -d)"; }

# ---- numbers that are not numbers ----
# --eps 0 divides 0 by 0 for every parameter without gradient: NaN weights after step 1
$train "${common[@]}" --steps 5 --eps 0 --out "$tmp/nan" >"$tmp/nan.log" 2>&1
rc=$?
check "a diverging run stops (exit $rc)" test $rc -ne 0
check "divergence names the step and tensor" grep -q "step 2: loss nan.*diverged.*tensor '" "$tmp/nan.log"
check "a diverged run saves no checkpoint" test -z "$(ls "$tmp/nan" | grep safetensors)"
check "metrics hold no nan or inf" test -z "$(grep -Ei 'nan|inf' "$tmp/nan/metrics.jsonl")"

$train "${common[@]}" --steps 2 --out "$tmp/ok" >"$tmp/ok.log" 2>&1
ck=$tmp/ok/ckpt_00000002.safetensors
check "a short run checkpoints" test -f "$ck"
# one flipped exponent bit turns a norm weight near 1 into a NaN: refused on load,
# naming the file and tensor, where it used to train to NaN weights
cp "$ck" "$tmp/flip.safetensors"
off=$(tensor_offset "$tmp/flip.safetensors" model.lnfw)
byte=$(od -An -tu1 -j $((off + 3)) -N1 "$tmp/flip.safetensors" | tr -d ' ')
printf "\\x$(printf %02x $((byte ^ 0x40)))" | dd of="$tmp/flip.safetensors" bs=1 seek=$((off + 3)) conv=notrunc status=none
$train "${common[@]}" --steps 4 --resume "$tmp/flip.safetensors" --out "$tmp/flip" >"$tmp/flip.log" 2>&1
check "a flipped exponent bit is refused on load" \
    grep -q "flip.safetensors: tensor 'model.lnfw' holds 1 bad value (the first, element 0, is nan" "$tmp/flip.log"
check "... and nothing is trained" test ! -e "$tmp/flip/ckpt_00000004.safetensors"
$train "${common[@]}" --steps 4 --init "$tmp/flip.safetensors" --out "$tmp/flipi" >"$tmp/flipi.log" 2>&1
check "--init refuses it too" grep -q "flip.safetensors: tensor 'model.lnfw'" "$tmp/flipi.log"
# AdamW second moments are never negative
cp "$ck" "$tmp/negv.safetensors"
poke "$tmp/negv.safetensors" adam_v.wte '\x00\x00\x80\xbf'
$train "${common[@]}" --steps 4 --resume "$tmp/negv.safetensors" --out "$tmp/negv" >"$tmp/negv.log" 2>&1
check "a negative second moment is refused on load" \
    grep -q "negv.safetensors: tensor 'adam_v.wte' holds 1 bad value .*-1.*>= 0" "$tmp/negv.log"

# ---- signals and restarts ----
# SIGTERM mid-run: the step finishes, a checkpoint is written, the exit is non-zero
$train "${common[@]}" --steps 100000 --out "$tmp/sig" >"$tmp/sig.log" 2>&1 &
pid=$!
wait_for_step "$tmp/sig/metrics.jsonl" 2
kill -TERM $pid
wait $pid
rc=$?
check "SIGTERM exits non-zero ($rc)" test $rc -eq 143
stop=$(sed -nE 's/^stopped by signal 15 .* at step ([0-9]+) of .*/\1/p' "$tmp/sig.log")
check "SIGTERM says where it stopped" test -n "$stop"
stop=${stop:-0}
check "SIGTERM writes a checkpoint" test -f "$tmp/sig/ckpt_$(printf %08d "$stop").safetensors"
end=$((stop + 2))
$train "${common[@]}" --steps $end --out "$tmp/sig" >"$tmp/sig2.log" 2>&1
$train "${common[@]}" --steps $end --out "$tmp/straight" >"$tmp/straight.log" 2>&1
check "a signalled run continues to the straight run's weights" \
    cmp -s "$tmp/sig/ckpt_$(printf %08d $end).safetensors" "$tmp/straight/ckpt_$(printf %08d $end).safetensors"
check "... logging every step once" test "$(steps_logged "$tmp/sig/metrics.jsonl" | sort -un | wc -l)" -eq $end
check "... and none twice" no_duplicates "$tmp/sig/metrics.jsonl"
# a second signal ends the process at once, without the checkpoint
$train "${common[@]}" --steps 100000 --out "$tmp/sig2" >"$tmp/sig3.log" 2>&1 &
pid=$!
wait_for_step "$tmp/sig2/metrics.jsonl" 1
kill -TERM $pid
kill -INT $pid
wait $pid
rc=$?
check "a second signal ends the run at once ($rc)" test \( $rc -eq 130 -o $rc -eq 143 \) -a -z "$(grep 'stopped by' "$tmp/sig3.log")"

# kill -9 before the first checkpoint: the restart is a new run and logs no step twice
$train "${common[@]}" --steps 100000 --out "$tmp/k" >"$tmp/k.log" 2>&1 &
pid=$!
wait_for_step "$tmp/k/metrics.jsonl" 2
kill -9 $pid
wait $pid 2>/dev/null
$train "${common[@]}" --steps 3 --out "$tmp/k" >"$tmp/k2.log" 2>&1
check "a restart before the first checkpoint logs no step twice" no_duplicates "$tmp/k/metrics.jsonl"
check "... and logs the new run's steps" test "$(steps_logged "$tmp/k/metrics.jsonl" | tr '\n' ' ')" = "1 2 3 "

# extending a finished run's --steps changes the learning-rate schedule: said
$train "${common[@]}" --schedule cosine --steps 2 --out "$tmp/ext" >/dev/null 2>&1
$train "${common[@]}" --schedule cosine --steps 3 --out "$tmp/ext" >"$tmp/ext.log" 2>&1
check "more --steps for a finished run says the schedule changes" \
    grep -q "started with --steps 2; with --steps 3 the learning-rate schedule" "$tmp/ext.log"

# ---- the run directory and the disk ----
# a killed checkpoint write leaves a temporary file: the next start removes it
mkdir -p "$tmp/stale"
head -c 100000 /dev/zero >"$tmp/stale/ckpt_00000007.safetensors.tmp.99999"
$train "${common[@]}" --steps 1 --out "$tmp/stale" >"$tmp/stale.log" 2>&1
check "stale checkpoint temporaries are removed" test ! -e "$tmp/stale/ckpt_00000007.safetensors.tmp.99999"
check "... and reported" grep -q "removed 1 temporary file (0.1 MB)" "$tmp/stale.log"
# an --out that takes no files fails before the first step (root writes anywhere
# else, so it gets a directory of /proc)
ro=$tmp/ro
mkdir -p "$ro" && chmod 555 "$ro"
touch "$ro/probe" 2>/dev/null && ro=/proc/self
$train "${common[@]}" --steps 2 --out "$ro" --metrics "$tmp/ro.jsonl" >"$tmp/ro.log" 2>&1
rc=$?
check "an unwritable --out fails before step 1" \
    test $rc -eq 1 -a -n "$(grep -- "--out $ro is not writable" "$tmp/ro.log")" -a -z "$(grep 'step *1/' "$tmp/ro.log")"
# metrics on a full disk
$train "${common[@]}" --steps 2 --out "$tmp/full" --metrics /dev/full >"$tmp/full.log" 2>&1
rc=$?
check "metrics on a full disk fail loudly" test $rc -eq 1 -a -n "$(grep '/dev/full: cannot write metrics' "$tmp/full.log")"

# ---- the command line ----
$train "${common[@]}" --val "$tmp/none_*.bin" --out "$tmp/g" >"$tmp/g.log" 2>&1
check "a --val glob error names --val" grep -q -- "--val '.*none_\*.bin': no file matches" "$tmp/g.log"
$train --model tiny-gpt2 --batch 1000000 --seq 32 --train "$tmp/none_*.bin" --val '' --out "$tmp/mem" \
    >"$tmp/mem.log" 2>&1
check "more memory than the machine's is warned of" grep -q "warning: this run needs about .* GiB" "$tmp/mem.log"

finish
