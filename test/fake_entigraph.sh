#!/usr/bin/env bash
# Stands in for `entigraph` in test/test_bootstrap.sh: one chat completion from
# $OPENAI_BASE_URL with --model, written as a JSON line to --output.
set -eu
while [ $# -gt 0 ]; do
    case $1 in --output) out=$2; shift ;; --model) model=$2; shift ;; esac
    shift
done
curl -sf -H "Authorization: Bearer $OPENAI_API_KEY" -H 'Content-Type: application/json' \
    -d "{\"model\": \"$model\", \"max_tokens\": 8, \"messages\": [{\"role\": \"user\", \"content\": \"Hello\"}]}" \
    "$OPENAI_BASE_URL/chat/completions" >>"$out"
echo >>"$out"
