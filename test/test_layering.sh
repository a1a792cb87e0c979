#!/usr/bin/env bash
# The dependency directions of doc/architecture.md, checked on the built objects:
# no two source files call each other (directly or round a loop), and no two
# parts (src/<part>/ folders; kernels/; each program's main) depend on each other.
# An edge A -> B is a symbol that A's object leaves undefined and B's defines;
# tsort fails on any loop and names it.
cd "$(dirname "$0")/.." || exit 1
. test/check.sh
# the objects of the build under test: build, or build/asan beside its test programs
objdir=$(dirname "$tests")
command -v nm >/dev/null && command -v tsort >/dev/null || skip_all "nm or tsort is not installed (binutils, coreutils)"
# the library and program objects of this build: not tests, benches, fuzzers or the f64 twin
mapfile -t objs < <(find "$objdir" build/cuda/src build/cuda/kernels -name '*.o' 2>/dev/null |
    grep -Ev "^$objdir/(test|f64|dev|fuzz|asan|cuda)/|^build/cuda/(test|dev)/" | sort -u)
[ "${#objs[@]}" -gt 20 ] || { echo "only ${#objs[@]} objects under $objdir: build first (make all)"; bad "objects found"; finish; exit 1; }
scratch test_layering
nm -A "${objs[@]}" 2>/dev/null | awk -v root="$objdir/" '
    # the part of an object: its folder under src/ (kernels for CUDA kernels), main:<name> for a program
    function part(f,   p) {
        sub("^" root, "", f); sub("^build/", "", f); sub("^cuda/src/", "", f); sub("^cuda/", "", f)
        if (split(f, p, "/") == 1) { sub(/\.o$/, "", f); return "main:" f }
        return p[1]
    }
    { split($1, a, ":"); f = a[1] }
    $2 ~ /^[TDBR]$/ { definer[$3] = definer[$3] " " f; next }
    $2 == "U" { uses[f] = uses[f] " " $3 }
    END {
        for (f in uses) {
            n = split(uses[f], syms, " ")
            for (i = 1; i <= n; i++) {
                m = split(definer[syms[i]], ds, " ")
                for (j = 1; j <= m; j++) {
                    if (ds[j] == f) continue
                    print f, ds[j] > "/dev/stderr"
                    if (part(f) != part(ds[j])) print part(f), part(ds[j])
                }
            }
        }
    }' >"$tmp/parts" 2>"$tmp/files"
check "objects use symbols of other objects ($(wc -l <"$tmp/files") edges)" test -s "$tmp/files"
# tsort prints an order, or fails naming the loop (once for each edge into it: shown once)
no_loop() { tsort "$1" 2>&1 >/dev/null | awk '!seen[$0]++'; return "${PIPESTATUS[0]}"; }
check "no loop between source files" no_loop "$tmp/files"
check "no loop between parts ($(sort -u "$tmp/parts" | wc -l) part edges)" no_loop "$tmp/parts"
finish
