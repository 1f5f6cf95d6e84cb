#!/usr/bin/env bash
# Thread scaling of a sweep on this machine: trains CONFIG (default bench-A) REPS times at each
# thread count, each time into fresh results, and prints a table of the times, their median,
# the GFLOP/s and the speed-up over 1 thread. It also checks that every thread count wrote
# bit-identical parameters and curves.
#
#     benches/scaling.sh [CONFIG]                  # THREADS="1 2 4 8 16" REPS=3 by default
#     COPIES=1 benches/scaling.sh [CONFIG]         # and the machine's own ceiling (below)
#
# With COPIES=1 it then runs one 1-thread copy of the sweep on every core at once, each pinned
# to its core, next to a lone 1-thread run: how far independent work scales on this machine when
# all cores are busy (shared caches, power and clocks), whatever a program does. Set HEAVYBALL
# to time a binary other than this tree's release build.
set -euo pipefail
cd "$(dirname "$0")/.."
config=${1:-experiments/bench-a.toml}
threads=${THREADS:-1 2 4 8 16}
reps=${REPS:-3}
[[ -f $config ]] || { echo "no config file '$config'" >&2; exit 2; }
[[ $reps =~ ^[1-9][0-9]*$ ]] || { echo "REPS must be a positive integer, not '$reps'" >&2; exit 2; }
for t in $threads; do
    [[ $t =~ ^[1-9][0-9]*$ ]] || { echo "THREADS must list positive integers, not '$t'" >&2; exit 2; }
done
if [[ -z ${HEAVYBALL:-} ]]; then
    cargo build --release --quiet
    HEAVYBALL=$PWD/target/release/heavyball
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# One sweep into a fresh folder: prints "SECONDS GFLOPS".
sweep() { # DIR THREADS
    rm -rf "$1"
    local line
    line=$("$HEAVYBALL" run "$config" --results "$1" --threads "$2" --quiet 2>&1 | tail -1)
    local secs rate
    secs=$(grep -o '[0-9.]* s,' <<<"$line" | grep -o '^[0-9.]*') || true
    rate=$(grep -o '[0-9.]* GFLOP/s' <<<"$line" | grep -o '^[0-9.]*') || true
    [[ -n $secs && -n $rate ]] || { echo "the sweep at $2 threads failed: $line" >&2; exit 1; }
    echo "$secs $rate"
}

# The bits a sweep wrote: every run's final parameters and curve, in a fixed order.
fingerprint() { # DIR
    find "$1" -path '*/runs/*' \( -name final.npz -o -name curve.csv \) | sort | xargs cat |
        sha256sum | cut -c1-16
}

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "$config on $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(date -u '+%F %H:%M UTC')"
echo
echo "| threads | runs (s) | median | GFLOP/s | speed-up | results |"
echo "|---|---|---|---|---|---|"
base=""
reference=""
gflop=""
differ=0
for t in $threads; do
    times=()
    for r in $(seq "$reps"); do
        result=$(sweep "$work/t$t" "$t")
        read -r secs rate <<<"$result"
        times+=("$secs")
        # The useful work (time × rate) is the same in every sweep of this config.
        gflop=${gflop:-$(awk -v s="$secs" -v r="$rate" 'BEGIN { print s * r }')}
        [[ $r == 1 ]] && print=$(fingerprint "$work/t$t")
    done
    med=$(printf '%s\n' "${times[@]}" | median)
    [[ $t == 1 ]] && base=$med
    reference=${reference:-$print}
    if [[ $print == "$reference" ]]; then same=identical; else same="DIFFERENT ($print vs $reference)"; differ=1; fi
    speed=$(awk -v b="$base" -v m="$med" 'BEGIN { if (b == "") print "—"; else printf "%.2f×", b / m }')
    rate=$(awk -v g="$gflop" -v m="$med" 'BEGIN { printf "%.0f", g / m }')
    echo "| $t | ${times[*]} | $med s | $rate | $speed | $same |"
done
[[ $differ == 0 ]] || { echo "results differ between thread counts" >&2; exit 1; }

[[ ${COPIES:-0} == 1 ]] || exit 0
command -v taskset >/dev/null || { echo "COPIES=1 needs taskset (util-linux)" >&2; exit 1; }
cores=$(nproc)
echo
echo "One 1-thread copy on each of the $cores cores at once, against a lone 1-thread run:"
result=$(sweep "$work/alone" 1)
alone=${result%% *}
for c in $(seq 0 $((cores - 1))); do
    (taskset -c "$c" bash -c "$(declare -f sweep); HEAVYBALL='$HEAVYBALL' config='$config'; sweep '$work/copy$c' 1" |
        cut -d' ' -f1 >"$work/copy$c.secs") &
done
wait
[[ $(cat "$work"/copy*.secs | grep -c .) == "$cores" ]] || { echo "some copies failed" >&2; exit 1; }
copies=$(cat "$work"/copy*.secs | sort -g | xargs)
# Throughput of the copies together, in lone runs' worth: Σ alone / t_i.
together=$(cat "$work"/copy*.secs | awk -v a="$alone" '{ s += a / $1 } END { printf "%.1f", s }')
echo "- lone run: $alone s; the $cores copies: $copies s"
echo "- together they did the work of ${together} lone runs at a time (the ceiling on a $cores-thread speed-up here)"
