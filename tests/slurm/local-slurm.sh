#!/usr/bin/env bash
# A private single-node Slurm cluster for the cluster test, from Debian's packages:
# munged, slurmctld and slurmd run as root daemons on 127.0.0.1 with every file under $BASE.
#
#   tests/slurm/local-slurm.sh start    # install if needed, configure, start, wait for the node
#   tests/slurm/local-slurm.sh stop     # cancel our jobs, stop our daemons (by pid file only)
#
# Afterwards clients need SLURM_CONF=$BASE/etc/slurm.conf (start prints it; $BASE/env sets it).
set -euo pipefail

BASE=${HEAVYBALL_SLURM_DIR:-${TMPDIR:-/tmp}/heavyball-slurm}
CONF=$BASE/etc/slurm.conf
MUNGE=$BASE/munge
say() { printf '[local-slurm] %s\n' "$*" >&2; }
fail() { say "error: $*"; exit 1; }

# pid_of FILE NAME: the pid in FILE if it is a live process called NAME.
pid_of() {
    local pid
    [[ -s $1 ]] || return 1
    pid=$(tr -dc '0-9' <"$1")
    [[ -n $pid && $(cat "/proc/$pid/comm" 2>/dev/null) == "$2"* ]] || return 1
    [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) != Z ]] || return 1
    echo "$pid"
}

# retry SECONDS COMMAND...: run COMMAND every half second until it succeeds.
retry() {
    local until=$((SECONDS + $1)); shift
    until "$@" >/dev/null 2>&1; do
        ((SECONDS < until)) || return 1
        sleep 0.5
    done
}

start() {
    [[ $(id -u) -eq 0 ]] || fail "needs root (slurmd runs jobs as their owner)"
    local missing=()
    for pkg in slurmctld slurmd slurm-client munge; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || missing+=("$pkg")
    done
    if ((${#missing[@]})); then
        say "installing ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
    mkdir -p "$BASE"/{etc,run,log,state/ctld,state/d} "$MUNGE"
    chmod 755 "$BASE" "$BASE/etc" "$MUNGE"
    chmod 700 "$BASE/state/ctld" "$BASE/state/d"

    local node cpus mem
    node=$(hostname -s 2>/dev/null || echo localhost)
    cpus=$(nproc)
    mem=$(($(awk '/^MemTotal:/ {print $2}' /proc/meminfo) / 1024 * 9 / 10))
    cat >"$CONF" <<CONF
ClusterName=heavyball-test
SlurmctldHost=$node(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$MUNGE/munge.socket.2
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=$BASE/state/ctld
SlurmdSpoolDir=$BASE/state/d
SlurmctldPidFile=$BASE/run/slurmctld.pid
SlurmdPidFile=$BASE/run/slurmd.pid
SlurmctldLogFile=$BASE/log/slurmctld.log
SlurmdLogFile=$BASE/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MailProg=/bin/true
MpiDefault=none
ReturnToService=2
MinJobAge=30
KillWait=5
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP
CONF
    chmod 644 "$CONF"
    echo "export SLURM_CONF=$CONF" >"$BASE/env"
    export SLURM_CONF=$CONF

    # munged refuses a key owned by another user, so the cluster has a key of its own.
    [[ -s $MUNGE/munge.key ]] || dd if=/dev/urandom of="$MUNGE/munge.key" bs=1024 count=1 status=none
    chmod 600 "$MUNGE/munge.key"
    if ! pid_of "$MUNGE/munged.pid" munged >/dev/null; then
        munged --socket="$MUNGE/munge.socket.2" --key-file="$MUNGE/munge.key" \
            --pid-file="$MUNGE/munged.pid" --log-file="$MUNGE/munged.log" --seed-file="$MUNGE/munged.seed"
    fi
    retry 10 bash -c "munge -n -S '$MUNGE/munge.socket.2' | unmunge -S '$MUNGE/munge.socket.2'" ||
        fail "munged does not answer"
    pid_of "$BASE/run/slurmctld.pid" slurmctld >/dev/null || slurmctld -f "$CONF"
    retry 30 scontrol ping || { tail -n 20 "$BASE/log/slurmctld.log" >&2; fail "slurmctld does not answer"; }
    pid_of "$BASE/run/slurmd.pid" slurmd >/dev/null || slurmd -f "$CONF" -N "$node"
    node_up() { [[ $(sinfo -h -n "$node" -o '%T') =~ ^(idle|mixed|allocated) ]]; }
    retry 60 node_up || { tail -n 20 "$BASE/log/slurmd.log" >&2; fail "node $node did not come up"; }
    say "ready: node $node with $cpus CPUs; export SLURM_CONF=$CONF"
}

stop() {
    export SLURM_CONF=$CONF
    if [[ -f $CONF ]] && pid_of "$BASE/run/slurmctld.pid" slurmctld >/dev/null; then
        local jobs
        jobs=$(squeue -h -o '%A' 2>/dev/null | sort -u | tr '\n' ' ')
        # shellcheck disable=SC2086
        [[ -z ${jobs// /} ]] || scancel $jobs 2>/dev/null || true
        retry 10 test -z "$(squeue -h -o '%A' 2>/dev/null)" || true
    fi
    local pid
    for entry in "$BASE/run/slurmd.pid slurmd" "$BASE/run/slurmctld.pid slurmctld" "$MUNGE/munged.pid munged"; do
        set -- $entry
        pid=$(pid_of "$1" "$2") || continue
        kill -TERM "$pid" 2>/dev/null || true
        retry 20 bash -c "! kill -0 $pid" || kill -KILL "$pid" 2>/dev/null || true
        rm -f "$1"
    done
    say "stopped"
}

case ${1:-} in
    start) start ;;
    stop) stop ;;
    *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
