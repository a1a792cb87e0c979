#!/usr/bin/env bash
# Instruction tuning end to end: `tokenize --chat` with both chat templates, `train`
# on the masked shards, a shard of another vocabulary refused by name, bad chat
# records named by file and line, and the chat template round trip: a model train
# wrote, exported by convert, served by llama.cpp's llama-server, renders and
# tokenizes a conversation token for token as tokenize --chat trained on it.
set -u
cd "$(dirname "$0")/.."
. test/check.sh
. test/llama_server.sh
tmp=$(mktemp -d /tmp/scpt_test_sft_XXXXXX)
server_pid=
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
fails_with() { # name, expected message, command...
    local name=$1 want=$2; shift 2
    if "$@" >"$tmp/out" 2>&1; then bad "$name (succeeded)"; elif grep -qF -- "$want" "$tmp/out"; then ok "$name";
    else bad "$name: $(cat "$tmp/out")"; fi
}
run() { # name, command...: passes when it exits 0, shows its last lines when not
    local name=$1; shift
    if "$@" >"$tmp/log" 2>&1; then ok "$name"; else bad "$name: $(tail -n 3 "$tmp/log")"; fi
}

# system, two user turns, two replies; whitespace around content (the template trims it;
# not around the last reply, which llama-server's prefill takes untrimmed), quotes, a
# newline and non-ASCII inside
cat >"$tmp/chat.jsonl" <<'JSONL'
{"prompt_id": "a", "messages": [{"role": "system", "content": "You answer questions about the lighthouse."}, {"role": "user", "content": "  Who kept the lighthouse on Gull Rock?\n"}, {"role": "assistant", "content": "Mara kept it for thirty years; she wrote the weather in a \"red ledger\".\nEvery night.\n"}, {"role": "user", "content": "What did the harbour master give her?"}, {"role": "assistant", "content": "A silver medal — she kept it in a drawer."}]}
{"messages": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}]}
JSONL

run "tokenize --chat, Llama 3 template" $bin/tokenize --chat --vocab llama3 --quiet --out "$tmp/l3/chat" "$tmp/chat.jsonl"
run "tokenize --chat, plain template (GPT-2)" $bin/tokenize --chat --vocab gpt2 --quiet --out "$tmp/g2/chat" "$tmp/chat.jsonl"
l3=$tmp/l3/chat_train_000000.bin g2=$tmp/g2/chat_train_000000.bin

bad_record() { echo "$2" >"$tmp/bad.jsonl"; fails_with "$1" "bad.jsonl:1: $3" $bin/tokenize --chat --quiet --out "$tmp/bad/x" "$tmp/bad.jsonl"; }
bad_record "a record without messages is refused" '{"text": "hi"}' 'no "messages" array'
bad_record "an unknown role is refused" '{"messages": [{"role": "bot", "content": "hi"}]}' 'message 0 has role "bot"'
bad_record "a message without content is refused" '{"messages": [{"role": "user"}]}' 'message 0 lacks'
bad_record "a line that is not JSON is refused" '{"messages": [' 'not a JSON object'
bad_record "a NUL in a message is refused, not cut" '{"messages": [{"role": "user", "content": "a\u0000b"}]}' 'a message holds \u0000'
fails_with "--chat with --special is refused" "do not apply" $bin/tokenize --chat --special --out "$tmp/bad/x" "$tmp/chat.jsonl"

# a GPT-2 shard for a Llama 3 model is refused by name
common=(--val "" --batch 2 --seq 32 --steps 2 --warmup 1 --threads 2 --eval-every 0)
fails_with "a GPT-2 shard for a Llama 3 model is refused, naming the file" "$g2: tokenized with gpt2 (vocabulary of 50257) but the model's vocabulary is 128256" \
    $bin/train --model tiny-llama3-vocab --train "$tmp/g2/chat_train_*.bin" "${common[@]}" --out "$tmp/mismatch"

# the loss is the mean over the step's trained targets: one micro-batch of 4 windows and
# two of 2 (whose trained-token counts differ) give the same losses, to float rounding
same_losses() {
    node -e '
const fs = require("fs");
const loss = (f) => fs.readFileSync(f, "utf8").trim().split("\n").map(JSON.parse).filter((r) => "loss" in r).map((r) => r.loss);
const [a, b] = [loss(process.argv[1]), loss(process.argv[2])];
console.log(`  losses ${a} and ${b}`);
process.exit(a.length === 2 && a.every((x, i) => Math.abs(x - b[i]) <= 1e-5 * Math.abs(x)) ? 0 : 1);' "$1" "$2"
}
accum=(--model tiny-gpt2-vocab --train "$tmp/g2/chat_train_*.bin" --val "" --seq 8 --steps 2 --warmup 1 --threads 2 --eval-every 0)
run "train on masked chat shards, 1 micro-batch of 4" $bin/train "${accum[@]}" --batch 4 --out "$tmp/b4"
run "train 2 micro-batches of 2" $bin/train "${accum[@]}" --batch 2 --grad-accum 2 --out "$tmp/b2x2"
check "micro-batches do not change the loss (mean over the step's trained tokens)" \
    same_losses "$tmp/b4/metrics.jsonl" "$tmp/b2x2/metrics.jsonl"

[ -x "$llama_server" ] || { echo "  $llama_server is absent (scripts/setup.d/llama_server.sh builds it): no round trip"; skipped=$((skipped + 1)); finish; exit; }

starts_with() { [ -n "$2" ] && [ "${1#"$2 "}" != "$1" ]; }   # token list $1 begins with list $2

# round_trip NAME VOCAB GGUF END: tokenize the first conversation alone, serve GGUF, compare
round_trip() {
    local name=$1 vocab=$2 gguf=$3 end=$4 conv full prompt
    head -n 1 "$tmp/chat.jsonl" >"$tmp/one.jsonl"
    $bin/tokenize --chat --vocab "$vocab" --quiet --out "$tmp/one_$vocab/c" "$tmp/one.jsonl" || { bad "$name: tokenize"; return; }
    if ! start_llama_server "$gguf" "$tmp/server.log" 1 1024 --jinja; then bad "$name: llama-server did not start"; return; fi
    conv=$(node test/chat_tokens.js shard "$tmp/one_$vocab/c_train_000000.bin")
    # the server keeps a final assistant message open (a prefill, its content untrimmed): all
    # but the last end token
    full=$(node test/chat_tokens.js served "$port" "$tmp/one.jsonl")
    check "$name: the conversation as llama-server renders it, token for token" [ "$full $end" = "$conv" ]
    # to the last user turn with the generation prompt: the shard up to the last reply
    prompt=$(node test/chat_tokens.js served "$port" "$tmp/one.jsonl" 4)
    check "$name: the generation prompt, token for token" starts_with "$conv" "$prompt"
    check "$name: the loss mask trains exactly the replies and their end tokens" \
        [ "$(node test/chat_tokens.js shard "$tmp/one_$vocab/c_train_000000.bin" trained)" = \
          "$(node test/chat_tokens.js replies "$port" "$tmp/one.jsonl" "$end")" ]
    kill "$server_pid" 2>/dev/null
    wait "$server_pid" 2>/dev/null
    server_pid=
}

run "train a tiny Llama 3 vocabulary model on the chat shards" \
    $bin/train --model tiny-llama3-vocab --train "$tmp/l3/chat_train_*.bin" "${common[@]}" --out "$tmp/l3run"
run "convert it to GGUF with the Llama 3 tokenizer" $bin/convert --in "$tmp/l3run/ckpt_00000002.safetensors" \
    --out "$tmp/l3.gguf" --tokenizer "$cache/vocab/llama3/tokenizer.json"
round_trip "Llama 3 template" llama3 "$tmp/l3.gguf" 128009
run "convert the GPT-2 vocabulary model to GGUF" $bin/convert --in "$tmp/b4/ckpt_00000002.safetensors" \
    --out "$tmp/g2.gguf" --tokenizer "$llama_vocab"
round_trip "plain template (GPT-2)" gpt2 "$tmp/g2.gguf" 50256
finish
