#!/usr/bin/env bash
# libllama (the `llama` target) for test/test_llama_ref, which checks our forward
# against llama.cpp. Shares the cached llama.cpp source and build of
# llama_server.sh (which clones the source from node-llama-cpp's git bundle); when
# that script has not run yet, it runs it first. Idempotent: exits at once when
# libllama is built from the cached source.
set -euo pipefail
cache=${SCPT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/scpt}
root=$cache/llama.cpp
build=$root/build
stamp=$build/.scpt-built-llama   # the source commit libllama was built from

here=$(cd "$(dirname "$0")" && pwd)
if [ ! -f "$build/CMakeCache.txt" ]; then
    [ -x "$here/llama_server.sh" ] || { echo "llama_tools: needs $here/llama_server.sh (the llama.cpp source)" >&2; exit 1; }
    "$here/llama_server.sh"
fi
head=$(git -C "$root/src" rev-parse HEAD)
[ -f "$stamp" ] && [ "$(cat "$stamp")" = "$head" ] && [ -e "$build/bin/libllama.so" ] && exit 0
echo "llama_tools: building libllama (-j${SCPT_BUILD_JOBS:-2}; log $root/build-llama.log)"
. "$here/cmake_progress.bash"
cmake_progress llama_tools "$root/build-llama.log" "$build" "${SCPT_BUILD_JOBS:-2}" llama
echo "$head" >"$stamp"
