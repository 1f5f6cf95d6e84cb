#!/usr/bin/env bash
# The cluster test, against a real Slurm (not a mock); .ci/run runs it. Needs root and apt.
#
#   tests/slurm/cluster-test.sh [path/to/heavyball]     (default: target/debug/heavyball)
#
# 1. starts a private single-node Slurm (tests/slurm/local-slurm.sh);
# 2. trains a small sweep locally, and again as a 4-task job array with `heavyball slurm
#    --submit`; the two results must be byte-identical (run.toml and the wall-time column of
#    summary.csv excepted, which hold wall times);
# 3. submits a longer sweep, hard-kills one array task mid-run (SIGKILL), checks that `plan`
#    shows the unfinished shard and that `heavyball slurm --submit` resubmits only that shard,
#    and that the completed sweep again equals a local run byte for byte;
# 4. tunes a small sweep ([tune]) as chained arrays: one `heavyball slurm --submit`, after which
#    Slurm submits each next round itself (a dependent job); the tuned sweep must finish with
#    more than one round and equal a local tuned run byte for byte.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
BIN=$(realpath "${1:-target/debug/heavyball}")
[[ -x $BIN ]] || { echo "no heavyball binary at $BIN (cargo build first)" >&2; exit 1; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/heavyball-cluster-test.XXXXXX")
say() { printf '[cluster-test %(%H:%M:%S)T] %s\n' -1 "$*"; }
fail() { say "FAIL: $*"; exit 1; }

tests/slurm/local-slurm.sh start
trap 'tests/slurm/local-slurm.sh stop; rm -rf "$WORK"' EXIT
export SLURM_CONF=${HEAVYBALL_SLURM_DIR:-${TMPDIR:-/tmp}/heavyball-slurm}/etc/slurm.conf

# sweep NAME ITERATIONS: a 16-run digits sweep config.
sweep() {
    cat >"$WORK/$1.toml" <<TOML
name = "$1"
[data]
builtin = "digits"
test_fraction = 0.2
[train]
iterations = $2
checkpoint_every = 20
[grid]
hidden = [8, 32]
gamma = [0.003, 0.03]
alpha = [1.0, 0.3]
seed = [0, 1]
TOML
}

# wait_job ID: until the job has left the queue.
wait_job() {
    local until=$((SECONDS + 600))
    while [[ -n $(squeue -h -j "$1" 2>/dev/null) ]]; do
        ((SECONDS < until)) || fail "job $1 still queued after 600 s"
        sleep 1
    done
}

# submit CONFIG RESULTS: heavyball slurm --submit; prints the job id.
submit() {
    local out
    out=$("$BIN" slurm "$1" --results "$2" --tasks 4 --cpus-per-task 1 --submit)
    echo "$out" >&2
    sed -n 's/^submitted job \([0-9]*\):.*/\1/p' <<<"$out"
}

# same A B: the sweep folders hold the same results, byte for byte.
same() {
    local a=$1 b=$2 n=0
    for run in "$a"/runs/*/; do
        run=$(basename "$run")
        [[ -d $b/runs/$run ]] || fail "$run is missing from $b"
        for f in curve.csv init.npz final.npz checkpoint.npz; do
            cmp -s "$a/runs/$run/$f" "$b/runs/$run/$f" || fail "$run/$f differs between $a and $b"
        done
        n=$((n + 1))
    done
    [[ $n -eq $(ls "$b/runs" | wc -l) ]] || fail "$b has runs that $a lacks"
    cmp -s "$a/curves.csv" "$b/curves.csv" || fail "curves.csv differs"
    # summary.csv minus its wall_seconds column.
    local col
    col=$(head -1 "$a/summary.csv" | tr ',' '\n' | grep -nx wall_seconds | cut -d: -f1)
    diff <(cut -d, -f"$col" --complement "$a/summary.csv") <(cut -d, -f"$col" --complement "$b/summary.csv") >/dev/null ||
        fail "summary.csv differs beyond wall times"
    say "$n runs identical: $a = $b"
}

say "part 1: a 4-task array equals a local run"
sweep small 60
"$BIN" run "$WORK/small.toml" --results "$WORK/local" --quiet
job=$(submit "$WORK/small.toml" "$WORK/cluster")
[[ -n $job ]] || fail "no job id from heavyball slurm --submit"
wait_job "$job"
cat "$WORK"/cluster/small/slurm/logs/*.out
same "$WORK/local/small" "$WORK/cluster/small"
out=$("$BIN" slurm "$WORK/small.toml" --results "$WORK/cluster" --tasks 4 --submit)
grep -q "nothing to submit" <<<"$out" || fail "a finished sweep was resubmitted: $out"

say "part 2: a task killed mid-run, then resubmitted"
sweep long 400
job=$(submit "$WORK/long.toml" "$WORK/cluster")
# Wait until plan shows a run of shard 1 partly trained and in training right now.
until=$((SECONDS + 300))
until "$BIN" plan "$WORK/long.toml" --results "$WORK/cluster" --shards 4 | grep -q "shard 1 .*partial.*training now"; do
    ((SECONDS < until)) || fail "shard 1 never showed a run in training"
    sleep 0.5
done
scancel --signal=KILL "${job}_1"
say "killed array task ${job}_1"
wait_job "$job"
plan=$("$BIN" plan "$WORK/long.toml" --results "$WORK/cluster" --shards 4)
echo "$plan" | tail -5
grep -q "^shard 1: .* [1-9][0-9]* iterations left" <<<"$plan" || fail "plan does not show shard 1 unfinished"
if grep -q "^shard [023]: .* [1-9][0-9]* iterations left" <<<"$plan"; then fail "other shards unfinished"; fi
job2=$(submit "$WORK/long.toml" "$WORK/cluster")
grep -q "^#SBATCH --array=1$" "$WORK/cluster/long/slurm/long.sbatch" || fail "resubmission is not just shard 1"
wait_job "$job2"
"$BIN" run "$WORK/long.toml" --results "$WORK/local" --quiet
same "$WORK/local/long" "$WORK/cluster/long"
"$BIN" report "$WORK/cluster/long" >/dev/null

say "part 3: a tuned sweep, its rounds chained by Slurm"
sweep tuned 40
sed -i 's/^gamma = .*/gamma = [0.01, 0.03]/' "$WORK/tuned.toml"
cat >>"$WORK/tuned.toml" <<TOML
[tune]
gamma = "bracket"
resolution = 1.5
max_rounds = 5
TOML
"$BIN" run "$WORK/tuned.toml" --results "$WORK/local" --quiet
rounds=$("$BIN" plan "$WORK/tuned.toml" --results "$WORK/local" | grep -c "^  round [0-9]* added") || true
((rounds >= 1)) || fail "the local tuned sweep added no round; the test needs a sweep that does"
job=$(submit "$WORK/tuned.toml" "$WORK/cluster")
[[ -n $job ]] || fail "no job id for the tuned sweep"
# Every round's array and chain job, until the queue is empty and the plan says finished.
until=$((SECONDS + 900))
until [[ -z $(squeue -h 2>/dev/null) ]] &&
    "$BIN" plan "$WORK/tuned.toml" --results "$WORK/cluster" | grep -q "(finished)"; do
    ((SECONDS < until)) || fail "the tuned sweep did not finish on Slurm in 900 s"
    sleep 1
done
chains=$(ls "$WORK"/cluster/tuned/slurm/logs/heavyball-tuned-next-*.out | wc -l)
cat "$WORK"/cluster/tuned/slurm/logs/heavyball-tuned-next-*.out
((chains == rounds + 1)) || fail "$chains chain jobs ran for $rounds added rounds (expected one per round and a last one)"
same "$WORK/local/tuned" "$WORK/cluster/tuned"
say "PASSED"
