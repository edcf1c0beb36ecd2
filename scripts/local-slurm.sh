#!/usr/bin/env bash
# local-slurm.sh start [--nodes N]|stop|status - a REAL Slurm cluster on localhost for the tests.
#
# N Slurm nodes n1..nN (default 2) on this one machine: one `slurmd -N nI` per node, each with its
# own port (17001+), spool directory and pid file (`%n` in slurm.conf), all NodeAddr=127.0.0.1, so a
# multi-node job (srun one task per node, torchrun c10d rendezvous) runs for real
# (../shared/reference/slurm_local/README.md, "Two Slurm nodes on one machine"). Every node declares
# the machine's CPUs and memory: without cgroups nothing is enforced, and a one-node job may ask
# for all of them. munged + slurmctld + one slurmd per node from Debian's packages (munge slurmctld slurmd slurm-client), started
# by hand (no systemd, no cgroups). Must run as root. Idempotent: `start` skips what is already
# installed, configured or running; `stop` cancels every job, then stops the daemons by the PID in
# their pid files (TERM, then KILL after 20 s). Written from ../shared/reference/slurm_local/,
# whose README lists the pitfalls handled here:
#   - no systemd: nothing creates /run/munge, so we do, and start munged as the munge user;
#   - DefMemPerCPU is required with CR_Core_Memory, or each job takes the whole node's memory;
#   - batch_sched_delay=0: a job submitted just after another ended starts in ~1 s, not ~3 s;
#   - kill_invalid_depend: an afterok dependent of a failed job is CANCELLED, not PENDING for ever;
#   - killed daemons linger as zombies until PID 1 reaps them: state Z counts as dead;
#   - slurmctld -c keeps counting job ids: a fresh start wipes StateSaveLocation (SLURM_FRESH=1).
# Knobs: SLURM_FRESH=0 keeps saved state across restarts; SLURM_WAIT_S (default 60) bounds the
# wait for the nodes to become idle; SLURM_NODES is --nodes' default (2). No accounting (sacct): job state comes from scontrol/squeue.
set -euo pipefail
SLURM_FRESH=${SLURM_FRESH:-1}
SLURM_WAIT_S=${SLURM_WAIT_S:-60}
NODES=${SLURM_NODES:-2}
T0=$(date +%s%N)
log() { local ms=$(( ($(date +%s%N) - T0) / 1000000 )); printf '[local-slurm %d.%03ds] %s\n' $((ms/1000)) $((ms%1000)) "$*"; }
die() { log "ERROR: $*"; exit 1; }

# alive PIDFILE COMM -> 0 if the pid in PIDFILE is a live (non-zombie) process named COMM
alive() {
  local pidfile=$1 comm=$2 pid
  [ -s "$pidfile" ] || return 1
  pid=$(cat "$pidfile" 2>/dev/null) || return 1
  [ -n "$pid" ] && [ -d "/proc/$pid" ] || return 1
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$comm" ] || return 1
  ! grep -q '^State:[[:space:]]*Z' "/proc/$pid/status" 2>/dev/null
}
pkg_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

cancel_all_jobs() {
  alive /run/slurmctld.pid slurmctld && command -v squeue >/dev/null || return 0
  local jobs; jobs=$(squeue -h -o %i 2>/dev/null || true)
  [ -n "$jobs" ] || return 0
  log "cancelling jobs: $(echo $jobs)"
  # shellcheck disable=SC2086
  scancel $jobs 2>/dev/null || true
  for _ in $(seq 1 150); do [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break; sleep 0.2; done
}

stop_pidfile() {  # PIDFILE COMM: TERM, wait up to 20 s, then KILL
  local pidfile=$1 comm=$2 pid
  alive "$pidfile" "$comm" || { rm -f "$pidfile"; return 0; }
  pid=$(cat "$pidfile"); kill -TERM "$pid"
  for _ in $(seq 1 200); do alive "$pidfile" "$comm" || break; sleep 0.1; done
  if alive "$pidfile" "$comm"; then log "$comm still alive after 20 s: KILL"; kill -KILL "$pid"; sleep 0.5; fi
  rm -f "$pidfile"; log "$comm (pid $pid) stopped"
}

install_packages() {
  local missing=() p own_policy=0
  for p in munge slurmctld slurmd slurm-client; do pkg_installed "$p" || missing+=("$p"); done
  [ ${#missing[@]} -gt 0 ] || { log "packages already installed"; return 0; }
  log "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # without systemd, postinst would start the daemons through invoke-rc.d before slurm.conf exists
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; own_policy=1
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/tmp/local-slurm.apt.log 2>&1 \
    || { tail -30 /tmp/local-slurm.apt.log; [ $own_policy = 1 ] && rm -f /usr/sbin/policy-rc.d; die "apt-get install failed"; }
  [ $own_policy = 1 ] && rm -f /usr/sbin/policy-rc.d
  log "installed"
}

start_munge() {
  if [ ! -s /etc/munge/munge.key ]; then
    mungekey --create --keyfile=/etc/munge/munge.key --force 2>/dev/null \
      || dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
  fi
  chown munge:munge /etc/munge /etc/munge/munge.key
  chmod 700 /etc/munge; chmod 400 /etc/munge/munge.key
  install -d -o munge -g munge -m 755 /run/munge     # systemd's RuntimeDirectory= normally does this
  install -d -o munge -g munge -m 700 /var/log/munge
  install -d -o munge -g munge -m 711 /var/lib/munge
  if ! alive /run/munge/munged.pid munged; then
    rm -f /run/munge/munged.pid
    runuser -u munge -- /usr/sbin/munged
    log "munged started (pid $(cat /run/munge/munged.pid))"
  fi
  munge -n | unmunge >/dev/null || die "munge round trip failed"
}

node_names() { local i; for i in $(seq 1 "$NODES"); do echo "n$i"; done; }

render_conf() {  # HOST -> slurm.conf on stdout, node lines from what slurmd detects
  local host=$1 hw cpus mem topo i
  hw=$(slurmd -C | head -1)
  cpus=$(sed -n 's/.*CPUs=\([0-9]*\).*/\1/p' <<<"$hw")
  mem=$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$hw")
  topo=$(grep -o 'Boards=[0-9]* SocketsPerBoard=[0-9]* CoresPerSocket=[0-9]* ThreadsPerCore=[0-9]*' <<<"$hw" || true)
  cat <<EOF
# generated by llmplan scripts/local-slurm.sh
ClusterName=llmplanci
SlurmctldHost=$host
SlurmUser=slurm
AuthType=auth/munge
CryptoType=crypto/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
ReturnToService=2
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd-%n.pid
SlurmctldPort=6817
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd-%n
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0
DependencyParameters=kill_invalid_depend
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1024
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=/var/log/slurm/jobcomp.log
MinJobAge=3600
KillWait=60
SlurmctldDebug=info
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdDebug=info
SlurmdLogFile=/var/log/slurm/slurmd-%n.log
EOF
  for i in $(seq 1 "$NODES"); do
    echo "NodeName=n$i NodeHostname=$host NodeAddr=127.0.0.1 Port=$((17000 + i)) CPUs=$cpus $topo RealMemory=$(( mem * 95 / 100 )) State=UNKNOWN"
  done
  echo "PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP"
}

start_daemon() {  # NAME [NODE]: start slurmctld, or the slurmd of NODE, unless running
  local d=$1 node=${2:-} pidfile=/run/$1.pid logfile=/var/log/slurm/$1.log
  [ -z "$node" ] || { pidfile=/run/$d-$node.pid; logfile=/var/log/slurm/$d-$node.log; }
  alive "$pidfile" "$d" && return 0
  rm -f "$pidfile"
  if [ "$d" = slurmctld ] && [ "$SLURM_FRESH" = 1 ]; then
    find /var/spool/slurmctld -mindepth 1 -delete   # also resets the job-id counter
  fi
  if [ -n "$node" ]; then
    install -d -o root -g root -m 755 "/var/spool/slurmd-$node"
    "/usr/sbin/$d" -N "$node"
  else
    "/usr/sbin/$d"
  fi
  for _ in $(seq 1 100); do alive "$pidfile" "$d" && break; sleep 0.1; done
  alive "$pidfile" "$d" || { tail -20 "$logfile"; die "$d ${node:+(node $node) }did not start"; }
  log "$d ${node:+$node }started (pid $(cat "$pidfile"))"
}

stop_slurmds() {  # every slurmd this script may have started (any node count; also the old one-node pid file)
  local f
  for f in /run/slurmd-*.pid /run/slurmd.pid; do [ -e "$f" ] && stop_pidfile "$f" slurmd; done
  return 0
}

do_start() {
  [ "$(id -u)" = 0 ] || die "must run as root"
  install_packages
  local host conf; host=$(hostname -s)
  [ -n "$host" ] || die "empty hostname"
  getent hosts "$host" >/dev/null || echo "127.0.0.1 $host" >> /etc/hosts
  start_munge
  conf=$(render_conf "$host")
  install -d -o slurm -g slurm -m 755 /var/spool/slurmctld /var/log/slurm
  if [ ! -f /etc/slurm/slurm.conf ] || [ "$(cat /etc/slurm/slurm.conf)" != "$conf" ]; then
    # running daemons with an outdated slurm.conf are restarted (jobs cancelled first)
    cancel_all_jobs; stop_slurmds; stop_pidfile /run/slurmctld.pid slurmctld
    printf '%s\n' "$conf" > /etc/slurm/slurm.conf; chmod 644 /etc/slurm/slurm.conf
    log "wrote /etc/slurm/slurm.conf"
  fi
  start_daemon slurmctld
  local node deadline=$(( $(date +%s) + SLURM_WAIT_S )) state=
  for node in $(node_names); do start_daemon slurmd "$node"; done
  for node in $(node_names); do
    while :; do
      state=$(sinfo -h -N -n "$node" -o %T 2>/dev/null | head -1 || true)
      case "$state" in
        idle|mixed|allocated) break ;;
        down*|drain*|fail*) scontrol update nodename="$node" state=resume 2>/dev/null || true ;;
      esac
      [ "$(date +%s)" -lt "$deadline" ] || die "node $node not idle after ${SLURM_WAIT_S}s (state '$state')"
      sleep 0.2
    done
    log "node $node is $state"
  done
}

do_stop() {
  cancel_all_jobs
  stop_slurmds
  stop_pidfile /run/slurmctld.pid slurmctld
  stop_pidfile /run/munge/munged.pid munged
}

do_status() {  # running with the requested node count (default 2), every node up
  local node
  alive /run/slurmctld.pid slurmctld && alive /run/munge/munged.pid munged || return 1
  [ "$(sinfo -h -N -o %N 2>/dev/null | sort -u | wc -l)" = "$NODES" ] || return 1
  for node in $(node_names); do
    alive "/run/slurmd-$node.pid" slurmd || return 1
    case "$(sinfo -h -N -n "$node" -o %T 2>/dev/null | head -1)" in
      ''|down*|drain*|fail*|unk*|*'*') return 1 ;;  # '*' suffix: not responding
    esac
  done
}

cmd=${1:-}; shift || true
while [ $# -gt 0 ]; do
  case "$1" in
    --nodes) NODES=${2:-}; shift 2 || shift ;;
    --nodes=*) NODES=${1#--nodes=}; shift ;;
    *) echo "unknown option $1; usage: $0 start|status [--nodes N] | stop" >&2; exit 2 ;;
  esac
done
[[ "$NODES" =~ ^[1-9][0-9]?$ ]] || { echo "--nodes: '$NODES' must be a number from 1 to 99" >&2; exit 2; }

case "$cmd" in
  start) do_start ;;
  stop) do_stop ;;
  status) if do_status; then echo running; else echo stopped; exit 1; fi ;;
  *) echo "usage: $0 start|status [--nodes N] | stop" >&2; exit 2 ;;
esac
