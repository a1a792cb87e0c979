#!/usr/bin/env bash
# One command-line convention for every program (README "Command line"): -h and
# --help print the usage to stdout and exit 0, --version exits 0, errors start with
# the program's own name, a usage error (an unknown flag, a missing required one, a
# bad value, NaN or Inf in any float flag, a directory where a file belongs) exits 2
# and a failure at run time exits 1.
set -u
cd "$(dirname "$0")/.."
. test/check.sh
scratch test_cli
programs=(train tokenize entigraph eval convert plan fitcurve corpus_text)
for p in "${programs[@]}"; do [ -x "$bin/$p" ] || { echo "$bin/$p is not built"; bad "$p is built"; }; done

# expect NAME STATUS STDERR_PATTERN COMMAND...: the status, and stderr matching the pattern
# (which then starts with the program's name); STDERR_PATTERN '' wants stderr empty
expect() {
    local name=$1 want=$2 pattern=$3
    shift 3
    "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
    local rc=$?
    if [ $rc -ne "$want" ]; then
        bad "$name (exit $rc, not $want: $(head -c 300 "$tmp/err"))"
    elif [ -z "$pattern" ] && [ -s "$tmp/err" ]; then
        bad "$name (stderr: $(head -c 300 "$tmp/err"))"
    elif [ -n "$pattern" ] && ! grep -qE -- "$pattern" "$tmp/err"; then
        bad "$name (stderr lacks /$pattern/: $(head -c 300 "$tmp/err"))"
    else
        ok "$name"
    fi
}

for p in "${programs[@]}"; do
    prog=$bin/$p
    for h in -h --help; do
        expect "$p $h: exit 0, nothing on stderr" 0 '' "$prog" $h
        check "  ... the usage on stdout" grep -q "^usage: $p" "$tmp/out"
    done
    expect "$p --version: exit 0" 0 '' "$prog" --version
    check "  ... names the program and its version" grep -qE "^$p \(scpt\) [0-9]+\.[0-9]+" "$tmp/out"
    expect "$p --bogus: exit 2" 2 "^$p: unknown option '--bogus'" "$prog" --bogus
    # every float flag of the program refuses NaN (which passes every range check), the
    # first also Inf and a value that overflows a float (train starts slowly: few runs)
    floats=$("$prog" --help | awk '$2 == "X" { print $1 }')
    values=(nan inf -inf 1e39)
    for f in $floats; do
        for v in "${values[@]}"; do
            expect "$p $f $v: exit 2" 2 "^$p: $f: '$v' is not a finite number" "$prog" "$f" "$v"
        done
        values=(nan)
    done
done
check "the float flags were found (train --lr, eval none, plan --mfu)" \
    bash -c "'$bin/train' --help | grep -q '^  --lr X' && '$bin/plan' --help | grep -q '^  --mfu X'"

# a missing required flag or argument, a bad choice: usage errors
expect "tokenize without --out: exit 2" 2 '^tokenize: --out is required' "$bin/tokenize" x.txt
expect "tokenize without INPUT: exit 2" 2 '^tokenize: no INPUT' "$bin/tokenize" --out "$tmp/t"
expect "tokenize --docs bad: exit 2" 2 '^tokenize: --docs' "$bin/tokenize" --docs bad --out "$tmp/t" x.txt
expect "entigraph without --corpus: exit 2" 2 '^entigraph: --corpus and --output are required' "$bin/entigraph"
expect "eval with nothing to evaluate: exit 2" 2 '^eval: nothing to evaluate' "$bin/eval"
expect "eval --model unknown: exit 2" 2 "^eval: --model: unknown model preset 'nope'" "$bin/eval" --model nope --val x
expect "convert without --in: exit 2" 2 '^convert: --in and --out are required' "$bin/convert" --out x
expect "convert --dtype bad: exit 2" 2 "^convert: --dtype must be" "$bin/convert" --in x --out y --dtype f8
expect "fitcurve without --in: exit 2" 2 '^fitcurve: --in is required' "$bin/fitcurve"
expect "corpus_text without arguments: exit 2" 2 '^corpus_text: expected CORPUS and OUT.jsonl' "$bin/corpus_text"
expect "plan --model unknown: exit 2" 2 "^plan: --model: unknown model preset" "$bin/plan" --model nope
expect "plan --roofline --gpu unknown: exit 2" 2 "^plan: --gpu: unknown GPU 'b200' \(known: h100" \
    "$bin/plan" --roofline --gpu b200
expect "plan --roofline --attention bad: exit 2" 2 "^plan: --attention must be flash, fp32 or cublas" \
    "$bin/plan" --roofline --attention fp16
expect "plan --roofline --seq past the model's: exit 2" 2 "^plan: --seq 4096 exceeds" \
    "$bin/plan" --roofline --model gpt2-124m --seq 4096
expect "plan --roofline: exit 0" 0 '' "$bin/plan" --roofline --model gpt2-124m --batch 64 --seq 1024 --gpu h200
check "  ... a row per kernel family and the step's total" \
    bash -c "grep -qE '^\| matmul lm head \| 3 \| 15191\.3 \|' '$tmp/out' && grep -qE '^\| \*\*step\*\* \|' '$tmp/out'"
check "  ... the expected step, tokens/s and MFU" grep -qE '^expected step: [0-9.]+ ms for 65536 tokens = [0-9]+ tokens/s, MFU [0-9.]+%' "$tmp/out"
expect "train --schedule bad: exit 2" 2 "^train: unknown schedule 'bad'" "$bin/train" --schedule bad
expect "train --init and --resume: exit 2" 2 '^train: --init and --resume exclude each other' \
    "$bin/train" --init a --resume b
expect "train --steps 1.5: exit 2" 2 "^train: --steps: '1.5' is not an integer" "$bin/train" --steps 1.5
expect "train: a stray argument: exit 2" 2 "^train: unexpected argument 'out/x'" "$bin/train" out/x

# a directory where a file belongs says so
mkdir -p "$tmp/run"
expect "train --resume DIR: exit 2" 2 \
    "^train: --resume $tmp/run is a directory: give a checkpoint file, or its newest: --resume auto --out $tmp/run" \
    "$bin/train" --resume "$tmp/run"
expect "eval --ckpt DIR: exit 2" 2 "^eval: --ckpt $tmp/run is a directory" "$bin/eval" --ckpt "$tmp/run" --val x
expect "fitcurve --in DIR: exit 2" 2 "^fitcurve: --in $tmp/run is a directory" "$bin/fitcurve" --in "$tmp/run"
expect "corpus_text OUT DIR: exit 2" 2 "^corpus_text: OUT.jsonl $tmp/run is a directory" "$bin/corpus_text" x "$tmp/run"
expect "entigraph --output DIR: exit 2" 2 "^entigraph: --output $tmp/run is a directory" \
    "$bin/entigraph" --corpus x --output "$tmp/run"

# failures at run time: exit 1, named by the program
expect "tokenize, a missing input: exit 1" 1 "^tokenize: .*missing.txt" "$bin/tokenize" --quiet --out "$tmp/t" "$tmp/missing.txt"
expect "convert, a missing model: exit 1" 1 "^convert: .*nowhere" "$bin/convert" --in "$tmp/nowhere" --out "$tmp/x.gguf"
expect "fitcurve, a missing CSV: exit 1" 1 "^fitcurve: .*missing.csv" "$bin/fitcurve" --in "$tmp/missing.csv"
expect "corpus_text, a missing corpus: exit 1" 1 "^corpus_text: .*missing.jsonl" "$bin/corpus_text" "$tmp/missing.jsonl" "$tmp/o.jsonl"
expect "eval, a missing checkpoint: exit 1" 1 "^eval: .*missing.safetensors" "$bin/eval" --ckpt "$tmp/missing.safetensors" --val x
expect "train, no shards: exit 1" 1 "^train: .*none_\*.bin" \
    "$bin/train" --model tiny-gpt2 --seq 16 --train "$tmp/none_*.bin" --val '' --out "$tmp/e"

# entigraph: no key needed but OpenAI's; a usage error leaves no output behind; no
# server at the address stops after the first refused connections, not minutes of retries
echo '{"id": "d1", "title": "T", "text": "Some words here."}' >"$tmp/corpus.jsonl"
OPENAI_BASE_URL= OPENAI_API_KEY= expect "entigraph against OpenAI without a key: exit 2" 2 \
    '^entigraph: OPENAI_API_KEY is not set' "$bin/entigraph" --corpus "$tmp/corpus.jsonl" --output "$tmp/e1.jsonl"
check "  ... and no empty output left behind" test ! -e "$tmp/e1.jsonl" -a ! -e "$tmp/e1.jsonl.failures.jsonl"
start=$(date +%s%N)
OPENAI_BASE_URL=http://127.0.0.1:1/v1 OPENAI_API_KEY= expect "entigraph, no server and no key: exit 1" 1 \
    '^entigraph: stopped: no server answers at http://127.0.0.1:1/v1' \
    "$bin/entigraph" --corpus "$tmp/corpus.jsonl" --output "$tmp/e2.jsonl" --prompts test/data/entigraph_prompts --quiet
took_ms=$((($(date +%s%N) - start) / 1000000))
check "  ... within 5 s ($took_ms ms; main retried for a minute)" test $took_ms -lt 5000
check "  ... recording no item as failed" test ! -s "$tmp/e2.jsonl.failures.jsonl"

# make help names every phony target but the internal asan-run
listed=" $(make -s help | grep -oE '^make [a-z][a-z0-9-]*(, [a-z][a-z0-9-]*)*' | sed 's/^make //; s/,//g' | tr '\n' ' ') "
missing=
for t in $(sed -n 's/^\.PHONY: *//p' Makefile | tr ' ' '\n' | sort -u); do
    [ "$t" = asan-run ] || [[ "$listed" == *" $t "* ]] || missing="$missing $t"
done
check "make help lists every target (missing:${missing:- none})" test -z "$missing"

check "train --help shows each preset's size" grep -qE '^  gpt2-124m +124\.5M$' <("$bin/train" --help)
finish
