#!/usr/bin/env bash
# bench-A against OpenBLAS's GEMM on this machine, in pairs: each heavyball run comes right after
# a measurement of sgemm (dgemm for f64) through numpy, so that both see the same moment of a
# shared, noisy machine. Prints each pair's share of the GEMM rate and their median.
#
#     benches/paired.sh [PAIRS] [f32|f64]        # default: 5 pairs, f32
#
# Needs a python with numpy (PY; by default the venv that benches/peers/setup.sh creates).
set -euo pipefail
cd "$(dirname "$0")/.."
pairs=${1:-5}
precision=${2:-f32}
peers=benches/peers
py=${PY:-${PEERS_VENV:-${TMPDIR:-/tmp}/heavyball-peers-venv}/bin/python}
config=${CONFIG:-experiments/bench-a.toml}
case $precision in
    f32) dtype=float32 gemm_name=sgemm ;;
    f64) dtype=float64 gemm_name=dgemm ;;
    *) echo "precision must be f32 or f64, not '$precision'" >&2; exit 2 ;;
esac
[[ $pairs =~ ^[1-9][0-9]*$ ]] || { echo "PAIRS must be a positive integer, not '$pairs'" >&2; exit 2; }
[[ -x $py ]] || { echo "no python at $py: run benches/peers/setup.sh once (it creates that venv) or set PY" >&2; exit 1; }

cargo build --release --quiet
bin=$PWD/target/release/heavyball
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sed "s/^precision = .*/precision = \"$precision\"/" "$config" > "$work/bench.toml"

shares=()
for i in $(seq "$pairs"); do
    gemm=$("$py" "$peers/gemm.py" --reps 3 --dtypes "$dtype" |
        grep -o '"gflops_median": [0-9.]*' | grep -o '[0-9.]*$')
    rm -rf "$work/results"
    line=$("$bin" run "$work/bench.toml" --results "$work/results" 2>&1 | tail -1)
    secs=$(grep -o '[0-9.]* s,' <<<"$line" | grep -o '^[0-9.]*')
    rate=$(grep -o '[0-9.]* GFLOP/s' <<<"$line" | grep -o '^[0-9.]*')
    [[ -n $secs && -n $rate && -n $gemm ]] || { echo "could not read a pair: '$line', gemm '$gemm'" >&2; exit 1; }
    share=$(awk -v a="$rate" -v b="$gemm" 'BEGIN { printf "%.0f", 100 * a / b }')
    shares+=("$share")
    printf '%s  %s %6.1f GFLOP/s, then heavyball %6.2f s, %6.1f GFLOP/s: %3s%%\n' \
        "$(date -u +%H:%M:%S)" "$gemm_name" "$gemm" "$secs" "$rate" "$share"
done
median=$(printf '%s\n' "${shares[@]}" | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
echo "median share of $gemm_name over $pairs pairs: $median%"
