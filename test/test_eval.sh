#!/usr/bin/env bash
# End-to-end tests of eval, fitcurve, plot_scaling.sh and train --qa: outputs, perplexity,
# and errors that name the file and line. SCPT_BIN selects the build.
set -u
cd "$(dirname "$0")/.."
. test/check.sh
make_shards=$tests/make_shards
scratch test_eval
# the command fails and its stderr holds the text
fails_with() { local text=$1; shift; ! "$@" >"$tmp/out" 2>&1 && grep -qF -- "$text" "$tmp/out"; }

cat >"$tmp/qa.jsonl" <<'QA'
{"question": "What colour is the sky?", "options": ["blue", "green", "red", "black"], "answer": 0}
{"question": "How many legs has a spider?", "options": ["six", "eight", "ten", "four"], "answer": 1, "doc": "spiders"}
{"question": "Which metal is liquid at room temperature?", "options": ["iron", "gold", "mercury", "tin"], "answer": 2}
QA
tiny=(--model gpt2-demo --threads 2 --seed 3)
$bin/eval "${tiny[@]}" --qa "$tmp/qa.jsonl" --out "$tmp/e" --fewshot 1 >"$tmp/e.log" 2>&1
check "eval writes a summary" grep -q '"acc_ci95"' "$tmp/e/summary.json"
check "one prediction per question" test "$(wc -l <"$tmp/e/predictions.jsonl")" -eq 3
check "predictions hold per-option log-likelihoods" grep -q '"logprob":\[-' "$tmp/e/predictions.jsonl"
check "accuracy lines with 95% intervals" grep -qE '^acc_norm +[0-9.]+ +\(95% CI' "$tmp/e.log"
$bin/eval "${tiny[@]}" --qa "$tmp/qa.jsonl" --out "$tmp/e2" --fewshot 1 >/dev/null 2>&1
check "the same seed gives the same predictions" cmp -s "$tmp/e/predictions.jsonl" "$tmp/e2/predictions.jsonl"

printf '%s\n' '{"question": "q", "options": ["a", "b"], "answer": 0}' '{"question": "q", "options": ["a", "b"], "answer": 4}' >"$tmp/bad.jsonl"
check "answer out of range names file and line" fails_with "bad.jsonl:2: answer 4 out of range 0..1" \
    $bin/eval "${tiny[@]}" --qa "$tmp/bad.jsonl" --out "$tmp/x"
printf '%s\n' '{"question": "q", "answer": 0}' >"$tmp/bad2.jsonl"
check "missing options named" fails_with "bad2.jsonl:1: \"options\" must be" $bin/eval "${tiny[@]}" --qa "$tmp/bad2.jsonl" --out "$tmp/x"
check "nothing to evaluate" fails_with "give --qa and/or --val" $bin/eval "${tiny[@]}"
check "missing checkpoint named" fails_with "$tmp/none.safetensors" $bin/eval --ckpt "$tmp/none.safetensors" --qa "$tmp/qa.jsonl" --out "$tmp/x"

# perplexity of shards, and the open-book path over documents
$make_shards "$tmp/val" 1 2000 50257 3 || { echo "cannot make shards"; exit 1; }
$bin/eval "${tiny[@]}" --val "$tmp/val_*.bin" --seq 32 --batch 4 --out "$tmp/p" >"$tmp/p.log" 2>&1
check "perplexity: loss near ln(50257) for an untrained model" \
    awk -v l="$(sed -n 's/.*"val_loss":[ \t]*\([0-9.]*\).*/\1/p' "$tmp/p/summary.json")" 'BEGIN { exit !(l > 10 && l < 11.6) }'
printf '%s\n' '{"id": "a", "text": "Spiders have eight legs and spin silk webs to catch insects."}' \
    '{"id": "b", "text": "Mercury is the only metal that is liquid at room temperature."}' >"$tmp/docs.jsonl"
$bin/eval "${tiny[@]}" --qa "$tmp/qa.jsonl" --docs "$tmp/docs.jsonl" --retrieve 1 --out "$tmp/r" >"$tmp/r.log" 2>&1
check "open-book run reports its chunks" grep -q "retrieval: 2 chunks" "$tmp/r.log"
check "open-book summary records k" grep -qE '"retrieve":[[:space:]]*1' "$tmp/r/summary.json"

# train --qa logs accuracy into the metrics
$make_shards "$tmp/tr" 1 3000 50257 1
$bin/train --model gpt2-demo --train "$tmp/tr_*.bin" --val "" --steps 2 --batch 2 --seq 16 --qa "$tmp/qa.jsonl" \
    --qa-every 1 --out "$tmp/run" --threads 2 >"$tmp/t.log" 2>&1
check "train --qa logs qa_acc every step" test "$(grep -c '"qa_acc"' "$tmp/run/metrics.jsonl")" -eq 2
$bin/eval --ckpt "$tmp/run/ckpt_00000002.safetensors" --qa "$tmp/qa.jsonl" --out "$tmp/c" --threads 2 >/dev/null 2>&1
check "eval of the trained checkpoint" grep -q '"n":[[:space:]]*3' "$tmp/c/summary.json"

# the fit and the plot
printf 'method,tokens,acc\nA b,1e6,0.40\nA b,4e6,0.44\nA b,16e6,0.47\nA b,64e6,0.49\nB,1e6,0.38\n' >"$tmp/pts.csv"
PATH=$bin:$PATH SCPT_BIN=$bin scripts/plot_scaling.sh "$tmp/pts.csv" "$tmp/plot.png" >"$tmp/f.log" 2>&1
check "plot written as PNG" sh -c "head -c 8 '$tmp/plot.png' | grep -q PNG"
check "fit parameters written (a method name with a space)" grep -q "\"A b\"" "$tmp/plot.fit.json"
printf 'method,tokens,acc\nA,1e6,1.5\n' >"$tmp/badpts.csv"
check "bad point named with its line" fails_with "badpts.csv:2: expected method,tokens,acc" $bin/fitcurve --in "$tmp/badpts.csv" --out "$tmp/x.json"

finish
