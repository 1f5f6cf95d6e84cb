#!/usr/bin/env bash
# bench-T (experiments/bench-t.toml: many small runs; CONFIG for another sweep) side by side
# with OpenBLAS's sgemm and the JAX peer, in rounds: each round measures sgemm through numpy, then the JAX peer on the same
# grid, then heavyball, so that all three see the same moment of a shared, noisy machine. Prints
# each round's heavyball rate as a share of sgemm's, its speed against JAX (whole sweep, compile
# included, and JAX's compile-free run time), and the medians.
#
#     benches/paired-t.sh [ROUNDS]        # default: 3 rounds
#     CONFIG=experiments/bench-a.toml NUMPY_PROCS=2 benches/paired-t.sh 2
#
# CONFIG picks another sweep with synthetic data; NUMPY_PROCS=N adds the numpy peer (a process
# pool of N) to each round. Needs a python with numpy and jax (PY; by default the venv that
# benches/peers/setup.sh creates). HEAVYBALL_GROUP_SIZE passes through (1 trains every run
# alone, for an A/B of fusing).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
peers=benches/peers
py=${PY:-${PEERS_VENV:-${TMPDIR:-/tmp}/heavyball-peers-venv}/bin/python}
config=${CONFIG:-experiments/bench-t.toml}
numpy_procs=${NUMPY_PROCS:-}
[[ -z $numpy_procs || $numpy_procs =~ ^[1-9][0-9]*$ ]] ||
    { echo "NUMPY_PROCS must be a positive integer, not '$numpy_procs'" >&2; exit 2; }
[[ $rounds =~ ^[1-9][0-9]*$ ]] || { echo "ROUNDS must be a positive integer, not '$rounds'" >&2; exit 2; }
[[ -x $py ]] || { echo "no python at $py: run benches/peers/setup.sh once (it creates that venv) or set PY" >&2; exit 1; }

cargo build --release --quiet
bin=$PWD/target/release/heavyball
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
shares=() vs_jax=() vs_jax_run=() vs_numpy=()
for i in $(seq "$rounds"); do
    gemm=$("$py" "$peers/gemm.py" --reps 3 --dtypes float32 |
        grep -o '"gflops_median": [0-9.]*' | grep -o '[0-9.]*$')
    jax=$(JAX_PLATFORMS=cpu "$py" "$peers/jax_sweep.py" --config "$config" | tail -1)
    jax_s=$(grep -o '"sweep_s": [0-9.]*' <<<"$jax" | grep -o '[0-9.]*$')
    jax_run=$(grep -o '"run_s": [0-9.]*' <<<"$jax" | grep -o '[0-9.]*$')
    rm -rf "$work/results"
    line=$("$bin" run "$config" --results "$work/results" --quiet 2>&1 | tail -1)
    secs=$(grep -o '[0-9.]* s,' <<<"$line" | grep -o '^[0-9.]*')
    rate=$(grep -o '[0-9.]* GFLOP/s' <<<"$line" | grep -o '^[0-9.]*')
    [[ -n $secs && -n $rate && -n $gemm && -n $jax_s && -n $jax_run ]] ||
        { echo "could not read a round: '$line', gemm '$gemm', jax '$jax'" >&2; exit 1; }
    share=$(awk -v a="$rate" -v b="$gemm" 'BEGIN { printf "%.1f", 100 * a / b }')
    ratio=$(awk -v a="$jax_s" -v b="$secs" 'BEGIN { printf "%.2f", a / b }')
    ratio_run=$(awk -v a="$jax_run" -v b="$secs" 'BEGIN { printf "%.2f", a / b }')
    shares+=("$share") vs_jax+=("$ratio") vs_jax_run+=("$ratio_run")
    numpy_note=""
    if [[ -n $numpy_procs ]]; then
        numpy=$("$py" "$peers/numpy_sweep.py" --config "$config" --procs "$numpy_procs" | tail -1)
        numpy_s=$(grep -o '"sweep_s": [0-9.]*' <<<"$numpy" | grep -o '[0-9.]*$')
        [[ -n $numpy_s ]] || { echo "could not read the numpy peer: '$numpy'" >&2; exit 1; }
        vs_numpy+=("$(awk -v a="$numpy_s" -v b="$secs" 'BEGIN { printf "%.2f", a / b }')")
        numpy_note="; numpy ($numpy_procs processes) $numpy_s s, ${vs_numpy[-1]}×"
    fi
    printf '%s  sgemm %6.1f GFLOP/s; JAX %6.2f s (%6.2f s without compiling); heavyball %6.2f s, %5.1f GFLOP/s: %5s%% of sgemm, %5s× JAX (%5s× its run)%s\n' \
        "$(date -u +%H:%M:%S)" "$gemm" "$jax_s" "$jax_run" "$secs" "$rate" "$share" "$ratio" "$ratio_run" "$numpy_note"
done
echo "median over $rounds rounds: $(printf '%s\n' "${shares[@]}" | median)% of sgemm, $(printf '%s\n' "${vs_jax[@]}" | median)× JAX, $(printf '%s\n' "${vs_jax_run[@]}" | median)× JAX without compiling${numpy_procs:+, $(printf '%s\n' "${vs_numpy[@]}" | median)× numpy}"
