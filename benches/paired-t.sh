#!/usr/bin/env bash
# Small-network sweeps against the machine's bound and the JAX peer, side by side, in rounds:
# for each sweep (by default bench-T, experiments/bench-t.toml, and the tinier bench-tiny,
# experiments/bench-tiny.toml) a round measures the roofline bound (roofline.py: the products
# at numpy's sgemm rate and tanh, exp and log at numpy's vectorised rates, measured now), then
# the JAX peer on the same grid, then heavyball, so that all three see the same moment of a
# shared, noisy machine. Prints each round's heavyball time, its share of the bound and its
# speed against JAX (whole sweep, compile included, and JAX's compile-free run time), and the
# medians per sweep.
#
#     benches/paired-t.sh [ROUNDS]        # default: 3 rounds of each sweep
#     CONFIGS="experiments/bench-a.toml" NUMPY_PROCS=2 benches/paired-t.sh 2
#
# Each round also times heavyball with its results in memory (in TMPFS, by default /dev/shm
# when it exists; TMPFS= turns it off): the same sweep without the file system's share (each
# run's files are fsynced), which the bound and the peers, writing nothing, do not pay.
#
# CONFIGS picks other sweeps with synthetic data (space-separated); NUMPY_PROCS=N adds the
# numpy peer (a process pool of N) to each round. Needs a python with numpy and jax (PY; by
# default the venv that benches/peers/setup.sh creates) and roofline.py (ROOFLINE; by default
# the benchmark harness beside the project, ../shared/peers/roofline.py). HEAVYBALL_GROUP_SIZE
# passes through (1 trains every run alone, for an A/B of fusing).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
peers=benches/peers
py=${PY:-${PEERS_VENV:-${TMPDIR:-/tmp}/heavyball-peers-venv}/bin/python}
roofline=${ROOFLINE:-../shared/peers/roofline.py}
configs=${CONFIGS:-experiments/bench-t.toml experiments/bench-tiny.toml}
numpy_procs=${NUMPY_PROCS:-}
tmpfs=${TMPFS-/dev/shm}
[[ -n $tmpfs && ! ( -d $tmpfs && -w $tmpfs ) ]] && tmpfs=""
[[ -z $numpy_procs || $numpy_procs =~ ^[1-9][0-9]*$ ]] ||
    { echo "NUMPY_PROCS must be a positive integer, not '$numpy_procs'" >&2; exit 2; }
[[ $rounds =~ ^[1-9][0-9]*$ ]] || { echo "ROUNDS must be a positive integer, not '$rounds'" >&2; exit 2; }
[[ -x $py ]] || { echo "no python at $py: run benches/peers/setup.sh once (it creates that venv) or set PY" >&2; exit 1; }
[[ -f $roofline ]] || { echo "no roofline.py at $roofline: set ROOFLINE to the harness's roofline.py" >&2; exit 1; }
for config in $configs; do
    [[ -f $config ]] || { echo "no sweep config at $config" >&2; exit 2; }
done

cargo build --release --quiet
bin=$PWD/target/release/heavyball
work=$(mktemp -d)
memory=${tmpfs:+$(mktemp -d -p "$tmpfs")}
trap 'rm -rf "$work" ${memory:+"$memory"}' EXIT

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
field() { grep -o "\"$1\": [0-9.]*" | grep -o '[0-9.]*$'; }
summary=()
for config in $configs; do
    name=$(basename "$config" .toml)
    shares=() vs_jax=() vs_jax_run=() vs_numpy=() secs_all=() bounds=() memory_shares=()
    for i in $(seq "$rounds"); do
        bound_line=$("$py" "$roofline" --config "$config" | tail -1)
        bound=$(field bound_s <<<"$bound_line")
        gemm=$(field sgemm_gflops <<<"$bound_line")
        jax=$(JAX_PLATFORMS=cpu "$py" "$peers/jax_sweep.py" --config "$config" | tail -1)
        jax_s=$(field sweep_s <<<"$jax")
        jax_run=$(field run_s <<<"$jax")
        rm -rf "$work/results"
        line=$("$bin" run "$config" --results "$work/results" --quiet 2>&1 | tail -1)
        secs=$(grep -o '[0-9.]* s,' <<<"$line" | grep -o '^[0-9.]*')
        rate=$(grep -o '[0-9.]* GFLOP/s' <<<"$line" | grep -o '^[0-9.]*')
        [[ -n $secs && -n $rate && -n $bound && -n $jax_s && -n $jax_run ]] ||
            { echo "could not read a round of $name: '$line', bound '$bound_line', jax '$jax'" >&2; exit 1; }
        share=$(awk -v a="$bound" -v b="$secs" 'BEGIN { printf "%.1f", 100 * a / b }')
        ratio=$(awk -v a="$jax_s" -v b="$secs" 'BEGIN { printf "%.2f", a / b }')
        ratio_run=$(awk -v a="$jax_run" -v b="$secs" 'BEGIN { printf "%.2f", a / b }')
        shares+=("$share") vs_jax+=("$ratio") vs_jax_run+=("$ratio_run") secs_all+=("$secs") bounds+=("$bound")
        memory_note=""
        if [[ -n $memory ]]; then
            rm -rf "$memory/results"
            line=$("$bin" run "$config" --results "$memory/results" --quiet 2>&1 | tail -1)
            memory_s=$(grep -o '[0-9.]* s,' <<<"$line" | grep -o '^[0-9.]*')
            [[ -n $memory_s ]] || { echo "could not read heavyball's run in memory: '$line'" >&2; exit 1; }
            memory_shares+=("$(awk -v a="$bound" -v b="$memory_s" 'BEGIN { printf "%.1f", 100 * a / b }')")
            memory_note="; results in memory $memory_s s, ${memory_shares[-1]}% of the bound"
        fi
        numpy_note=""
        if [[ -n $numpy_procs ]]; then
            numpy=$("$py" "$peers/numpy_sweep.py" --config "$config" --procs "$numpy_procs" | tail -1)
            numpy_s=$(field sweep_s <<<"$numpy")
            [[ -n $numpy_s ]] || { echo "could not read the numpy peer: '$numpy'" >&2; exit 1; }
            vs_numpy+=("$(awk -v a="$numpy_s" -v b="$secs" 'BEGIN { printf "%.2f", a / b }')")
            numpy_note="; numpy ($numpy_procs processes) $numpy_s s, ${vs_numpy[-1]}×"
        fi
        printf '%s %-12s bound %6.2f s (sgemm %6.1f GFLOP/s); JAX %6.2f s (%6.2f s without compiling); heavyball %6.2f s (%5.1f GFLOP/s): %5s%% of the bound, %5s× JAX (%5s× its run)%s%s\n' \
            "$(date -u +%H:%M:%S)" "$name" "$bound" "$gemm" "$jax_s" "$jax_run" "$secs" "$rate" "$share" "$ratio" "$ratio_run" "$memory_note" "$numpy_note"
    done
    summary+=("$(printf '%-12s median over %s rounds: heavyball %s s, bound %s s: %s%% of the bound, %s× JAX, %s× JAX without compiling%s%s' \
        "$name" "$rounds" "$(printf '%s\n' "${secs_all[@]}" | median)" "$(printf '%s\n' "${bounds[@]}" | median)" \
        "$(printf '%s\n' "${shares[@]}" | median)" "$(printf '%s\n' "${vs_jax[@]}" | median)" \
        "$(printf '%s\n' "${vs_jax_run[@]}" | median)" \
        "${memory:+, results in memory $(printf '%s\n' "${memory_shares[@]}" | median)% of the bound}" \
        "${numpy_procs:+, $(printf '%s\n' "${vs_numpy[@]}" | median)× numpy}")")
done
printf '%s\n' "${summary[@]}"
