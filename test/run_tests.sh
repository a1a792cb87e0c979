#!/usr/bin/env bash
# Runs each test command given as an argument, shows its output, and closes with
# one line adding up every program's "tally: pass=N fail=N skip=N" (also appended
# to the file $SCPT_TOTALS names, when set, as "passed failed skipped"). Only
# `make test`'s last line has a test runner's "N passed, N failed" shape.
set -u
passed=0 failed=0 skipped=0 broken=()
for t in "$@"; do
    echo "== $t"
    out=$(mktemp)
    t0=$SECONDS
    $t 2>&1 | tee "$out"
    rc=${PIPESTATUS[0]}
    echo "   ($((SECONDS - t0)) s)"   # where the suite's time goes
    line=$(grep -E '^tally: pass=[0-9]+ fail=[0-9]+ skip=[0-9]+$' "$out" | tail -n 1)
    rm -f "$out"
    if [ -z "$line" ]; then
        broken+=("$t (exit $rc, no tally line)")
        failed=$((failed + 1))
        continue
    fi
    read -r p f s <<<"$(echo "$line" | sed -E 's/^tally: pass=([0-9]+) fail=([0-9]+) skip=([0-9]+)$/\1 \2 \3/')"
    passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        broken+=("$t (exit $rc)")
        failed=$((failed + 1))
    fi
done
for b in "${broken[@]+"${broken[@]}"}"; do echo "broken: $b"; done
echo "suite tally: pass=$passed fail=$failed skip=$skipped"
[ -n "${SCPT_TOTALS:-}" ] && echo "$passed $failed $skipped" >>"$SCPT_TOTALS"
[ "$failed" -eq 0 ]
