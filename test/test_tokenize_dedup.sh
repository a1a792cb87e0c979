#!/usr/bin/env bash
# tokenize --dedup: exact and near-duplicate documents counted (count) or
# dropped (exact, near) before tokenizing, the counts in the summary; dropping
# gives the shards of the input without those documents.
set -u
cd "$(dirname "$0")/.."
. test/check.sh
tokenize="$bin/tokenize --threads 2"
scratch test_tokenize_dedup

# 60 distinct documents of 300 words; then 10 exact copies and 8 copies with 3 words changed
# (15 of 296 shingles differ: Jaccard 281/311 = 0.90)
awk 'BEGIN { srand(5); for (d = 0; d < 60; d++) { s = ""; for (i = 0; i < 300; i++) s = s "w" int(rand() * 3000) " "; doc[d] = s }
             for (d = 0; d < 60; d++) print "{\"text\": \"" doc[d] "\"}" > "'"$tmp"'/unique.jsonl"
             for (d = 0; d < 10; d++) print "{\"text\": \"" doc[d * 3] "\"}" > "'"$tmp"'/exact.jsonl"
             for (d = 0; d < 8; d++) { n = split(doc[d * 5 + 1], w, " "); s = "";
                 for (i = 1; i <= n; i++) s = s (i % 100 == 50 ? "changed" i : w[i]) " "; print "{\"text\": \"" s "\"}" > "'"$tmp"'/near.jsonl" } }'
cat "$tmp/unique.jsonl" "$tmp/exact.jsonl" "$tmp/near.jsonl" >"$tmp/all.jsonl"
cat "$tmp/unique.jsonl" "$tmp/near.jsonl" >"$tmp/no_exact.jsonl"
same() { cmp -s "$tmp/$1_train_000000.bin" "$tmp/$2_train_000000.bin"; }

$tokenize --quiet --out "$tmp/plain" "$tmp/all.jsonl"
$tokenize --quiet --out "$tmp/unique" "$tmp/unique.jsonl"
$tokenize --quiet --out "$tmp/no_exact" "$tmp/no_exact.jsonl"
$tokenize --dedup count --out "$tmp/count" "$tmp/all.jsonl" 2>"$tmp/count.err"
check "count: 10 exact and 8 near duplicates of 78 in the summary" \
    grep -q -- '--dedup count: 10 exact and 8 near (Jaccard >= 0.80) duplicates of 78 documents read, counted, none dropped' "$tmp/count.err"
check "count: the shards are those of the whole input" same count plain
$tokenize --dedup near --out "$tmp/near" "$tmp/all.jsonl" 2>"$tmp/near.err"
check "near: both kinds dropped" grep -q -- '--dedup near: 10 exact and 8 near (Jaccard >= 0.80) duplicates of 78 documents read, dropped' "$tmp/near.err"
check "near: the shards are those of the distinct documents" same near unique
$tokenize --dedup exact --out "$tmp/exact" "$tmp/all.jsonl" 2>"$tmp/exact.err"
check "exact: only copies dropped" grep -q -- '--dedup exact: 10 exact duplicates of 78 documents read, dropped' "$tmp/exact.err"
check "exact: the shards are those without the copies" same exact no_exact
$tokenize --dedup near --dedup-threshold 0.99 --out "$tmp/strict" "$tmp/all.jsonl" 2>"$tmp/strict.err"
check "a threshold of 0.99 keeps the edited copies" grep -q -- '10 exact and 0 near (Jaccard >= 0.99)' "$tmp/strict.err"
echo "some text" >"$tmp/doc.txt"
check "whole-file documents are refused with a reason" \
    bash -c "! $tokenize --dedup near --out '$tmp/x' '$tmp/doc.txt' 2>'$tmp/x.err' && grep -q 'doc.txt: documents are whole files' '$tmp/x.err'"
check "a bad mode is named" bash -c "$tokenize --dedup fuzzy --out '$tmp/y' '$tmp/all.jsonl' 2>&1 | grep -q \"expected off, count, exact or near, got 'fuzzy'\""
finish
