#!/usr/bin/env bash
# The whole pipeline on this machine, no network, well under 30 minutes on 2 cores:
# documents -> EntiGraph and Rephrase against a local llama-server -> tokenize ->
# continued pretraining of a small GPT-2-vocabulary model with Brown-corpus replay ->
# QA eval -> points, fits, plot (out/demo-scaling/scaling.png).
# Its numbers are not the paper's: a random-weight generator and a tiny model only
# prove that every stage connects and produces the artefacts a GPU run does.
#
# Documents: the QuALITY sample (../shared/data/quality/quality_sample.jsonl) when
# present, else test/data/demo_corpus.jsonl with test/data/demo_qa.jsonl.
# GEN_GGUF: the generation model (default: a tiny random Llama made by
# build/test/make_tiny_llama); set it to a GGUF export of a trained model.
# OUT (default out/demo-scaling) is resumable: a rerun skips finished steps.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${SCPT_BIN:-.}
out=${OUT:-out/demo-scaling}
threads=${THREADS:-2}
. test/llama_server.sh   # $llama_server, $llama_vocab, start_llama_server
mkdir -p "$out"
for p in entigraph tokenize train eval corpus_text fitcurve; do
    [ -x "$bin/$p" ] || { echo "demo: $bin/$p is missing: run make (entigraph comes from the entigraph part)" >&2; exit 1; }
done
[ -x "$llama_server" ] || { echo "demo: $llama_server is missing: run scripts/setup --deps-only" >&2; exit 1; }
ls data/demo/brown_train_*.bin >/dev/null 2>&1 || make demo-data

corpus=../shared/data/quality/quality_sample.jsonl qa=../shared/data/quality/quality_sample.jsonl
if [ ! -f "$corpus" ]; then
    corpus=test/data/demo_corpus.jsonl qa=test/data/demo_qa.jsonl
fi
echo "demo: documents $corpus, questions $qa"

gguf=${GEN_GGUF:-}
if [ -z "$gguf" ]; then
    gguf=$out/tiny-random.gguf
    [ -x build/test/make_tiny_llama ] || make build/test/make_tiny_llama
    [ -f "$gguf" ] || build/test/make_tiny_llama "$llama_vocab" "$gguf"
fi
server_pid=
trap '[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null' EXIT
# 2 slots of 8k tokens: a QuALITY article is about 6.5k GPT-2 tokens
start_llama_server "$gguf" "$out/llama-server.log" 2 16384 || { echo "demo: llama-server did not start" >&2; exit 1; }
export OPENAI_BASE_URL=http://127.0.0.1:$port/v1
unset OPENAI_API_KEY

# the random generator writes until its token limit; the tiny schema keeps its entity
# JSON parseable (a real model uses the default schema)
gen="--model demo --max-completion-tokens 256 --concurrency 2 --timeout 300"
[ -z "${GEN_GGUF:-}" ] && gen="$gen --entity-schema test/data/entities_tiny.schema.json"
t0=$(date +%s)
scripts/scaling_curve.sh --corpus "$corpus" --qa "$qa" --out "$out" --model gpt2-demo \
    --fractions "1/4 1/2 1" --epochs 40 --batch 8 --seq 64 --lr 1e-3 \
    --replay "data/demo/brown_train_*.bin" --replay-frac 0.3 --threads "$threads" --gen-args "$gen"
echo "demo: done in $(($(date +%s) - t0)) s: $out/points.csv, $out/scaling.png"
