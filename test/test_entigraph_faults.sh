#!/usr/bin/env bash
# The entigraph client against a scripted server of our own on loopback
# (test/entigraph_fault_server.js): 429 with Retry-After, 500, 503, truncated
# bodies, invalid JSON, malformed entity lists, slow answers past --timeout,
# connections closed mid-body or without an answer, kill -9 of the client and a
# rerun; then the token budget, the order from --seed, Rephrase, key redaction.
# After each run test/entigraph_check_output.js checks that every work item is
# written exactly once or reported failed.
set -u
cd "$(dirname "$0")/.."
. test/check.sh
entigraph=$bin/entigraph
command -v node >/dev/null || skip_all "node is not installed (scripts/setup installs it)"
scratch test_entigraph_faults

# start_server MODE [DELAY_MS]: a fresh server; its port in $port, its log $tmp/MODE.server.log
start_server() {
    node_server "$tmp/port" test/entigraph_fault_server.js "$1" "$tmp/$1.server.log" "$tmp/port" "${2:-0}"
    export OPENAI_BASE_URL=http://127.0.0.1:$port/v1
}

# six documents
for i in 1 2 3 4 5 6; do
    echo "{\"id\": \"d$i\", \"title\": \"Doc $i\", \"text\": \"Document number $i. It has a few words.\"}"
done >"$tmp/corpus.jsonl"
export OPENAI_API_KEY=sk-test-NOT-A-REAL-KEY-1234
common=(--corpus "$tmp/corpus.jsonl" --prompts test/data/entigraph_prompts --model scripted --max-triples all
        --retries 3 --backoff 0.05 --max-backoff 0.2 --timeout 1 --connect-timeout 1 --progress-interval 1)
checker() { node test/entigraph_check_output.js "$@" "$tmp/corpus.jsonl"; }

# 1. every fault once; the dead entity step drops its document, the dead relation fails
start_server faults
t0=$(date +%s.%N)
$entigraph "${common[@]}" --concurrency 8 --output "$tmp/f.jsonl" --summary-json "$tmp/f.summary.json" \
    >"$tmp/f.log" 2>&1
rc=$?
el=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
check "fault run exits 3 (finished, some items failed)" [ "$rc" -eq 3 ]
check "every item written once or failed; Retry-After honoured" checker "$tmp/f.jsonl" "$tmp/f.jsonl.failures.jsonl" "$tmp/faults.server.log"
check "two items reported failed, with reasons" [ "$(wc -l <"$tmp/f.jsonl.failures.jsonl")" -eq 2 ]
check "failure reasons name the cause" grep -q 'malformed entity list' "$tmp/f.jsonl.failures.jsonl"
check "  ... and HTTP 500 after 4 attempts" grep -q '"reason":"HTTP 500: Internal Server Error (after 4 attempts)"' "$tmp/f.jsonl.failures.jsonl"
# every fault was met and retried: 429 x3 (Retry-After, retry-after-ms x2), 500 + 503 x2 + 500 x4;
# truncated, slow and cut mid-body are transport errors; a connection closed without an answer
# is resent by libcurl itself when it was a reused one (0..1 more), and libcurl takes headers cut
# short as an empty 200 that the client then rejects as not JSON (0..1 more)
summary() { node -p "require('$tmp/f.summary.json').$1"; }
check "429s counted: $(summary rate_limited)" [ "$(summary rate_limited)" -eq 3 ]
check "HTTP errors counted: $(summary http_errors)" [ "$(summary http_errors)" -eq 10 ]
check "transport errors counted: $(summary transport_errors)" test "$(summary transport_errors)" -ge 3 -a "$(summary transport_errors)" -le 5
check "retries logged" grep -q 'attempt 1/4 failed, retrying in' "$tmp/f.log"
check "progress line with rate and ETA" grep -qE 'items \| [0-9.]+ req/s \| [0-9]+ tok/s .*ETA' "$tmp/f.log"
check "usage summary" grep -qE 'tokens paid: prompt [0-9]+, completion [0-9]+' "$tmp/f.log"
check "fault run took under 12 s ($el s)" awk -v t="$el" 'BEGIN { exit !(t < 12) }'
check "the API key is never printed" bash -c "! grep -rq NOT-A-REAL-KEY '$tmp'/f*"

# 2. a rerun against the same server retries only what failed: the dead items fail again
$entigraph "${common[@]}" --output "$tmp/f.jsonl" >"$tmp/f2.log" 2>&1
check "rerun resumes: nothing written again" grep -q '0 records written, 2 failed, 54 already in the output' "$tmp/f2.log"
check "rerun: still consistent" checker "$tmp/f.jsonl" "$tmp/f.jsonl.failures.jsonl"

# 3. kill -9 at three moments (amid the entity steps, early and late in the relations), a torn
# last line, Ctrl-C, then a rerun to the end: after each stop no record is there twice, and at the
# end every item is there exactly once
start_server clean 40
# run_until N SIGNAL LOG: a run that gets SIGNAL once the output holds N records; its status in $rc
run_until() {
    $entigraph "${common[@]}" --concurrency 4 --output "$tmp/k.jsonl" >"$3" 2>&1 &
    local pid=$!
    for _ in $(seq 300); do [ "$(cat "$tmp/k.jsonl" 2>/dev/null | wc -l)" -ge "$1" ] && break; sleep 0.02; done
    kill -"$2" "$pid"
    wait "$pid"
    rc=$?
}
for n in 3 25 45; do
    { run_until "$n" KILL "$tmp/k$n.log"; } 2>/dev/null
    have=$(wc -l <"$tmp/k.jsonl")
    check "kill -9 at $n records: $have of 66 there" test "$have" -ge "$n" -a "$have" -lt 66
    check "  ... none twice, none outside the plan" checker --partial "$tmp/k.jsonl" "$tmp/k.jsonl.failures.jsonl"
done
printf '{"doc_id":"d1","kind":"pair","entit' >>"$tmp/k.jsonl"   # a write cut by the kill
run_until 55 INT "$tmp/kint.log"
check "the next run cut the torn line" grep -q 'cut a torn last line of 35 bytes' "$tmp/kint.log"
check "Ctrl-C: exit 130 once the requests in flight are written" test $rc -eq 130
check "  ... saying a rerun resumes" grep -q 'interrupted; a rerun resumes' "$tmp/kint.log"
$entigraph "${common[@]}" --concurrency 4 --output "$tmp/k.jsonl" >"$tmp/k2.log" 2>&1
check "the last rerun exits 0" [ $? -eq 0 ]
check "after kill -9 x3 + Ctrl-C + rerun: all 66 items exactly once" checker "$tmp/k.jsonl" "$tmp/k.jsonl.failures.jsonl"
check "  ... and no failures" [ ! -s "$tmp/k.jsonl.failures.jsonl" ]
check "  ... and all 66 records" [ "$(wc -l <"$tmp/k.jsonl")" -eq 66 ]
$entigraph "${common[@]}" --output "$tmp/k.jsonl" >"$tmp/k3.log" 2>&1
check "a third run has nothing to do" grep -q '0 records written, 0 failed, 66 already in the output' "$tmp/k3.log"

# 4. --max-tokens stops cleanly (10 tokens an answer, one in flight), a bigger budget resumes
start_server clean
$entigraph "${common[@]}" --concurrency 1 --max-tokens 50 --output "$tmp/b.jsonl" >"$tmp/b.log" 2>&1
rc=$?
check "budget of 50 tokens: 5 records, exit 0" test $rc -eq 0 -a "$(wc -l <"$tmp/b.jsonl")" -eq 5
check "budget reached is said" grep -q 'token budget of 50 reached' "$tmp/b.log"
$entigraph "${common[@]}" --concurrency 1 --max-tokens 120 --output "$tmp/b.jsonl" >"$tmp/b2.log" 2>&1
check "budget of 120 counts the earlier 50: 12 records" [ "$(wc -l <"$tmp/b.jsonl")" -eq 12 ]
check "budget run is consistent" checker --partial "$tmp/b.jsonl" "$tmp/b.jsonl.failures.jsonl"

# 5. the order of work comes from --seed: same seed, same order; another seed, another
order() { node -e 'for (const l of require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n"))
                     { const r = JSON.parse(l); console.log(r.doc_id, r.kind, r.entities.join("|")); }' "$1"; }
for s in 1 1b 2; do
    $entigraph "${common[@]}" --concurrency 1 --seed "${s%b}" --max-pairs 3 --max-triples 2 \
        --output "$tmp/s$s.jsonl" --quiet 2>/dev/null
    order "$tmp/s$s.jsonl" >"$tmp/s$s.order"
done
check "seed 1 twice: the same order" cmp -s "$tmp/s1.order" "$tmp/s1b.order"
check "seed 2: another order" bash -c "! cmp -s '$tmp/s1.order' '$tmp/s2.order'"
check "--max-pairs 3 --max-triples 2: 6 + 6x5 records" [ "$(wc -l <"$tmp/s1.jsonl")" -eq 36 ]
check "round robin: the first pairs come from every document" \
    [ "$(sed -n 7,12p "$tmp/s1.order" | cut -d' ' -f1 | sort -u | wc -l)" -eq 6 ]

# 6. Rephrase: every chunk in every style
$entigraph "${common[@]}" --rephrase --chunk-words 4 --output "$tmp/r.jsonl" --quiet 2>"$tmp/r.log"
check "rephrase: 6 docs x 2 chunks x 2 styles" [ "$(wc -l <"$tmp/r.jsonl")" -eq 24 ]
check "rephrase records carry style and chunk" grep -q '"kind":"rephrase","entities":\[\],"style":"fancy","chunk":1' "$tmp/r.jsonl"

# 7. a refused key stops the run at once, with the other requests still in flight, and is not echoed
start_server echo401 300
$entigraph "${common[@]}" --output "$tmp/e.jsonl" >"$tmp/e.log" 2>&1
rc=$?
check "HTTP 401 stops the run with exit 1" test $rc -eq 1
check "  ... saying why" grep -q 'refused the request: HTTP 401' "$tmp/e.log"
check "the key in the server's answer is redacted" bash -c "grep -q 'Bearer \*\*\*' '$tmp/e.log' && ! grep -q NOT-A-REAL-KEY '$tmp/e.log'"

# 8. bad flags and a second writer
$entigraph --corpus "$tmp/corpus.jsonl" --output "$tmp/x.jsonl" --concurrency 0 >"$tmp/x.log" 2>&1
check "bad --concurrency is refused" grep -q -- '--concurrency 0 is outside 1..4096' "$tmp/x.log"

# a sanitizer's report on a run that exits non-zero anyway keeps that status: look for it
check "no sanitizer reports in the runs' logs" bash -c "! grep -l 'Sanitizer' '$tmp'/*.log"
finish
