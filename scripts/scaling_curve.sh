#!/usr/bin/env bash
# The paper's scaling experiment on your corpus: Raw CPT (the source documents),
# Rephrase CPT and EntiGraph CPT at several synthetic-token budgets (fractions of the
# generated corpus), each continued-pretrained from the same start and evaluated on
# the QA set; then the points (CSV + JSONL), the fits and the plot.
#
# usage: scripts/scaling_curve.sh --corpus DOCS --qa QA.jsonl --out DIR [options]
#   --corpus F        source documents (JSONL id/title/text, QuALITY, or a folder of .txt)
#   --qa F            questions (eval's formats)
#   --out DIR         everything goes here; a rerun skips every finished step
#   --init CKPT       start from this checkpoint (else --model, randomly initialised)
#   --model P         preset when no --init (default gpt2-demo)
#   --fractions "L"   budgets as fractions of each generated corpus (default "1/16 1/8 1/4 1/2 1")
#   --methods "L"     which of raw, rephrase, entigraph to run (default all three)
#   --epochs E        passes over each training set (default 2)
#   --batch B --seq T training shape (default 8 x 64); --lr LR (default 3e-4)
#   --replay GLOB --replay-frac F   replay shards mixed in (default none)
#   --vocab V         tokenizer (default gpt2)
#   --threads N       CPU threads (default all)
#   --gen-args "..."  extra entigraph flags (--model, --max-tokens, ...); the server is
#                     OPENAI_BASE_URL (entigraph reads it). Generation is skipped when
#                     DIR/gen/<method>.jsonl is complete.
# Programs from SCPT_BIN (default the repo root): entigraph, tokenize, train, eval,
# corpus_text, fitcurve.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${SCPT_BIN:-$root}
corpus= qa= out= init= model=gpt2-demo fractions="1/16 1/8 1/4 1/2 1" epochs=2 batch=8 seq=64 lr=3e-4
replay= replay_frac=0 vocab=gpt2 threads=0 gen_args= methods="raw rephrase entigraph"
while [ $# -gt 0 ]; do
    case $1 in
    --corpus) corpus=$2 ;; --qa) qa=$2 ;; --out) out=$2 ;; --init) init=$2 ;; --model) model=$2 ;;
    --fractions) fractions=$2 ;; --epochs) epochs=$2 ;; --batch) batch=$2 ;; --seq) seq=$2 ;; --lr) lr=$2 ;;
    --replay) replay=$2 ;; --replay-frac) replay_frac=$2 ;; --vocab) vocab=$2 ;; --threads) threads=$2 ;;
    --gen-args) gen_args=$2 ;; --methods) methods=$2 ;;
    -h | --help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "scaling_curve.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift 2
done
[ -n "$corpus" ] && [ -n "$qa" ] && [ -n "$out" ] || { echo "scaling_curve.sh: --corpus, --qa and --out are required" >&2; exit 2; }
for p in tokenize train eval corpus_text fitcurve; do
    [ -x "$bin/$p" ] || { echo "scaling_curve.sh: $bin/$p is missing: run make" >&2; exit 1; }
done
mkdir -p "$out/gen" "$out/runs"
log() { echo "[$(date +%H:%M:%S)] $*"; }

# ---- 1. the training corpora: source text, Rephrase, EntiGraph -----------------------------
[ -f "$out/gen/raw.jsonl" ] || "$bin/corpus_text" "$corpus" "$out/gen/raw.jsonl"
wants() { [[ " $methods " == *" $1 "* ]]; }
for method in entigraph rephrase; do
    wants $method || continue
    done_flag=$out/gen/$method.done
    [ -f "$done_flag" ] && continue
    [ -x "$bin/entigraph" ] || { echo "scaling_curve.sh: $bin/entigraph is missing (branch entigraph)" >&2; exit 1; }
    log "generating $method corpus (resumes $out/gen/$method.jsonl)"
    flag=; [ $method = rephrase ] && flag=--rephrase
    # a progress line (items, rate, ETA) every 30 s
    # shellcheck disable=SC2086
    "$bin/entigraph" --corpus "$corpus" --output "$out/gen/$method.jsonl" $flag $gen_args --progress-interval 30
    touch "$done_flag"
done

# the first fraction f of the records of a generated corpus (order is the generator's)
subset() { # SRC FRACTION DST
    local n
    n=$(awk -v f="$2" 'END { split(f, p, "/"); k = (p[2] ? p[1] / p[2] : p[1]) * NR; k = int(k + 0.999999); print k < 1 ? 1 : k }' "$1")
    head -n "$n" "$1" >"$3.tmp" && mv "$3.tmp" "$3"
}
tokens_of() { # total tokens in shards PREFIX_train_*.bin, from each header (int32 #2)
    local t=0 f
    for f in "$1"_train_*.bin; do t=$((t + $(od -An -t d4 -j 8 -N 4 "$f"))); done
    echo "$t"
}

# ---- 2. one run per (method, budget): tokenize, train, eval --------------------------------
run_one() { # METHOD FRACTION SRC
    local method=$1 frac=$2 src=$3 dir
    dir=$out/runs/$method-$(echo "$frac" | tr / _)
    mkdir -p "$dir"
    [ -f "$dir/eval/summary.json" ] && return 0
    [ -f "$dir/data.jsonl" ] || subset "$src" "$frac" "$dir/data.jsonl"
    compgen -G "$dir/tok_train_*.bin" >/dev/null ||
        "$bin/tokenize" --vocab "$vocab" --field text --quiet --out "$dir/tok" "$dir/data.jsonl"
    local tokens steps
    tokens=$(tokens_of "$dir/tok")
    steps=$(awk -v t="$tokens" -v e="$epochs" -v b="$batch" -v s="$seq" 'BEGIN { k = int(e * t / (b * s) + 0.999999); print k < 1 ? 1 : k }')
    log "$method $frac: $tokens tokens, $steps steps"
    # a new run starts from --init (or --model); a run with a checkpoint continues from it
    local start=(--model "$model"); [ -n "$init" ] && start=(--init "$init")
    compgen -G "$dir/train/ckpt_*.safetensors" >/dev/null && start=(--resume auto)
    local mix=(); [ -n "$replay" ] && mix=(--replay "$replay" --replay-frac "$replay_frac")
    "$bin/train" "${start[@]}" "${mix[@]}" --train "$dir/tok_train_*.bin" --val "" --steps "$steps" --batch "$batch" \
        --seq "$seq" --lr "$lr" --warmup $((steps / 10)) --log-every 50 --ckpt-every 100 --keep-ckpts 1 \
        --threads "$threads" --out "$dir/train" |
        tee "$dir/train.log" | sed -u -n "s|^step|  $method $frac: step|p"   # a progress line every 50 steps
    local ckpt
    ckpt=$(ls "$dir"/train/ckpt_*.safetensors | tail -n 1)
    "$bin/eval" --ckpt "$ckpt" --vocab "$vocab" --qa "$qa" --threads "$threads" --out "$dir/eval" >"$dir/eval.log" 2>&1
    echo "$tokens" >"$dir/tokens"
    log "$method $frac: $(grep -E '^acc ' "$dir/eval.log")"
}
wants raw && run_one raw 1 "$out/gen/raw.jsonl"
for frac in $fractions; do
    wants rephrase && run_one rephrase "$frac" "$out/gen/rephrase.jsonl"
    wants entigraph && run_one entigraph "$frac" "$out/gen/entigraph.jsonl"
done

# ---- 3. the points, the fits, the plot -------------------------------------------------
# the starting checkpoint is every method's point at 0 synthetic tokens (as the paper's base model)
if [ -n "$init" ] && [ ! -f "$out/init_eval/summary.json" ]; then
    "$bin/eval" --ckpt "$init" --vocab "$vocab" --qa "$qa" --threads "$threads" --out "$out/init_eval" >"$out/init_eval.log" 2>&1
    log "start (0 tokens): $(grep -E '^acc ' "$out/init_eval.log")"
fi
json_num() { sed -n "s/.*\"$2\":[[:space:]]*\([-0-9.e+]*\).*/\1/p" "$1" | head -n 1; }
method_name() { case $1 in raw) echo "Raw CPT" ;; rephrase) echo "Rephrase CPT" ;; *) echo "EntiGraph CPT" ;; esac; }
{
    echo "method,tokens,acc"
    if [ -f "$out/init_eval/summary.json" ]; then
        for m in $methods; do echo "$(method_name "$m"),0,$(json_num "$out/init_eval/summary.json" acc)"; done
    fi
    for dir in "$out"/runs/*/; do
        [ -f "$dir/eval/summary.json" ] || continue
        m=$(basename "$dir")
        echo "$(method_name "${m%%-*}"),$(cat "$dir/tokens"),$(json_num "$dir/eval/summary.json" acc)"
    done
} >"$out/points.csv.tmp" && mv "$out/points.csv.tmp" "$out/points.csv"
awk -F, 'NR > 1 { printf "{\"method\": \"%s\", \"tokens\": %s, \"acc\": %s}\n", $1, $2, $3 }' "$out/points.csv" \
    >"$out/points.jsonl.tmp" && mv "$out/points.jsonl.tmp" "$out/points.jsonl"
SCPT_BIN=$bin "$root/scripts/plot_scaling.sh" "$out/points.csv" "$out/scaling.png"
log "points: $out/points.csv, plot: $out/scaling.png"
