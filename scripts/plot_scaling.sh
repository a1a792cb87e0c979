#!/usr/bin/env bash
# Plots accuracy vs synthetic tokens (log x) for each method in a points CSV
# (method,tokens,acc), with its log-linear and mixture-of-exponential fits (fitcurve).
# usage: scripts/plot_scaling.sh POINTS.csv OUT.png
# Writes OUT.png, OUT.fit.json (the parameters) and OUT.gp (the definitions).
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 POINTS.csv OUT.png" >&2; exit 2; }
csv=$1 png=$2
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
{
    echo "set terminal pngcairo size 900,600 noenhanced"
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
    (IFS=,; echo "plot ${plots[*]}")
} | gnuplot
mv "$tmp" "$png"   # atomically in place
trap - EXIT
echo "wrote $png"
