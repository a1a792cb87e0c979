#!/usr/bin/env bash
# The entigraph client against a real server: llama.cpp's llama-server (built by
# scripts/setup.d/llama_server.sh into $SCPT_CACHE/llama.cpp/build) serving a tiny
# Llama with random weights and the GPT-2 vocabulary (test/make_tiny_llama).
# The whole pipeline runs on the QuALITY sample (or a small built-in corpus when
# ../shared is absent): entities under a JSON-schema constraint, all pairs, the
# triples, then Rephrase, then a rerun that finds nothing left to do.
set -u
cd "$(dirname "$0")/.."
. test/check.sh
entigraph=$bin/entigraph
make_tiny_llama=$tests/make_tiny_llama
. test/llama_server.sh
[ -x "$llama_server" ] && [ -f "$llama_vocab" ] ||
    skip_all "$llama_server or $llama_vocab is absent (scripts/setup.d/llama_server.sh builds them)"
tmp=$(mktemp -d /tmp/scpt_test_entigraph_llama_XXXXXX)
server_pid=
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
t0=$(date +%s)

corpus=../shared/data/quality/quality_sample.jsonl
if [ ! -f "$corpus" ]; then
    echo "  $corpus is absent: a built-in corpus instead"
    corpus=$tmp/corpus.jsonl
    cat >"$corpus" <<'EOF'
{"id": "lighthouse", "title": "The Lighthouse Keeper", "text": "Mara kept the lighthouse on Gull Rock for thirty years. Every night she climbed the hundred steps to light the lamp, and every morning she wrote the weather in a red ledger.\n\nWhen the steamer Albatross ran aground in the fog of 1911, Mara rowed out alone and brought eleven sailors back to the rock. The harbour master of Port Ellis gave her a silver medal, which she kept in a drawer with the ledgers."}
{"id": "orchard", "title": "The Orchard", "text": "The Hale family grew apples in the valley below Cold Hill. Old Jonas Hale planted the first trees; his granddaughter Ruth grafted the russet variety that made the orchard famous at the county fair.\n\nA late frost in April nearly ruined the blossom one year, but Ruth lit smudge pots between the rows all night, and the harvest was saved."}
EOF
fi

if ! $make_tiny_llama "$llama_vocab" "$tmp/tiny.gguf" >"$tmp/make.log" 2>&1; then
    cat "$tmp/make.log"
    bad "make_tiny_llama"
    finish
    exit
fi

# four slots of 8k tokens: a QuALITY article is about 6.5k GPT-2 tokens
if ! start_llama_server "$tmp/tiny.gguf" "$tmp/server.log" 4 32768; then
    bad "llama-server did not start"
    finish
    exit
fi
ok "llama-server serves the tiny random Llama"
export OPENAI_BASE_URL=http://127.0.0.1:$port/v1
unset OPENAI_API_KEY

# a random model writes until max tokens; the schema (3 short names, a short summary) keeps the
# entity JSON under 96 tokens, so the constraint alone makes it parse
common=(--corpus "$corpus" --model tiny --max-completion-tokens 96 --concurrency 4 --timeout 120
        --entity-schema test/data/entities_tiny.schema.json --progress-interval 5)
$entigraph "${common[@]}" --output "$tmp/out.jsonl" --summary-json "$tmp/summary.json" >"$tmp/run.log" 2>&1
rc=$?
cat "$tmp/run.log"
check "EntiGraph run exits 0" [ $rc -eq 0 ]
check "no failures" [ ! -s "$tmp/out.jsonl.failures.jsonl" ]
# per document: 3 entities under the schema, all pairs, triples as many as pairs (at most C(n,3))
node -e '
const fs = require("fs");
const recs = fs.readFileSync(process.argv[1], "utf8").trim().split("\n").map(JSON.parse);
const docs = new Set(fs.readFileSync(process.argv[2], "utf8").trim().split("\n").map((l) => {
    const d = JSON.parse(l); return String(d.article_id !== undefined ? d.article_id : d.id); }));
let bad = 0;
const fail = (m) => { console.log("  " + m); bad++; };
for (const id of docs) {
    const mine = recs.filter((r) => r.doc_id === id);
    const ents = mine.filter((r) => r.kind === "entities");
    if (ents.length !== 1) { fail(`${id}: ${ents.length} entity records`); continue; }
    const e = ents[0].entities, n = e.length;
    if (n !== 3 || !e.every((x) => /^[A-Za-z][A-Za-z ]{0,9}$/.test(x))) fail(`${id}: entities ${JSON.stringify(e)}`);
    const pairs = mine.filter((r) => r.kind === "pair"), triples = mine.filter((r) => r.kind === "triple");
    const want = n * (n - 1) / 2, wantT = Math.min(want, n * (n - 1) * (n - 2) / 6);
    if (pairs.length !== want || triples.length !== wantT) fail(`${id}: ${pairs.length} pairs, ${triples.length} triples`);
    const keys = new Set(mine.map((r) => r.kind + r.entities.join("|")));
    if (keys.size !== mine.length) fail(`${id}: repeated records`);
    for (const r of mine.filter((r) => r.kind !== "entities"))
        if (!r.entities.every((x) => e.includes(x)) || !r.text) fail(`${id}: bad record ${JSON.stringify(r).slice(0, 200)}`);
}
for (const r of recs)
    if (!(r.usage.prompt_tokens > 0 && r.usage.completion_tokens > 0 && r.model)) fail(`usage or model missing: ${JSON.stringify(r).slice(0, 200)}`);
console.log(`  ${recs.length} records for ${docs.size} documents`);
process.exit(bad ? 1 : 0);' "$tmp/out.jsonl" "$corpus"
check "one entity list per document (schema held), all pairs, the triples, usage" [ $? -eq 0 ]
check "llama-server's own timings collected" \
    node -e 'const s = require(process.argv[1]); process.exit(s.server_predicted_ms > 0 && s.requests === s.written ? 0 : 1)' "$tmp/summary.json"

# Rephrase, one style, chunks of 2000 words: a few short requests
$entigraph --corpus "$corpus" --model tiny --max-completion-tokens 16 --concurrency 4 --rephrase --styles qa \
    --chunk-words 2000 --output "$tmp/rephrase.jsonl" --quiet 2>"$tmp/rephrase.log"
rc=$?
n=$(wc -l <"$tmp/rephrase.jsonl")
check "Rephrase run exits 0 ($n records)" test $rc -eq 0 -a "$n" -ge 2
check "  ... style qa, chunks from 0" grep -q '"style":"qa","chunk":0' "$tmp/rephrase.jsonl"

$entigraph "${common[@]}" --output "$tmp/out.jsonl" >"$tmp/rerun.log" 2>&1
check "a rerun finds everything done" grep -qE ' 0 records written, 0 failed, [0-9]+ already in the output' "$tmp/rerun.log"
echo "  $(($(date +%s) - t0)) s"
# a sanitizer's report on a run that exits non-zero anyway keeps that status: look for it
check "no sanitizer reports in the runs' logs" bash -c "! grep -l 'Sanitizer' '$tmp'/*.log"
finish
