#!/usr/bin/env bash
# eval --server against a scripted server of our own (test/eval_scripted_server.js):
# the exact prompt and request sent (completions and chat), answers parsed, the
# first-sample and majority-vote accuracies and the hard/non-hard split computed by
# hand, retries after 500 / 429 / a bad body / a cut connection, a question that
# fails for good and is asked again (alone) by the next run, resume after kill -9
# with no answered question asked again, a journal of other settings refused, the
# API key never printed, and dense retrieval with the embedding cache and reranking.
set -u
cd "$(dirname "$0")/.."
. test/check.sh
eval_bin=$bin/eval
command -v node >/dev/null || skip_all "node is not installed (scripts/setup installs it)"
scratch test_eval_server
t0=$(date +%s)

# start_server MODE [DELAY_MS]: a fresh server; its URL in $url, its log $tmp/MODE.log (appended)
start_server() {
    node_server "$tmp/port" test/eval_scripted_server.js "$1" "$tmp/$1.log" "$tmp/port" "${2:-0}"
    url=http://127.0.0.1:$port/v1
}
# checks FILE... <<'JS': one node run for several checks; the script sees the files' JSON
# (JSONL as arrays, else text) as f[0], f[1], ... and calls t(NAME, CONDITION) per check
checks() {
    local line
    while IFS= read -r line; do
        case $line in
        "pass "*) ok "${line#pass }" ;;
        "FAIL "*) bad "${line#FAIL }" ;;
        *) echo "  $line" ;;
        esac
    done < <(node -e '
const fs = require("fs");
const f = process.argv.slice(1).map((p) => { let t; try { t = fs.readFileSync(p, "utf8"); } catch (e) { return null; }
    try { return JSON.parse(t); } catch (e) {}
    try { return t.trim().split("\n").filter((l) => l).map((l) => JSON.parse(l)); } catch (e) { return t; } });
const t = (name, cond) => { let v; try { v = cond(); } catch (e) { v = false; console.log(String(e).slice(0, 300)); }
    console.log((v ? "pass " : "FAIL ") + name); };
eval(fs.readFileSync(0, "utf8"));' "$@" 2>&1)
}

# two articles, six questions; ans=/vote= tell the server what to answer, [fault] how to fail first
cat >"$tmp/qa.jsonl" <<'EOF'
{"article_id": "keeper", "title": "The Lighthouse Keeper", "author": "Penn, Ada", "year": 1911, "article": "<p>Mara kept the lighthouse on Gull Rock for thirty years and lit the lamp every night.</p><p>When the steamer Albatross ran aground in the fog, Mara rowed out alone and brought eleven sailors back to the rock.</p>", "questions": [ {"question": "Who kept the lighthouse on Gull Rock? ans=B", "options": ["Jonas", "Mara", "Ruth", "the harbour master"], "gold_label": 2, "difficult": 0}, {"question": "What ship ran aground in the fog? ans=C [500]", "options": ["Gull", "Ellis", "Albatross", "Rock"], "gold_label": 3, "difficult": 1}, {"question": "How many sailors did Mara bring back? ans=A [429]", "options": ["ten", "eleven", "twelve", "thirty"], "gold_label": 2, "difficult": 1}]}
{"article_id": "orchard", "title": "The Orchard", "author": "Hale, Ruth", "year": 1952, "article": "<p>Old Jonas Hale planted the first apple trees below Cold Hill. His granddaughter Ruth grafted the russet variety that made the orchard famous.</p><p>A late frost nearly ruined the blossom, but Ruth lit smudge pots between the rows all night.</p>", "questions": [ {"question": "Who planted the first apple trees? vote=CBB [badjson]", "options": ["Ruth", "Jonas", "Mara", "Ada"], "gold_label": 2, "difficult": 0}, {"question": "What saved the harvest from the frost? ans=none [cut]", "options": ["smudge pots", "rain", "a wall", "luck"], "gold_label": 1, "difficult": 0}, {"question": "Which apple variety made the orchard famous? ans=D [dead]", "options": ["pippin", "gala", "bramley", "russet"], "gold_label": 4, "difficult": 1}]}
EOF
export OPENAI_API_KEY=sk-test-NOT-A-REAL-KEY-5678
common=(--qa "$tmp/qa.jsonl" --samples 3 --seed 0 --retries 2 --backoff 0.05 --timeout 2 --concurrency 4)

# 1. every fault once; [dead] fails for good
start_server faults
$eval_bin --server "$url" "${common[@]}" --out "$tmp/e" >"$tmp/e.log" 2>&1
rc=$?
check "a run with a failed question exits 3" [ $rc -eq 3 ]
$eval_bin --server "$url" "${common[@]}" --show-prompt >"$tmp/prompt0.txt"
checks "$tmp/e/summary.json" "$tmp/e/predictions.jsonl" "$tmp/faults.log" "$tmp/prompt0.txt" <<'JS'
const [s, pred, log, prompt0] = f;
t("first sample: 2 of 5 right (the sixth failed)", () => s.n === 5 && s.first.correct === 2 && s.failed === 1);
t("majority vote of 3 samples: 3 of 5", () => s.vote.correct === 3);
t("hard 1/2, non-hard 1/3, one without a letter",
  () => s.hard.correct === 1 && s.hard.n === 2 && s.non_hard.correct === 1 && s.non_hard.n === 3 && s.no_answer === 1);
t("Wilson interval of 2/5", () => Math.abs(s.first.ci95[0] - 0.1176) < 1e-3 && Math.abs(s.first.ci95[1] - 0.7693) < 1e-3);
t("predictions: one per answered question, in order, with completions and letters",
  () => pred.map((r) => r.index).join() === "0,1,2,3,4" && pred[3].answers.join() === "2,1,1" && pred[3].pred_letter === "C" &&
        pred[3].vote === 1 && pred[4].pred === -1 && pred[1].hard === true && pred[0].completions.length === 3);
t("each fault retried once: 500, 429, bad JSON, cut connection", () => ["500", "429", "badjson", "cut"].every((a) => {
    const q = log.filter((r) => r.question.includes(`[${a}]`));
    return q.length === 6 && q.filter((r) => r.attempt === 1 && r.action === a).length === 3 &&
           q.filter((r) => r.attempt === 2 && r.action === "ok").length === 3; }));
// the exact request: the prompt --show-prompt prints, the paper's sampling settings, the seeds
t("the prompt sent is the one --show-prompt prints", () => log.find((r) => r.seed === 0 && r.attempt === 1).prompt === prompt0);
t("  ... 5 exemplars, then the question with its article, author and year",
  () => (prompt0.match(/\nReasoning: /g) || []).length === 5 && prompt0.endsWith(
      'Article: "The Lighthouse Keeper" by Penn, Ada (1911)\nQuestion: Who kept the lighthouse on Gull Rock? ans=B\n' +
      "A. Jonas\nB. Mara\nC. Ruth\nD. the harbour master\nReasoning:"));
t("temperature 0.1, 300 tokens, stop strings, seeds seed + i*samples + s", () => {
    const r = log.filter((x) => x.attempt === 1);
    return r.every((x) => x.temperature === 0.1 && x.max_tokens === 300 && x.stop.join("|") === "\nArticle:|\nQuestion:|\n\n\n") &&
           [...new Set(r.map((x) => x.seed))].sort((a, b) => a - b).join() === [...Array(18).keys()].join(); });
JS
check "the failed question named with its reason" grep -q '"index":5.*HTTP 500: Internal Server Error (after 3 attempts)' "$tmp/e/journal.jsonl.failures.jsonl"
check "retry lines name eval" grep -q '^eval: attempt 1/3 failed, retrying in' "$tmp/e.log"
check "the API key is never printed" bash -c "! grep -rq NOT-A-REAL-KEY '$tmp'/e* '$tmp/e'"

# 2. the next run asks the failed question alone
start_server clean
$eval_bin --server "$url" "${common[@]}" --out "$tmp/e" >"$tmp/e2.log" 2>&1
check "rerun exits 0" [ $? -eq 0 ]
checks "$tmp/clean.log" "$tmp/e/summary.json" <<'JS'
t("rerun asked only the question that failed (3 samples)", () => f[0].length === 3 && f[0].every((r) => /\[dead\]/.test(r.question)));
t("rerun: 6 questions, first 3/6, vote 4/6, hard 2/3",
  () => f[1].n === 6 && f[1].first.correct === 3 && f[1].vote.correct === 4 && f[1].hard.correct === 2 && f[1].resumed === 5);
JS
printf '{"key": "0\\u001fkeeper' >>"$tmp/e/journal.jsonl"   # a record torn by a kill mid-write
$eval_bin --server "$url" "${common[@]}" --out "$tmp/e" >"$tmp/e4.log" 2>&1
check "a torn last line is cut off and the rest resumed" \
    bash -c "[ $? -eq 0 ] && grep -q '\"resumed\":[[:space:]]*6' '$tmp/e/summary.json' && [ \"\$(tail -c 1 '$tmp/e/journal.jsonl')\" = '' ]"
$eval_bin --server "$url" "${common[@]}" --temperature 0.5 --out "$tmp/e" >"$tmp/e3.log" 2>&1
check "a journal of other settings is refused" \
    bash -c "[ $? -ne 0 ] && grep -q 'journal.jsonl:1: the journal was written with other settings' '$tmp/e3.log'"

# 3. kill -9 mid-run, then resume: no question answered before the kill is asked again
rm -f "$tmp/clean.log"
start_server clean 150
$eval_bin --server "$url" "${common[@]}" --samples 1 --concurrency 1 --out "$tmp/k" >"$tmp/k1.log" 2>&1 &
pid=$!
for _ in $(seq 200); do [ "$(cat "$tmp/k/journal.jsonl" 2>/dev/null | wc -l)" -ge 3 ] && break; sleep 0.02; done
kill -9 $pid
wait $pid 2>/dev/null
cp "$tmp/k/journal.jsonl" "$tmp/journal_at_kill.jsonl"
cp "$tmp/clean.log" "$tmp/asked_before_kill.log"
$eval_bin --server "$url" "${common[@]}" --samples 1 --concurrency 1 --out "$tmp/k" >"$tmp/k2.log" 2>&1
checks "$tmp/k/summary.json" "$tmp/journal_at_kill.jsonl" "$tmp/asked_before_kill.log" "$tmp/clean.log" "$tmp/k/predictions.jsonl" <<'JS'
t("killed run resumed to the end", () => f[0].n === 6 && f[0].resumed >= 2);
t("no question answered before the kill was asked again", () => {
    const done = new Set(f[1].filter((r) => r.question).map((r) => r.question));
    return done.size >= 2 && f[3].slice(f[2].length).every((r) => !done.has(r.question)); });
t("every question in the predictions once", () => f[4].map((r) => r.index).join() === "0,1,2,3,4,5");
JS

# 4. chat: system, 5 exemplar turns, the question; what --show-prompt --chat prints
rm -f "$tmp/clean.log"
start_server clean
$eval_bin --server "$url" "${common[@]}" --samples 1 --chat --out "$tmp/c" >"$tmp/c.log" 2>&1
check "chat run exits 0" [ $? -eq 0 ]
$eval_bin --server "$url" "${common[@]}" --chat --show-prompt >"$tmp/messages0.json"
checks "$tmp/clean.log" "$tmp/messages0.json" "$tmp/c/summary.json" <<'JS'
t("chat: the messages sent are the ones --show-prompt --chat prints", () => {
    const m = f[0].find((r) => r.seed === 0).messages;
    return JSON.stringify(m) === JSON.stringify(f[1]) && m.length === 12 && m[0].role === "system" && m[2].role === "assistant"; });
t("chat: answers parsed from message.content", () => f[2].first.correct === 3 && f[2].endpoint === "chat/completions");
JS

# 5. a refused key stops the run at once, and is not printed
start_server echo401
$eval_bin --server "$url" "${common[@]}" --out "$tmp/r" >"$tmp/r.log" 2>&1
check "401 stops the run with the server's refusal" bash -c "[ $? -ne 0 ] && grep -q 'refused the request: HTTP 401' '$tmp/r.log'"
check "  ... the key redacted from the message" bash -c "grep -q 'Bearer \*\*\*' '$tmp/r.log' && ! grep -q NOT-A-REAL '$tmp/r.log'"

# a server that is not there: the HTTP layer stops at the first refused connection
# (no minute of retries), names the URL, exits 1 and records no question as failed
kill "$server_pid" && wait "$server_pid" 2>/dev/null
server_pid=
$eval_bin --server "$url" "${common[@]}" --samples 1 --out "$tmp/n" >"$tmp/n.log" 2>&1
check "no server: exit 1 naming the URL, no question recorded as failed" \
    bash -c "[ $? -eq 1 ] && grep -q 'no server answers at' '$tmp/n.log' && [ ! -s '$tmp/n/journal.jsonl.failures.jsonl' ]"

# 6. dense retrieval: chunk embeddings cached, queries embedded, top chunk in the prompt; reranking
rm -f "$tmp/clean.log"
start_server clean
dense=(--retrieve 1 --chunk-words 12 --embed "$url" --embed-cache "$tmp/cache" --samples 1)
$eval_bin --server "$url" "${common[@]}" "${dense[@]}" --out "$tmp/d" >"$tmp/d.log" 2>&1
check "dense run exits 0" [ $? -eq 0 ]
check "chunk embeddings written to the cache" grep -q "embeddings written to $tmp/cache/emb_" "$tmp/d.log"
lines_d=$(wc -l <"$tmp/clean.log")
$eval_bin --server "$url" "${common[@]}" "${dense[@]}" --out "$tmp/d2" >"$tmp/d2.log" 2>&1
check "second run reads the cache" grep -q 'embeddings read from' "$tmp/d2.log"
# reranking: the server's rerank prefers the chunk holding RERANKME over the dense best
sed 's/lit smudge pots/lit smudge pots RERANKME/' "$tmp/qa.jsonl" >"$tmp/qa_rr.jsonl"
$eval_bin --server "$url" --qa "$tmp/qa_rr.jsonl" --samples 1 --seed 0 --retrieve 1 --chunk-words 12 --embed "$url" \
    --rerank "$url" --candidates 50 --embed-cache "$tmp/cache" --out "$tmp/rr" >"$tmp/rr.log" 2>&1
check "rerank run exits 0" [ $? -eq 0 ]
LINES_D=$lines_d checks "$tmp/clean.log" <<'JS'
const log = f[0], context = (p) => p.slice(p.lastIndexOf("Context:")).split("\nArticle: ")[0];
t("the chunk naming the Albatross is the context of its question",
  () => context(log.find((r) => /aground/.test(r.question || "")).prompt).includes("Albatross"));
t("the cached run embeds only the probe and the 6 questions", () => {
    const d2 = log.slice(Number(process.env.LINES_D)), e = d2.slice(0, d2.findIndex((r) => r.prompt));
    return e.every((r) => r.path === "/v1/embeddings") && e.reduce((a, r) => a + r.input.length, 0) === 7; });
t("reranking puts its best chunk in every prompt (results come worst first)", () => {
    const ps = log.filter((r) => r.prompt).slice(-6);
    return log.filter((r) => r.path === "/v1/rerank").length === 6 && ps.every((r) => context(r.prompt).includes("RERANKME")); });
JS
# 7. --summaries: summary, claims (a reply without JSON retried), support; 2 articles x 4 claims,
# the "two" claim of each unsupported; a rerun asks nothing
rm -f "$tmp/clean.log"
start_server clean
sum=(--server "$url" --summaries --judge "$url" --qa "$tmp/qa.jsonl" --retries 2 --backoff 0.05 --out "$tmp/s")
$eval_bin "${sum[@]}" >"$tmp/s.log" 2>&1
check "summaries run exits 0" [ $? -eq 0 ]
$eval_bin "${sum[@]}" >"$tmp/s2.log" 2>&1
checks "$tmp/s/summary.json" "$tmp/s/summaries.jsonl" "$tmp/clean.log" <<'JS'
const [s, recs, log] = f;
t("4 claims per summary, 2 of 8 unsupported, with intervals",
  () => s.n === 2 && s.claims_per_summary.mean === 4 && s.unsupported.claims === 8 && s.unsupported.unsupported === 2 &&
        Math.abs(s.unsupported.ci95[0] - 0.0715) < 1e-3 && Math.abs(s.unsupported.ci95[1] - 0.5907) < 1e-3);
t("per summary: its claims and verdicts", () => recs.length === 2 && recs[0].doc === "keeper" &&
  recs[0].claims.map((c) => c.supported).join() === "true,true,false,true" && recs[0].n_unsupported === 1);
t("the claim split without JSON was asked again, the support step saw the article",
  () => log.filter((r) => r.step === "claims").length === 4 && log.some((r) => r.step === "support" && r.n === 4 && r.document));
t("a rerun asks nothing", () => log.length === 2 + 4 + 2);
JS
check "no sanitizer reports in the runs' logs" bash -c "! grep -l 'Sanitizer' '$tmp'/*.log"
echo "  $(($(date +%s) - t0)) s"
finish
