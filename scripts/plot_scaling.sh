#!/usr/bin/env bash
# Plots accuracy vs synthetic tokens (log x) for each method in a points CSV
# (method,tokens,acc), with its log-linear and mixture-of-exponential fits (fitcurve).
# usage: scripts/plot_scaling.sh POINTS.csv OUT.png [PAPER.csv]
# Writes OUT.png, OUT.fit.json (the parameters) and OUT.gp (the definitions).
# PAPER.csv (test/data/entigraph_mixexp_paper.csv: a,b1,r1,b2,r2,b3,r3) adds a panel
# beside the plot with that published curve, a - sum b_i r_i^x (x in millions of tokens).
set -euo pipefail
[ $# -eq 2 ] || [ $# -eq 3 ] || { echo "usage: $0 POINTS.csv OUT.png [PAPER.csv]" >&2; exit 2; }
csv=$1 png=$2 paper=${3:-}
bin=${SCPT_BIN:-$(cd "$(dirname "$0")/.." && pwd)}
base=${png%.png}
"$bin/fitcurve" --in "$csv" --out "$base.fit.json" --gnuplot "$base.gp"
# one plot clause per method: points (tokens > 0: log axis), then the fits that exist
plots=() i=0
while IFS= read -r m; do
    i=$((i + 1))
    id=$(printf '%s' "$m" | tr -c 'A-Za-z0-9' '_')
    plots+=("'$csv' using (strcol(1) eq '$m' && \$2 > 0 ? \$2 : 1/0):(\$3*100) with points pt $((i + 5)) ps 1.5 lc $i title '$m'")
    grep -q "^mix_$id(" "$base.gp" && plots+=("mix_$id(x)*100 with lines lc $i dt 1 title '$m: mixture of exponentials'")
    grep -q "^loglin_$id(" "$base.gp" && plots+=("loglin_$id(x)*100 with lines lc $i dt 2 title '$m: log-linear'")
done < <(awk -F, 'NR > 1 && !/^#/ && NF >= 3 { print $1 }' "$csv" | awk '!seen[$0]++')
tmp=$(mktemp "$base.XXXXXX.png")
trap 'rm -f "$tmp"' EXIT
paper_panel() {   # the published curve's constants, from the first line that is not a comment or the header
    local c
    c=$(grep -v '^#' "$paper" | sed -n 2p)
    [ -n "$c" ] || { echo "plot_scaling.sh: $paper: no line of constants a,b1,r1,b2,r2,b3,r3" >&2; exit 1; }
    echo "unset logscale x"
    echo "set xlabel 'synthetic tokens (millions)'"
    echo "set xrange [0:455]"
    echo "set title 'the paper: EntiGraph CPT of Llama 3 8B, its fitted curve'"
    IFS=, read -r a b1 r1 b2 r2 b3 r3 <<<"$c"
    echo "plot $a - $b1*$r1**x - $b2*$r2**x - $b3*$r3**x with lines lc 3 title 'mixture of exponentials (paper)'"
}
{
    echo "set terminal pngcairo size $([ -n "$paper" ] && echo 1600 || echo 900),600 noenhanced"
    echo "set output '$tmp'"
    echo "set datafile separator ','"
    echo "set datafile commentschars '#'"
    echo "set logscale x"
    echo "set xlabel 'synthetic tokens'"
    echo "set ylabel 'QA accuracy (%)'"
    echo "set key left top"
    echo "set grid"
    echo "set samples 400"
    echo "load '$base.gp'"
    if [ -n "$paper" ]; then echo "set multiplot layout 1,2"; echo "set title 'this run'"; fi
    (IFS=,; echo "plot ${plots[*]}")
    if [ -n "$paper" ]; then paper_panel; echo "unset multiplot"; fi
} | gnuplot
mv "$tmp" "$png"   # atomically in place
trap - EXIT
echo "wrote $png"
