#!/usr/bin/env bash
# llama.cpp tools for the tests (llama-server for the EntiGraph client; other
# parts add their tool to LLAMA_TARGETS). The source is the git bundle that the
# npm package node-llama-cpp carries, so only the npm registry is needed.
#   npm package  -> $SCPT_CACHE/npm/node_modules/node-llama-cpp (shared prefix)
#   source       -> $SCPT_CACHE/llama.cpp/src   (a clone of llama/gitRelease.bundle)
#   build        -> $SCPT_CACHE/llama.cpp/build/bin/<target>
# Idempotent: exits at once when every target is built from the pinned source.
set -euo pipefail

NODE_LLAMA_CPP_VERSION=3.22.1
LLAMA_TARGETS="llama-server"
CMAKE_FLAGS="-DCMAKE_BUILD_TYPE=Release -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF
             -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF"
JOBS=${SCPT_BUILD_JOBS:-2}

cache=${SCPT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/scpt}
prefix=$cache/npm
pkg=$prefix/node_modules/node-llama-cpp
root=$cache/llama.cpp
src=$root/src
build=$root/build
stamp=$build/.scpt-built   # "<npm version> <targets>" of the last complete build

want="$NODE_LLAMA_CPP_VERSION $LLAMA_TARGETS"
all_built() {
    [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] || return 1
    for t in $LLAMA_TARGETS; do [ -x "$build/bin/$t" ] || return 1; done
}
all_built && exit 0

have_version() { node -p "require('$pkg/package.json').version" 2>/dev/null || true; }
if [ "$(have_version)" != "$NODE_LLAMA_CPP_VERSION" ]; then
    echo "llama_server: npm install node-llama-cpp@$NODE_LLAMA_CPP_VERSION (scripts off) into $prefix"
    mkdir -p "$prefix"
    # --save keeps it in the shared package.json so other parts' installs do not prune it
    npm install --prefix "$prefix" --ignore-scripts --no-audit --no-fund --loglevel=error \
        "node-llama-cpp@$NODE_LLAMA_CPP_VERSION" >/dev/null
fi
bundle=$pkg/llama/gitRelease.bundle
[ -f "$bundle" ] || { echo "llama_server: $bundle missing from the npm package" >&2; exit 1; }

# the source: a fresh clone whenever the bundle's commit differs from the clone's
head=$(git bundle list-heads "$bundle" | awk '$2 == "HEAD" { print $1 }')
if [ "$(git -C "$src" rev-parse HEAD 2>/dev/null || true)" != "$head" ]; then
    echo "llama_server: cloning llama.cpp $head from the bundle"
    rm -rf "$src" "$build"
    mkdir -p "$root"
    git clone --quiet "$bundle" "$src.tmp.$$"
    git -C "$src.tmp.$$" -c advice.detachedHead=false checkout --quiet "$head"
    mv "$src.tmp.$$" "$src"
fi

if [ ! -f "$build/CMakeCache.txt" ]; then
    echo "llama_server: configuring"
    # shellcheck disable=SC2086
    cmake -S "$src" -B "$build" $CMAKE_FLAGS >"$root/configure.log" 2>&1 ||
        { tail -n 30 "$root/configure.log" >&2; exit 1; }
fi
echo "llama_server: building $LLAMA_TARGETS (-j$JOBS, about 10 minutes on 2 cores the first time; log $root/build.log)"
. "$(dirname "$0")/cmake_progress.bash"
# shellcheck disable=SC2086
cmake_progress llama_server "$root/build.log" "$build" "$JOBS" $LLAMA_TARGETS
echo "$want" >"$stamp"
