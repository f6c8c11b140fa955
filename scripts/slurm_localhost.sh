#!/usr/bin/env bash
# A real single-node SLURM on this machine (Debian slurm-wlm + munge), for running the
# workflow with the `slurm` Snakemake profile and for tests/test_slurm.py. As root:
#
#     scripts/slurm_localhost.sh          # install if missing, configure, start (idempotent)
#     scripts/slurm_localhost.sh stop     # stop slurmd, slurmctld and munged
#     scripts/slurm_localhost.sh status   # sinfo
#
# One node (this host, all its CPUs, most of its memory), one partition `debug`, no
# accounting (so Snakemake must poll with `squeue`, see workflow/profiles/slurm), no cgroups
# (proctrack/linuxproc, task/none). The config goes to /etc/slurm/slurm.conf because the
# jobs' own `srun` reads it there, whatever $SLURM_CONF says.
set -euo pipefail

CONF=/etc/slurm/slurm.conf
PARTITION=debug
LOGDIR=/var/log/slurm
NODE=$(hostname -s)

die() { echo "slurm_localhost: $*" >&2; exit 1; }

running() {  # running /run/.../NAME.pid: the process it names is alive and is NAME
  [ -s "$1" ] && [ "$(cat "/proc/$(cat "$1")/comm" 2>/dev/null)" = "$(basename "$1" .pid)" ]
}

install_packages() {
  command -v slurmctld >/dev/null && command -v munged >/dev/null && return
  echo "installing slurm-wlm and munge (apt)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    slurm-wlm munge >/dev/null
}

start_munge() {
  if [ ! -s /etc/munge/munge.key ]; then
    mkdir -p /etc/munge
    mungekey --create --keyfile=/etc/munge/munge.key
  fi
  chown -R munge:munge /etc/munge && chmod 700 /etc/munge && chmod 400 /etc/munge/munge.key
  install -d -o munge -g munge -m 755 /run/munge
  install -d -o munge -g munge -m 700 /var/lib/munge /var/log/munge
  running /run/munge/munged.pid || runuser -u munge -- munged
  munge -n | unmunge >/dev/null || die "munge does not work (see /var/log/munge/munged.log)"
}

write_conf() {
  local mem_mb
  mem_mb=$(awk '/^MemTotal/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)
  mkdir -p /etc/slurm "$LOGDIR" /var/spool/slurmctld /var/spool/slurmd
  cat > "$CONF.new" <<EOF
# Written by scripts/slurm_localhost.sh: one node, one partition, no accounting, no cgroups.
ClusterName=localhost
SlurmctldHost=$NODE
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=$LOGDIR/slurmctld.log
SlurmdLogFile=$LOGDIR/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
ReturnToService=2
# Finished jobs stay visible to squeue for 5 minutes: Snakemake polls with squeue.
MinJobAge=300
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=$mem_mb State=UNKNOWN
PartitionName=$PARTITION Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
  if cmp -s "$CONF.new" "$CONF"; then
    rm "$CONF.new"
  else
    mv "$CONF.new" "$CONF"
    stop_daemons /run/slurmd.pid /run/slurmctld.pid  # restarted below with the new config
  fi
}

wait_for_node() {
  local state=""
  for _ in $(seq 30); do
    state=$(sinfo -h -n "$NODE" -o %t 2>/dev/null || true)
    case "$state" in
      idle*|mix*|alloc*) return ;;
      down*|drain*) scontrol update nodename="$NODE" state=resume 2>/dev/null || true ;;
    esac
    sleep 1
  done
  die "node $NODE not ready (state '${state:-none}'; see $LOGDIR/slurmctld.log, $LOGDIR/slurmd.log)"
}

start() {
  [ "$(id -u)" = 0 ] || die "run as root"
  install_packages
  start_munge
  write_conf
  running /run/slurmctld.pid || slurmctld
  running /run/slurmd.pid || slurmd
  wait_for_node
  sinfo
}

stop_daemons() {  # stop_daemons PIDFILE...: SIGTERM (each daemon's clean shutdown), then wait
  local pidfile
  for pidfile in "$@"; do
    running "$pidfile" || continue
    kill "$(cat "$pidfile")"
    for _ in $(seq 20); do running "$pidfile" || break; sleep 0.5; done
    if running "$pidfile"; then die "$pidfile: still running after SIGTERM"; fi
  done
}

case "${1:-start}" in
  start) start ;;
  stop) stop_daemons /run/slurmd.pid /run/slurmctld.pid /run/munge/munged.pid && echo stopped ;;
  status) sinfo ;;
  *) die "usage: $0 [start|stop|status]" ;;
esac
