#!/usr/bin/env bash
# Runs each test command given as an argument, shows its output, and closes with
# one line adding up every program's "N passed, N failed, N skipped" (also
# appended to the file $SCPT_TOTALS names, when set, as "passed failed skipped").
set -u
passed=0 failed=0 skipped=0 broken=()
for t in "$@"; do
    echo "== $t"
    out=$(mktemp)
    $t 2>&1 | tee "$out"
    rc=${PIPESTATUS[0]}
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1)
    rm -f "$out"
    if [ -z "$line" ]; then
        broken+=("$t (exit $rc, no summary line)")
        failed=$((failed + 1))
        continue
    fi
    read -r p f s <<<"$(echo "$line" | sed -E 's/^([0-9]+) passed, ([0-9]+) failed(, ([0-9]+) skipped)?.*/\1 \2 \4/')"
    passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + ${s:-0}))
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        broken+=("$t (exit $rc)")
        failed=$((failed + 1))
    fi
done
for b in "${broken[@]+"${broken[@]}"}"; do echo "broken: $b"; done
echo "total: $passed passed, $failed failed, $skipped skipped"
[ -n "${SCPT_TOTALS:-}" ] && echo "$passed $failed $skipped" >>"$SCPT_TOTALS"
[ "$failed" -eq 0 ]
