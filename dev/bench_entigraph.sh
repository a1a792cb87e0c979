#!/usr/bin/env bash
# EntiGraph client throughput against llama-server (a tiny random Llama, so the
# server is as fast as it gets and the client's own costs show), at 1, 4 and 16
# requests in flight: requests/s and generated tokens/s; the server's figures
# from its per-response timings (generation tokens/s per slot, and how busy the
# slots were); the client's CPU time per request and its share of the wall time;
# and in the same run a reference client (node's http module, no retries, no
# output: dev/entigraph_ref_client.js) on the same requests.
#   dev/bench_entigraph.sh [REQUESTS [MAX_TOKENS]]   (make bench-entigraph builds and runs it)
set -euo pipefail
cd "$(dirname "$0")/.."
n_req=${1:-48}
max_tokens=${2:-64}
. test/llama_server.sh
[ -x "$llama_server" ] || { echo "no $llama_server: run scripts/setup --deps-only"; exit 1; }
tmp=$(mktemp -d /tmp/scpt_bench_entigraph_XXXXXX)
server_pid=
trap '[ -n "$server_pid" ] && kill "$server_pid"; rm -rf "$tmp"' EXIT

build/test/make_tiny_llama "$llama_vocab" "$tmp/tiny.gguf" >/dev/null
start_llama_server "$tmp/tiny.gguf" "$tmp/server.log" 16 16384 || { echo "llama-server did not start"; exit 1; }
export OPENAI_BASE_URL=http://127.0.0.1:$port/v1
unset OPENAI_API_KEY
# one chunk of about 150 words per document: one Rephrase request each
node -e 'for (let i = 0; i < Number(process.argv[1]); i++) {
    const words = Array.from({length: 150}, (_, k) => ["river", "lamp", "north", "harbour", "ledger", "storm"][(i * 7 + k * k) % 6]);
    console.log(JSON.stringify({id: `doc${i}`, title: `Document ${i}`, text: words.join(" ") + "."})); }' "$n_req" >"$tmp/corpus.jsonl"

echo "entigraph vs llama-server: $n_req requests of $max_tokens tokens; $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); $(date -u +%F)"
printf '%4s | %8s %9s | %12s %9s | %12s %10s | %9s %9s %7s\n' conc "req/s" "gen tok/s" "srv tok/s/slot" "slots busy" \
    "client CPU/req" "CPU share" "ref req/s" "ref CPU/req" "ratio"
for c in 1 4 16; do
    # warm-up: the server's first requests allocate its buffers
    ./entigraph --corpus "$tmp/corpus.jsonl" --rephrase --styles qa --model tiny --max-completion-tokens 8 \
        --concurrency "$c" --output "$tmp/warm$c.jsonl" --quiet 2>/dev/null
    # best of 2, entigraph and the reference taking turns (the machine is shared)
    best=0 ref=
    for pass in 1 2; do
        rm -f "$tmp/out$c.jsonl" "$tmp/out$c.jsonl.failures.jsonl"
        ./entigraph --corpus "$tmp/corpus.jsonl" --rephrase --styles qa --model tiny --max-completion-tokens "$max_tokens" \
            --concurrency "$c" --output "$tmp/out$c.jsonl" --summary-json "$tmp/p$pass.json" --quiet 2>"$tmp/run$c.log" ||
            { cat "$tmp/run$c.log"; exit 1; }
        el=$(node -p "require('$tmp/p$pass.json').elapsed_s")
        if [ "$best" = 0 ] || awk -v a="$el" -v b="$best" 'BEGIN { exit !(a < b) }'; then best=$el; cp "$tmp/p$pass.json" "$tmp/s$c.json"; fi
        r=$(node dev/entigraph_ref_client.js "$OPENAI_BASE_URL" "$tmp/corpus.jsonl" "$c" "$max_tokens")
        if [ -z "$ref" ] || node -e 'process.exit(JSON.parse(process.argv[1]).seconds < JSON.parse(process.argv[2]).seconds ? 0 : 1)' "$r" "$ref"; then ref=$r; fi
    done
    node -e '
        const [c, sPath, r] = process.argv.slice(1);
        const s = require(sPath), ref = JSON.parse(r);
        const rps = s.requests / s.elapsed_s, refRps = ref.requests / ref.seconds;
        const pad = (v, n) => String(v).padStart(n);
        console.log(`${pad(c, 4)} | ${pad(rps.toFixed(2), 8)} ${pad((s.generated_tokens / s.elapsed_s).toFixed(0), 9)} | ` +
            `${pad((s.completion_tokens / s.server_predicted_ms * 1000).toFixed(0), 14)} ` +
            `${pad((100 * (s.server_prompt_ms + s.server_predicted_ms) / (s.elapsed_s * 1000 * c)).toFixed(0) + "%", 10)} | ` +
            `${pad((1000 * s.cpu_s / s.requests).toFixed(2) + " ms", 14)} ${pad((100 * s.cpu_s / s.elapsed_s).toFixed(2) + "%", 10)} | ` +
            `${pad(refRps.toFixed(2), 9)} ${pad((1000 * ref.cpu_s / ref.requests).toFixed(2) + " ms", 11)} ${pad((rps / refRps).toFixed(2), 6)}x`);
    ' "$c" "$tmp/s$c.json" "$ref"
done
echo "prompt tokens per request (the server's count): $(node -p "const s = require('$tmp/s1.json'); (s.prompt_tokens / s.requests).toFixed(0)")"
echo "srv tok/s/slot: completion tokens / the server's summed generation time; slots busy: the server's summed"
echo "prompt + generation time / (wall time x requests in flight); CPU share: client CPU time / wall time;"
echo "ratio: entigraph req/s / reference client req/s (node $(node --version), keep-alive, same requests)"
