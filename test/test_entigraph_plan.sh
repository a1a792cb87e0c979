#!/usr/bin/env bash
# entigraph --plan against what a live run then pays: the plan's request counts
# per step are exact, and its prompt tokens are close to the tokens the scripted
# server (test/entigraph_batch_server.js) counts with an independent tokenizer
# (npm gpt-tokenizer, r50k) and OpenAI's chat framing: within 0.5% once the
# entities are known (the document is counted apart, once per document, which
# moves a BPE merge at its edges: about a token per request), 2% before (the
# plan's placeholder names, "Entity Name 7", are shorter than the server's).
# After a partial run the plan's expected completion tokens are those seen.
set -u
cd "$(dirname "$0")/.."
. test/check.sh
entigraph=$bin/entigraph
command -v node >/dev/null || skip_all "node is not installed (scripts/setup installs it)"
scratch test_entigraph_plan
node_server "$tmp/port" test/entigraph_batch_server.js "$tmp" "$tmp/port" 4
export OPENAI_BASE_URL=http://127.0.0.1:$port/v1 OPENAI_API_KEY=sk-test-plan

awk 'BEGIN { srand(3); split("river stone market harbour council winter letter garden bridge lantern", w, " ");
             for (d = 1; d <= 3; d++) { s = ""; for (i = 0; i < 150 * d; i++) s = s w[1 + int(rand() * 10)] (i % 12 == 11 ? ". " : " ");
                 printf "{\"id\": \"d%d\", \"title\": \"Document %d\", \"text\": \"%s\"}\n", d, d, s } }' >"$tmp/corpus.jsonl"
common=(--corpus "$tmp/corpus.jsonl" --model scripted --max-completion-tokens 64 --plan-vocab gpt2 --quiet)

# plan_field FILE STEP COLUMN: a number from the plan's table (2 requests, 3 prompt, 4 completion)
plan_field() { awk -v s="$2" -v c="$3" '$1 == s { print $c }' "$1"; }
summary_field() { node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1]))[process.argv[2]])' "$1" "$2"; }
within() { node -e 'const [a, b, tol] = process.argv.slice(1).map(Number); process.exit(Math.abs(a - b) <= tol * b ? 0 : 1)' "$@"; }

# compare NAME PLAN SUMMARY TOLERANCE: requests exact, prompt tokens within TOLERANCE
compare() {
    check "$1: requests planned = requests sent" \
        [ "$(plan_field "$2" total 2)" = "$(summary_field "$3" requests)" ]
    check "$1: prompt tokens planned within $4 of those paid" \
        within "$(plan_field "$2" total 3)" "$(summary_field "$3" prompt_tokens)" $4
    echo "  $1: planned $(plan_field "$2" total 2) requests, $(plan_field "$2" total 3) prompt tokens;" \
         "paid $(summary_field "$3" requests) requests, $(summary_field "$3" prompt_tokens) prompt tokens"
}

$entigraph "${common[@]}" --output "$tmp/out.jsonl" --plan --plan-entities 4 --price-input 10 --price-output 30 >"$tmp/plan.txt"
check "--plan sends nothing" [ ! -s "$tmp/log.jsonl" ]
check "--plan creates no output" [ ! -e "$tmp/out.jsonl" ]
check "--plan gives the steps' requests (3 entity steps; 6 pairs and 4 triples each)" \
    [ "$(plan_field "$tmp/plan.txt" entities 2) $(plan_field "$tmp/plan.txt" pair 2) $(plan_field "$tmp/plan.txt" triple 2)" = "3 18 12" ]
check "--plan prices the tokens" grep -q 'cost: live \$[0-9.]* (at most \$[0-9.]*), Batch API' "$tmp/plan.txt"
$entigraph "${common[@]}" --output "$tmp/out.jsonl" --summary-json "$tmp/sum.json" 2>"$tmp/run.err"
compare "fresh corpus" "$tmp/plan.txt" "$tmp/sum.json" 0.02

# after the run: nothing left, and the completions seen are the expectation
$entigraph "${common[@]}" --output "$tmp/out.jsonl" --plan >"$tmp/plan_after.txt"
check "after the run the plan is empty" [ "$(plan_field "$tmp/plan_after.txt" total 2)" = 0 ]

# a partial run (the entity steps and a few relations), then the rest planned and run
rm -f "$tmp/out2.jsonl"
$entigraph "${common[@]}" --output "$tmp/out2.jsonl" --max-tokens 120 --concurrency 1 2>/dev/null
$entigraph "${common[@]}" --output "$tmp/out2.jsonl" --plan >"$tmp/plan_rest.txt"
seen_avg=$(node -e 'let n = 0, s = 0; for (const l of require("fs").readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean)) {
    const r = JSON.parse(l); if (r.kind === "pair") { n++; s += r.usage.completion_tokens; } } console.log(Math.round(s / n))' "$tmp/out2.jsonl")
check "the plan expects the completion tokens the earlier pairs got" \
    [ "$(node -e 'console.log(Math.round(process.argv[1] / process.argv[2]))' "$(plan_field "$tmp/plan_rest.txt" pair 4)" "$(plan_field "$tmp/plan_rest.txt" pair 2)")" = "$seen_avg" ]
$entigraph "${common[@]}" --output "$tmp/out2.jsonl" --summary-json "$tmp/sum2.json" 2>/dev/null
compare "resumed output" "$tmp/plan_rest.txt" "$tmp/sum2.json" 0.005

# a live run's progress line: the spend so far against the plan (10$/M in, 30$/M out)
$entigraph --corpus "$tmp/corpus.jsonl" --model scripted --max-completion-tokens 64 --plan-vocab gpt2 --progress-interval 0 \
    --output "$tmp/out3.jsonl" --price-input 10 --price-output 30 --summary-json "$tmp/sum3.json" 2>"$tmp/run3.err"
spent=$(node -e 'const s = JSON.parse(require("fs").readFileSync(process.argv[1]));
    console.log(((s.prompt_tokens * 10 + s.completion_tokens * 30) / 1e6).toFixed(2))' "$tmp/sum3.json")
check "the progress line shows the spend so far and the plan" grep -q "spent \$$spent of \$[0-9.]* planned" "$tmp/run3.err"

# the QuALITY sample with the real prompts, a few relations per document
quality=${SCPT_QUALITY:-../shared/data/quality/quality_sample.jsonl}
if [ -f "$quality" ]; then
    q=(--corpus "$quality" --model scripted --max-completion-tokens 64 --plan-vocab gpt2 --quiet --max-pairs 4 --max-triples 4)
    $entigraph "${q[@]}" --output "$tmp/q.jsonl" --plan --plan-entities 4 >"$tmp/qplan.txt"
    $entigraph "${q[@]}" --output "$tmp/q.jsonl" --summary-json "$tmp/qsum.json" 2>/dev/null
    compare "QuALITY sample" "$tmp/qplan.txt" "$tmp/qsum.json" 0.02
else
    echo "[skip] QuALITY sample: $quality is absent"; skipped=$((skipped + 1))
fi
finish
