#!/usr/bin/env bash
# eval --server against the real llama-server (scripts/setup.d/llama_server.sh builds
# it) serving a model this project made: `train` writes a checkpoint (gpt2-demo, one
# step) and scripts/serve_eval.sh converts it to GGUF with the GPT-2 vocabulary,
# serves it and runs the generative eval: every question answered (usage and
# completions recorded, the answer extracted or -1), a rerun resumes. Then dense
# retrieval through a llama-server with --embeddings --pooling mean: a question whose
# text is a chunk's text retrieves that chunk, the chunk embeddings are cached.
set -u
cd "$(dirname "$0")/.."
. test/check.sh
. test/llama_server.sh
# eval's HTTP, journal and retrieval code runs sanitized in test_eval_server.sh; here
# most of the minute is llama-server's
[ -n "${SCPT_SANITIZED:-}" ] && skip_all "the sanitized run (a minute of llama-server; test_eval_server.sh runs eval --server sanitized)"
[ -x "$llama_server" ] && [ -f "$llama_vocab" ] ||
    skip_all "$llama_server or $llama_vocab is absent (scripts/setup.d/llama_server.sh builds them)"
command -v node >/dev/null || skip_all "node is not installed (scripts/setup installs it)"
tmp=$(mktemp -d /tmp/scpt_test_eval_llama_XXXXXX)
server_pid='' pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; [ -z "${KEEP:-}" ] && rm -rf "$tmp"; }
trap cleanup EXIT
t0=$(date +%s)

# train: the checkpoint the loop serves
$tests/make_shards "$tmp/tr" 1 3000 50257 1 >/dev/null || { bad "make_shards"; finish; exit; }
$bin/train --model gpt2-demo --train "$tmp/tr_*.bin" --val "" --steps 1 --batch 2 --seq 16 --threads 2 \
    --ckpt-every 1 --out "$tmp/run" >"$tmp/train.log" 2>&1
check "train writes a checkpoint" test -f "$tmp/run/ckpt_00000001.safetensors"
cat >"$tmp/qa.jsonl" <<'EOF'
{"question": "What colour is the sky?", "options": ["blue", "green", "red", "black"], "answer": 0, "doc": "sky"}
{"question": "How many legs has a spider?", "options": ["six", "eight", "ten", "four"], "answer": 1, "doc": "spiders"}
{"question": "Which metal is liquid at room temperature?", "options": ["iron", "gold", "mercury", "tin"], "answer": 2, "doc": "metals"}
{"question": "Spiders have eight legs and spin silk webs to catch insects.", "options": ["yes", "no"], "answer": 0, "doc": "spiders"}
EOF
unset OPENAI_API_KEY
# the loop a user runs: convert, llama-server, eval --server, server stopped. gpt2-demo has 256
# positions: prompts stay short (no exemplars, short questions); two threads on a shared machine
serve=(scripts/serve_eval.sh --run "$tmp/run" --qa "$tmp/qa.jsonl" --out "$tmp/e" --slots 2 --ctx 256
       --server-args "-t 2" -- --shots 0 --max-new-tokens 4 --samples 2 --timeout 60)
SCPT_BIN=$bin "${serve[@]}" >"$tmp/e.log" 2>&1
rc=$?
sed 's/^/  /' "$tmp/e.log" | tail -n 4
check "serve_eval.sh: convert -> llama-server -> eval --server exits 0" [ $rc -eq 0 ]
check "  ... converted the checkpoint to GGUF" grep -q "converting .*ckpt_00000001.safetensors" "$tmp/e.log"
check "  ... and stopped the server" bash -c "! pgrep -f '[l]lama-server -m $tmp/e/model.gguf' >/dev/null"
node -e '
const fs = require("fs");
const p = fs.readFileSync(process.argv[1], "utf8").trim().split("\n").map(JSON.parse), s = require(process.argv[2]);
const ok = p.length === 4 && s.n === 4 && s.failed === 0 && s.requests === 8 &&
    p.every((r) => r.completions.length === 2 && r.completions.every((c) => typeof c === "string" && c.length > 0) &&
                   r.prompt_tokens > 0 && r.completion_tokens > 0 && r.answers.length === 2 &&
                   r.answers.every((a) => Number.isInteger(a) && a >= -1 && a < 4) && ["length", "stop"].includes(r.finish_reason));
if (!ok) console.log(JSON.stringify(p[0]).slice(0, 400), JSON.stringify(s).slice(0, 400));
process.exit(ok ? 0 : 1);' "$tmp/e/predictions.jsonl" "$tmp/e/summary.json"
check "  ... 4 questions x 2 samples, completions, token usage and extracted answers recorded" [ $? -eq 0 ]
SCPT_BIN=$bin "${serve[@]}" >"$tmp/e2.log" 2>&1
check "a rerun resumes every question and converts nothing" \
    bash -c "grep -q '\"resumed\":[[:space:]]*4' '$tmp/e/summary.json' && ! grep -q converting '$tmp/e2.log'"

# /v1/embeddings: a llama-server of the same model with --embeddings --pooling mean, and one
# for the completions of the retrieval runs
if ! start_llama_server "$tmp/e/model.gguf" "$tmp/embed_server.log" 2 512 -t 2 --embeddings --pooling mean; then
    bad "llama-server --embeddings did not start"
    finish
    exit
fi
pids+=("$server_pid")
embed_url=http://127.0.0.1:$port/v1
if ! start_llama_server "$tmp/e/model.gguf" "$tmp/server.log" 2 512 -t 2; then
    bad "llama-server did not start"
    finish
    exit
fi
pids+=("$server_pid")
url=http://127.0.0.1:$port/v1
gen=(--server "$url" --qa "$tmp/qa.jsonl" --shots 0 --max-new-tokens 1 --concurrency 2 --timeout 60)

# dense retrieval through llama-server's /v1/embeddings: one chunk per document
cat >"$tmp/docs.jsonl" <<'EOF'
{"id": "sky", "text": "The sky looks blue on a clear day because air scatters blue light."}
{"id": "spiders", "text": "Spiders have eight legs and spin silk webs to catch insects."}
{"id": "metals", "text": "Mercury is the only metal that is liquid at room temperature."}
EOF
dense=(--docs "$tmp/docs.jsonl" --retrieve 1 --chunk-words 64 --embed "$embed_url" --embed-cache "$tmp/cache")
$bin/eval "${gen[@]}" "${dense[@]}" --out "$tmp/d" >"$tmp/d.log" 2>&1
check "eval with dense retrieval exits 0, every question answered" \
    bash -c "[ $? -eq 0 ] && grep -qE '\"n\":[[:space:]]*4' '$tmp/d/summary.json'"
check "3 chunk embeddings of 128 dimensions written to the cache" grep -q 'retrieval: 3 chunks, 128-dimensional embeddings written to' "$tmp/d.log"
$bin/eval "${gen[@]}" "${dense[@]}" --out "$tmp/d2" --show-prompt >"$tmp/prompt_first.txt" 2>"$tmp/d2.log"
check "the next run reads the chunk embeddings from the cache" grep -q 'embeddings read from' "$tmp/d2.log"
# a question that is the spiders document word for word: its embedding is that chunk's
# (--show-prompt prints the first question's prompt)
sed -n 4p "$tmp/qa.jsonl" >"$tmp/qa_spider.jsonl"
$bin/eval --server "$url" --qa "$tmp/qa_spider.jsonl" --shots 0 "${dense[@]}" --show-prompt >"$tmp/prompt_spider.txt" 2>/dev/null
check "a question that is a chunk's text retrieves that chunk" \
    grep -qF $'Context:\nSpiders have eight legs and spin silk webs to catch insects.\n\nArticle:' "$tmp/prompt_spider.txt"
# /v1/chat/completions: llama-server applies a chat template (the model's, else its default)
$bin/eval --server "$url" --qa "$tmp/qa.jsonl" --chat --shots 0 --limit 2 --max-new-tokens 2 --out "$tmp/c" >"$tmp/c.log" 2>&1
check "chat eval through llama-server: 2 questions answered" \
    bash -c "[ $? -eq 0 ] && grep -qE '\"n\":[[:space:]]*2' '$tmp/c/summary.json' && grep -q '\"endpoint\":[[:space:]]*\"chat/completions\"' '$tmp/c/summary.json'"
echo "  $(($(date +%s) - t0)) s"
check "no sanitizer reports in the runs' logs" bash -c "! grep -l 'Sanitizer' '$tmp'/*.log"
finish
