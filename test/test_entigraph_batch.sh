#!/usr/bin/env bash
# entigraph --batch against a scripted Files + Batches server
# (test/entigraph_batch_server.js): batches that complete, expire half done, come
# back with partial errors or fail; the client killed -9 after an upload, after
# a batch is created (before and after the journal records it) and amid a
# download, then rerun. After each finished run
# every planned item (the live path's output on the same server is the plan) is
# written or failed exactly once, under the live path's ids, and no request
# file is ever made into two batches.
set -u
cd "$(dirname "$0")/.."
. test/check.sh
entigraph=$bin/entigraph
command -v node >/dev/null || skip_all "node is not installed (scripts/setup installs it)"
scratch test_entigraph_batch
# start_server SCRIPT: a fresh server whose batches, by creation order, follow SCRIPT
start_server() {
    rm -f "$tmp/log.jsonl"
    node_server "$tmp/port" test/entigraph_batch_server.js "$tmp" "$tmp/port" 3 "$1"
    export OPENAI_BASE_URL=http://127.0.0.1:$port/v1 OPENAI_API_KEY=sk-test-batch-NOT-A-KEY
}
for d in 1 2 3 4 5 6; do echo "{\"id\": \"d$d\", \"title\": \"Doc $d\", \"text\": \"Document $d tells of a river, a bridge and a lantern.\"}"; done >"$tmp/corpus.jsonl"
common=(--corpus "$tmp/corpus.jsonl" --model scripted --max-completion-tokens 64 --quiet --retries 2 --backoff 0.01
        --batch-max-requests 5 --batch-poll 0.01 --batch-max-poll 0.05)

start_server ""
$entigraph "${common[@]}" --output "$tmp/live.jsonl" 2>/dev/null
# keys OUT: the ids of each record (doc, kind, entities), one per line, sorted
keys() { [ -f "$1" ] && node -e 'for (const l of require("fs").readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean)) {
    const r = JSON.parse(l); console.log([r.doc_id, r.kind].concat(r.entities || []).join("|")) }' "$1" | sort; }
keys "$tmp/live.jsonl" >"$tmp/live.keys"
check "the live run's plan: 6 entity steps, 3 pairs and 1 triple each" [ "$(wc -l <"$tmp/live.keys")" = 30 ]

# exactly_once NAME OUT: written + failed = the live plan, each once
exactly_once() {
    { keys "$2"; keys "$2.failures.jsonl"; } | sort >"$tmp/got.keys"
    check "$1: every planned item written or failed exactly once" cmp -s "$tmp/got.keys" "$tmp/live.keys"
    check "$1: no request file made into two batches" \
        node -e 'const ids = require("fs").readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean).map(JSON.parse)
                     .filter((r) => r.created).map((r) => r.input_file_id); process.exit(new Set(ids).size === ids.length ? 0 : 1)' "$tmp/log.jsonl"
}

# 1. a clean run, one batch that expires half done, one with partial errors
start_server "ok,expire,partial"
$entigraph "${common[@]}" --batch --output "$tmp/b1.jsonl" 2>"$tmp/b1.err"
check "batch run exits 0" [ $? = 0 ]
exactly_once "expired + partial errors" "$tmp/b1.jsonl"
check "  ... nothing failed in the end" [ ! -s "$tmp/b1.jsonl.failures.jsonl" ]
check "  ... the same records as the live path" cmp -s <(keys "$tmp/b1.jsonl") "$tmp/live.keys"
check "  ... the expired batch's missing items went into a new batch" grep -q 'expired' "$tmp/b1.err"
check "  ... request files follow the Batch API's input format" \
    node -e 'const l = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8").split("\n")[0]);
             process.exit(l.custom_id === "b1-0" && l.method === "POST" && l.url === "/v1/chat/completions" && l.body.messages ? 0 : 1)' "$tmp/b1.jsonl.batch-000001.jsonl"
check "  ... at most --batch-max-requests lines per file" \
    bash -c "for f in '$tmp'/b1.jsonl.batch-*[0-9].jsonl; do [ \$(wc -l <\"\$f\") -le 5 ] || exit 1; done"
check "the API key is never printed" bash -c "! grep -q NOT-A-KEY '$tmp/b1.err'"

# 2-5. killed -9 after an upload, after a create (recorded or not), amid a download; each rerun to the end
count() { grep -c "$1" "$tmp/log.jsonl"; }
for moment in upload create-unrecorded create download; do
    start_server "ok,partial,ok"
    SCPT_TEST_BATCH_KILL=$moment $entigraph "${common[@]}" --batch --output "$tmp/k_$moment.jsonl" 2>"$tmp/k_$moment.err"
    rc=$?
    check "killed at $moment (status $rc)" [ $rc = 137 ]
    $entigraph "${common[@]}" --batch --output "$tmp/k_$moment.jsonl" 2>>"$tmp/k_$moment.err"
    check "  ... the rerun exits 0" [ $? = 0 ]
    exactly_once "killed at $moment" "$tmp/k_$moment.jsonl"
    check "  ... one upload and one batch per request file" \
        [ "$(count '"url":"/files"') $(count '"created"')" = "$(ls "$tmp"/k_$moment.jsonl.batch-*[0-9].jsonl | wc -l) $(ls "$tmp"/k_$moment.jsonl.batch-*[0-9].jsonl | wc -l)" ]
done 2>/dev/null
check "after a kill between upload and create the rerun made the uploaded file a batch" grep -q 'batch 1 resumed (uploaded)' "$tmp/k_upload.err"
check "after a kill before the batch was recorded the rerun found it on the server" grep -q 'batch 1 resumed (uploaded)' "$tmp/k_create-unrecorded.err"
check "after a kill between create and download the rerun polled the same batch" grep -q 'batch 1 resumed (batch_' "$tmp/k_create.err"

# 5. batches that keep failing: retried in new batches --retries times, then failed
start_server "fail,fail,fail,fail,fail,fail"
$entigraph "${common[@]}" --batch --retries 1 --output "$tmp/f.jsonl" 2>"$tmp/f.err"
check "failed batches: exit 3" [ $? = 3 ]
check "  ... every entity step failed once, nothing written" \
    [ "$(keys "$tmp/f.jsonl.failures.jsonl" | wc -l) $(keys "$tmp/f.jsonl" | wc -l)" = "6 0" ]
# 6. offline: request files for vLLM's run_batch (imitated here), results merged on the rerun
unset OPENAI_BASE_URL OPENAI_API_KEY
$entigraph "${common[@]}" --batch-offline --output "$tmp/o.jsonl" 2>"$tmp/o.err"
check "offline: exit 4 while request files wait for the runner" [ $? = 4 ]
check "  ... printing vLLM's command" grep -q "python -m vllm.entrypoints.openai.run_batch -i $tmp/o.jsonl.batch-000001.jsonl -o $tmp/o.jsonl.batch-000001.results.jsonl --model scripted" "$tmp/o.err"
for round in 1 2 3 4 5 6; do
    for f in "$tmp"/o.jsonl.batch-*[0-9].jsonl; do
        res=${f%.jsonl}.results.jsonl
        # the first runner leaves every fourth line out: those go into a new request file
        [ -e "$res" ] || node test/entigraph_batch_server.js --run-batch "$f" "$res" 3 $([ "$f" = "$tmp/o.jsonl.batch-000001.jsonl" ] && echo 4)
    done
    $entigraph "${common[@]}" --batch-offline --output "$tmp/o.jsonl" 2>>"$tmp/o.err"
    rc=$?
    [ $rc = 4 ] || break
done
check "offline: the reruns end with exit 0" [ $rc = 0 ]
: >"$tmp/log.jsonl"   # no server: no batch was created
exactly_once "offline" "$tmp/o.jsonl"
check "  ... the same records as the live path" cmp -s <(keys "$tmp/o.jsonl") "$tmp/live.keys"
finish
