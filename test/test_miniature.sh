#!/usr/bin/env bash
# The miniature at reduced size (scripts/miniature.sh --small): a world of 8 documents,
# entigraph against the stand-in LM over HTTP, a short Brown base run, EntiGraph CPT,
# eval. Fails unless EntiGraph CPT answers above chance (the lower end of the 95%
# interval above 1/4: every question has four options) and unless the stand-in
# stated only what each document states. About a minute on two idle cores.
set -u
cd "$(dirname "$0")/.."
. test/check.sh
[ -n "${SCPT_SANITIZED:-}" ] && skip_all "the sanitized run (a minute of training for no sanitized code the plain run does not cover)"
cache=${SCPT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/scpt}
[ -f "$cache/brown/brown.jsonl" ] || skip_all "$cache/brown/brown.jsonl is missing (scripts/setup --deps-only installs it)"
command -v node >/dev/null || skip_all "node is missing (scripts/setup --deps-only installs it)"
scratch test_miniature
out=$tmp/out
t0=$(date +%s)
OUT=$out THREADS=2 scripts/miniature.sh --small >"$tmp/log" 2>&1
rc=$?
echo "  miniature --small: exit $rc in $(($(date +%s) - t0)) s"
[ $rc -eq 0 ] || tail -n 20 "$tmp/log"
check "miniature --small runs to the end" test $rc -eq 0
check "every generation request was answered" test ! -s "$out/gen/entigraph.jsonl.failures.jsonl"
check "the stand-in stated only its documents' facts" grep -q "facts stated, 0 violations" "$tmp/log"

# the leak check itself catches a leak: a record that names another document's people
node -e '
const fs = require("fs");
const [gen, out] = process.argv.slice(1);
const rec = fs.readFileSync(gen, "utf8").split("\n").map((l) => l && JSON.parse(l)).find((r) => r && r.kind === "pair" && r.doc_id !== "mini000");
fs.writeFileSync(out, JSON.stringify({...rec, doc_id: "mini000"}) + "\n");' "$out/gen/entigraph.jsonl" "$tmp/leak.jsonl"
check "the leak check finds a planted leak" sh -c "! node test/miniature_leak_check.js '$out/world' '$tmp/leak.jsonl' >/dev/null"

summary=$out/runs/entigraph-1/eval/summary.json
lower=0
if [ -f "$summary" ]; then
    lower=$(node -e '
const s = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
console.error(`  EntiGraph CPT: acc ${s.acc.toFixed(3)} (95% CI ${s.acc_ci95.map((x) => x.toFixed(3)).join("..")}, n ${s.n}), chance 0.25`);
console.log(s.acc_ci95[0]);' "$summary")
fi
check "EntiGraph CPT answers above chance (95% interval above 0.25)" awk -v lo="$lower" 'BEGIN { exit !(lo > 0.25) }'
check "points and plot written" test -s "$out/points.csv" -a -s "$out/scaling.png"
finish
