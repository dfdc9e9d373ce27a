#!/usr/bin/env bash
# Start a private single-node SLURM cluster on this machine (for CI and the SLURM test).
#
#   tools/ci/start_slurm.sh DIR     install slurm-wlm + munge if missing (Debian, apt-get),
#                                     write DIR/slurm.conf and a munge key, start munged,
#                                     slurmctld and slurmd, wait until the node is idle
#   source DIR/env                    then sbatch/squeue/snakemake --executor slurm use it
#   tools/ci/stop_slurm.sh DIR      stop exactly the daemons started here
#   tools/ci/start_slurm.sh --install-only    only install the packages (CI set-up)
#
# Everything (state, spool, logs, munge socket and key) lives in DIR; the machine's own
# munge/slurm configuration is neither read nor changed. No accounting database: job
# status comes from squeue (MinJobAge keeps finished jobs visible for 10 minutes).
# Ports: the first free pair from 6817 (or DNM_SLURM_PORT). Needs root for apt-get only.
set -euo pipefail

dir="${1:?usage: start_slurm.sh DIR | --install-only}"
install_only=false
if [ "$dir" = --install-only ]; then
    install_only=true
    dir="$(mktemp -d)"
fi
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
log() { echo "start_slurm: $*" >&2; }

install_packages() {
    local missing=()
    command -v slurmctld >/dev/null 2>&1 || missing+=(slurmctld)
    command -v slurmd >/dev/null 2>&1 || missing+=(slurmd)
    command -v sbatch >/dev/null 2>&1 || missing+=(slurm-client)
    command -v munged >/dev/null 2>&1 || missing+=(munge)
    [ ${#missing[@]} -eq 0 ] && return 0
    if ! command -v apt-get >/dev/null 2>&1; then
        log "slurm-wlm/munge missing and no apt-get on this machine"
        return 1
    fi
    local sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo -n)
    log "installing slurm-wlm munge (apt-get) ..."
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -qq >"$dir/apt.log" 2>&1 || true
    "${sudo[@]}" apt-get install -y -qq --no-install-recommends slurm-wlm munge \
        >>"$dir/apt.log" 2>&1 || {
        log "apt-get install failed, see $dir/apt.log"
        tail -n 20 "$dir/apt.log" >&2
        return 1
    }
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

install_packages
if $install_only; then
    rm -rf "$dir"
    exit 0
fi

if [ -f "$dir/slurmctld.pid" ] && kill -0 "$(cat "$dir/slurmctld.pid")" 2>/dev/null; then
    log "already running in $dir"
    exit 0
fi

host="$(hostname -s)"
cpus="$(nproc)"
# RealMemory a little under MemTotal: slurmd drains a node that has less than configured
mem_mb="$(awk '/^MemTotal:/ {printf "%d", $2 / 1024 * 0.95}' /proc/meminfo)"
port="${DNM_SLURM_PORT:-6817}"
while ! { port_free "$port" && port_free "$((port + 1))"; }; do
    port=$((port + 2))
done

mkdir -p "$dir/state" "$dir/spool" "$dir/log" "$dir/munge"
chmod 700 "$dir/munge"
if [ ! -f "$dir/munge/munge.key" ]; then
    if command -v mungekey >/dev/null 2>&1; then
        mungekey --create --keyfile="$dir/munge/munge.key" >/dev/null
    else
        dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
    fi
fi
chmod 400 "$dir/munge/munge.key"
socket="$dir/munge/munge.socket"

cat >"$dir/slurm.conf" <<EOF
# Single-node SLURM for the dnmarkets SLURM test (written by tools/ci/start_slurm.sh)
ClusterName=dnmci
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$socket
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/log/slurmctld.pidfile
SlurmdPidFile=$dir/log/slurmd.pidfile
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
# finished jobs stay visible to squeue for 10 minutes (the executor's status source)
MinJobAge=600
ReturnToService=2
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2
MessageTimeout=30
SlurmdTimeout=60
InactiveLimit=0
KillWait=10
# Jobs share cores (up to 4 per core, DNM_SLURM_OVERSUBSCRIBE): the test's jobs are
# short and spend much of their time starting Python; memory stays a hard limit.
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=main Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:${DNM_SLURM_OVERSUBSCRIBE:-4}
EOF

# Client wrappers that name this configuration: the SLURM executor's job step strips
# SLURM_* variables (SLURM_CONF among them) before its inner srun, so wrappers on PATH
# (which jobs inherit) carry it there; /etc/slurm is never written.
mkdir -p "$dir/bin"
for tool in sbatch srun squeue scancel sinfo scontrol sacct; do
    real="$(command -v "$tool" || true)"
    [ -n "$real" ] || continue
    case "$real" in "$dir/bin/"*) continue ;; esac
    printf '#!/bin/sh\nSLURM_CONF=%s exec %s "$@"\n' "$dir/slurm.conf" "$real" >"$dir/bin/$tool"
    chmod +x "$dir/bin/$tool"
done
cat >"$dir/env" <<EOF
export SLURM_CONF=$dir/slurm.conf
export PATH=$dir/bin:\$PATH
EOF
export SLURM_CONF="$dir/slurm.conf"

start() { # name, command...: start a daemon in the foreground mode, record its pid
    local name="$1"
    shift
    setsid "$@" >"$dir/log/$name.out" 2>&1 </dev/null &
    echo $! >"$dir/$name.pid"
}

start munged munged --foreground --force --socket="$socket" --key-file="$dir/munge/munge.key" \
    --pid-file="$dir/log/munged.pidfile" --log-file="$dir/log/munged.log" \
    --seed-file="$dir/munge/munged.seed"
for _ in $(seq 50); do
    [ -S "$socket" ] && break
    sleep 0.2
done
[ -S "$socket" ] || {
    log "munged did not start"
    cat "$dir/log/munged.out" "$dir/log/munged.log" >&2 2>/dev/null || true
    exit 1
}
start slurmctld slurmctld -D -i -f "$dir/slurm.conf"
start slurmd slurmd -D -N "$host" -f "$dir/slurm.conf"

for _ in $(seq 120); do
    state="$(sinfo -h -N -o '%t' 2>/dev/null | head -n1 || true)"
    case "$state" in
        idle | mix | alloc) break ;;
    esac
    sleep 0.5
done
if [ "${state:-}" != idle ] && [ "${state:-}" != mix ] && [ "${state:-}" != alloc ]; then
    log "node not idle (state: '${state:-none}'); logs in $dir/log"
    tail -n 20 "$dir/log/slurmctld.log" "$dir/log/slurmd.log" >&2 2>/dev/null || true
    exit 1
fi
log "SLURM up: node $host ($cpus CPUs, ${mem_mb} MB), port $port, SLURM_CONF=$SLURM_CONF"
