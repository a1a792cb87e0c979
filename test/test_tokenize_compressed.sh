#!/usr/bin/env bash
# tokenize on compressed input and folders: .jsonl.gz and .jsonl.zst (also
# multi-member gzip, multi-frame zstd, compressed standard input and compressed
# whole-file text) give shards byte-identical to the plain file's; a folder reads
# as its files in sorted order; truncated or corrupt data is an error naming the
# file; --max-tokens stops at exactly that many tokens, a prefix of the full run.
set -u
cd "$(dirname "$0")/.."
. test/check.sh
tokenize="$bin/tokenize --quiet --threads 2"
scratch test_tokenize_compressed
command -v gzip >/dev/null && command -v zstd >/dev/null || skip_all "gzip or zstd (the command-line tools) missing"

# ~2.5 MB of JSONL (more than one read block of every reader), in two halves
awk 'BEGIN { srand(7); split("the of a river graph entity model token shard replay set budget", w, " ");
             for (d = 0; d < 6000; d++) { s = ""; for (i = 0; i < 60 + d % 90; i++) s = s w[1 + int(rand() * 13)] " ";
                 printf "{\"id\": %d, \"text\": \"%s\\u00e9\\n%d\"}\n", d, s, d } }' >"$tmp/all.jsonl"
head -n 2500 "$tmp/all.jsonl" >"$tmp/a.jsonl"
tail -n +2501 "$tmp/all.jsonl" >"$tmp/b.jsonl"
$tokenize --out "$tmp/plain" "$tmp/all.jsonl" || bad "plain run"

same() { cmp -s "$tmp/plain_train_000000.bin" "$tmp/$1_train_000000.bin" && [ ! -e "$tmp/$1_train_000001.bin" ]; }
gzip -c "$tmp/all.jsonl" >"$tmp/all.jsonl.gz"
zstd -q -c "$tmp/all.jsonl" >"$tmp/all.jsonl.zst"
{ gzip -c "$tmp/a.jsonl"; gzip -c "$tmp/b.jsonl"; } >"$tmp/members.jsonl.gz"
{ zstd -q -c "$tmp/a.jsonl"; zstd -q -c "$tmp/b.jsonl"; } >"$tmp/frames.jsonl.zst"
$tokenize --out "$tmp/gz" "$tmp/all.jsonl.gz"
check "gzip gives the plain file's shards" same gz
$tokenize --out "$tmp/zst" "$tmp/all.jsonl.zst"
check "zstd gives the plain file's shards" same zst
$tokenize --out "$tmp/members" "$tmp/members.jsonl.gz"
check "concatenated gzip members read as one stream" same members
$tokenize --out "$tmp/frames" "$tmp/frames.jsonl.zst"
check "concatenated zstd frames read as one stream" same frames
$tokenize --format jsonl --out "$tmp/stdin" - <"$tmp/all.jsonl.zst"
check "compressed standard input is told by its first bytes" same stdin

# a folder: sorted by name, recursively, compressed or not; other files skipped
mkdir -p "$tmp/dir/2" && cp "$tmp/b.jsonl" "$tmp/dir/2/part.jsonl" && gzip -c "$tmp/a.jsonl" >"$tmp/dir/1.jsonl.gz" &&
    echo "not an input" >"$tmp/dir/README.md"
$tokenize --out "$tmp/dir_out" "$tmp/dir" 2>"$tmp/dir.err"
check "a folder gives its files' shards in sorted order" same dir_out
mkdir "$tmp/empty"
check "a folder with no inputs is an error naming it" \
    bash -c "! $tokenize --out '$tmp/e' '$tmp/empty' 2>'$tmp/e.err' && grep -q 'empty: the folder holds no' '$tmp/e.err'"

# whole-file text documents, compressed
head -c 1500000 "$tmp/all.jsonl" >"$tmp/doc.txt" && zstd -q -c "$tmp/doc.txt" >"$tmp/doc.txt.zst"
$tokenize --out "$tmp/txt" "$tmp/doc.txt" && $tokenize --out "$tmp/txtz" "$tmp/doc.txt.zst"
check "a compressed text file is the same one document" cmp -s "$tmp/txt_train_000000.bin" "$tmp/txtz_train_000000.bin"

# damaged files: an error naming the file, never short shards
size=$(stat -c %s "$tmp/all.jsonl.gz")
head -c $((size / 2)) "$tmp/all.jsonl.gz" >"$tmp/cut.jsonl.gz"
head -c $(($(stat -c %s "$tmp/all.jsonl.zst") / 2)) "$tmp/all.jsonl.zst" >"$tmp/cut.jsonl.zst"
check "truncated gzip is an error naming the file" \
    bash -c "! $tokenize --out '$tmp/t1' '$tmp/cut.jsonl.gz' 2>'$tmp/t1.err' && grep -q 'cut.jsonl.gz: truncated gzip' '$tmp/t1.err'"
check "truncated zstd is an error naming the file" \
    bash -c "! $tokenize --out '$tmp/t2' '$tmp/cut.jsonl.zst' 2>'$tmp/t2.err' && grep -q 'cut.jsonl.zst: truncated zstd' '$tmp/t2.err'"
# the member's CRC-32 (its last 8 bytes but 4) damaged: every byte decodes, the check fails
cp "$tmp/all.jsonl.gz" "$tmp/bad.jsonl.gz" && printf '\xff\xff' |
    dd of="$tmp/bad.jsonl.gz" bs=1 seek=$((size - 8)) conv=notrunc 2>/dev/null
check "a gzip CRC mismatch is an error naming the file" \
    bash -c "! $tokenize --out '$tmp/t3' '$tmp/bad.jsonl.gz' 2>'$tmp/t3.err' && grep -q 'bad.jsonl.gz: bad gzip data' '$tmp/t3.err'"

# --max-tokens: exactly N tokens (header int 2), the first N of the full run
n=12345
$tokenize --max-tokens $n --out "$tmp/cap" "$tmp/all.jsonl.gz"
tokens_of() { od -An -t d4 -j 8 -N 4 "$1" | tr -d ' '; }
check "--max-tokens writes exactly N tokens" [ "$(tokens_of "$tmp/cap_train_000000.bin")" = $n ]
check "--max-tokens keeps the first N tokens" \
    cmp -s <(tail -c +1025 "$tmp/cap_train_000000.bin") <(tail -c +1025 "$tmp/plain_train_000000.bin" | head -c $((2 * n)))
$tokenize --max-tokens $n --val-tokens 1000 --shard-tokens 5000 --out "$tmp/capv" "$tmp/all.jsonl"
total=0
for f in "$tmp"/capv_*.bin; do total=$((total + $(tokens_of "$f"))); done
check "--max-tokens counts train and val shards together" [ $total = $n ]
finish
