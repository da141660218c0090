#!/usr/bin/env bash
# ci/local-slurm.sh - a throw-away, single-node Slurm cluster on localhost, on
# which sweep's Slurm support (`sweep run --shard`, `sweep slurm`) is tested.
# Adapted from the team's reference script (shared/reference/local-slurm.sh).
#
# Debian 12 (bookworm), Slurm 22.05 from Debian's packages, run as root, no
# systemd and no cgroups needed.  Everything it writes lives under one folder
# ($LOCAL_SLURM_DIR, default /tmp/sweep-slurm) - config, spool, logs, the
# MUNGE key and socket, PID files and its lock - except what `install` does
# (apt-get; its log also goes under the folder).  The daemons are started in
# their own sessions and stopped by the PIDs recorded in $LOCAL_SLURM_DIR/pids.
#
#   local-slurm.sh install   install the Debian packages if missing (apt-get
#                            update + install: ~18 s on a fresh machine)
#   local-slurm.sh up        install if needed, write slurm.conf, start munged,
#                            (MariaDB + slurmdbd if LOCAL_SLURM_ACCOUNTING=1),
#                            slurmctld and slurmd, wait until the node is idle
#                            (~1 s once installed).  A no-op if the cluster is
#                            already up and healthy with the same settings.
#   local-slurm.sh down      cancel jobs, stop the daemons (by recorded PID),
#                            kill leftover job steps of this cluster. Idempotent.
#   local-slurm.sh status    print state; exit 0 if up and healthy, 3 otherwise
#   local-slurm.sh env       print "export SLURM_CONF=..." (for eval)
#   local-slurm.sh logs      print the tails of the daemon logs
#   local-slurm.sh leftovers print the PIDs of processes of this cluster still
#                            alive (daemons or job steps); exit 1 if any
#
# Typical use (ci/slurm-smoke.sh does this, then checks the cluster):
#   export LOCAL_SLURM_DIR=/tmp/sweep-slurm
#   ci/local-slurm.sh up && eval "$(ci/local-slurm.sh env)"
#   ...sbatch/squeue/scontrol, cargo test...
#   ci/local-slurm.sh down
#
# Settings (environment):
#   LOCAL_SLURM_DIR      state/log/config folder, absolute [/tmp/sweep-slurm]
#   LOCAL_SLURM_AUTH     munge | none                     [munge]
#   LOCAL_SLURM_ACCOUNTING  1: also run MariaDB + slurmdbd so that sacct works
#                        (adds mariadb-server and slurmdbd: ~12 s more apt) [0]
#   LOCAL_SLURM_PORT     slurmctld port; slurmd +1, slurmdbd +2 [6817, or next free]
#   LOCAL_SLURM_DB_PORT  MariaDB TCP port on 127.0.0.1    [3307, or next free]
#   LOCAL_SLURM_LINK_ETC 1: symlink /etc/slurm/slurm.conf to ours so that
#                        plain sbatch/squeue work without SLURM_CONF.  Off by
#                        default so that nothing is written outside the
#                        folder: export SLURM_CONF instead (see `env`)  [0]
#   LOCAL_SLURM_TIMEOUT  seconds to wait for the node to become idle  [60]
#   LOCAL_SLURM_MIN_JOB_AGE  seconds finished jobs stay visible to squeue -t all
#                        and scontrol show job [300]. sbatch --wait sleeps 2 s,
#                        then 8 s, then 32 s between polls (the sleep grows only
#                        while it is < MinJobAge/2): with 300 an 11 s job returns
#                        after 42 s; with 4 it polls every 2 s but finished jobs
#                        vanish from squeue/scontrol after ~15 s. Tests should
#                        rather poll `squeue -h -j ID` themselves.
#   LOCAL_SLURM_SCHED_PARAMS  SchedulerParameters   [batch_sched_delay=0]
#   LOCAL_SLURM_NO_INSTALL=1  never run apt-get (fail if packages missing)
#
# Pitfalls (seen with Slurm 22.05 on this machine; ci/slurm-smoke.sh checks
# the ones marked *):
#  * Without slurmdbd, `sacct` only says "Slurm accounting storage is
#    disabled".  A task's end state is seen with `scontrol show job -o ID_K`
#    (JobState=FAILED ExitCode=3:0) or `squeue -h -t all -j ID -o '%i %T'`
#    while the controller still holds the job (MinJobAge after it ended), and
#    for good in $LOCAL_SLURM_DIR/log/jobcomp.txt (jobcomp/filetxt: one line
#    per job or array task with JobState=, ExitCode=, ArrayJobId=, ArrayTaskId=).
#  * A task whose script exits non-zero ends FAILED with Reason=NonZeroExitCode
#    and ExitCode=<code>:0; `exec` the real command so its code is the task's.
#  * The folder of --output/--error must exist: Slurm does not create it, and
#    the job ends FAILED (Reason=JobLaunchFailure, ExitCode=0:53) without a log.
#  * `sbatch --array=1,3 script` overrides the script's #SBATCH --array; the
#    tasks then see SLURM_ARRAY_TASK_COUNT=2 (and _MIN=1, _MAX=3), so a shard
#    count must be written into the script, not read from the environment.
#  * --dependency=afterany:ID waits for every task of array ID, failed or not;
#    a dependency on a job id the controller no longer knows (purged after
#    MinJobAge, or never existed) is taken as satisfied: the job runs at once.
#  - Several options on one `#SBATCH` line are all read
#    (`#SBATCH --time=7 --comment=x`); #SBATCH lines after the first command
#    of the script are ignored.
#  - `sbatch --wait` polls slowly (above); poll `squeue -h -j ID` every 0.2 s
#    instead: it prints nothing once no task is pending or running.
#  - Jobs run as root here and inherit the submitting shell's environment
#    (sbatch's default --export=ALL), SLURM_CONF included.
#  - CR_Core hands out whole cores; with hyper-threads the script falls back
#    to CR_CPU (see write_conf).  This machine has 2 CPUs: 2 tasks at a time.
set -euo pipefail

DIR=${LOCAL_SLURM_DIR:-/tmp/sweep-slurm}
AUTH=${LOCAL_SLURM_AUTH:-munge}
ACCT=${LOCAL_SLURM_ACCOUNTING:-0}
LINK_ETC=${LOCAL_SLURM_LINK_ETC:-0}
TIMEOUT=${LOCAL_SLURM_TIMEOUT:-60}
CONF=$DIR/etc/slurm.conf
PIDS=$DIR/pids
LOGS=$DIR/log
MUNGE_DIR=$DIR/munge            # 0755, holds the socket (munged demands o+x)
MUNGE_PRIV=$DIR/munge/priv      # 0700, key/log/seed/pid
MUNGE_SOCK=$MUNGE_DIR/munge.socket
ETC_CONF=/etc/slurm/slurm.conf
PACKAGES=(slurmctld slurmd slurm-client munge)
[ "$ACCT" = 1 ] && PACKAGES+=(slurmdbd mariadb-server)
DAEMONS="slurmd slurmctld slurmdbd mariadbd munged"   # stop order

log() { printf '[local-slurm %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}'; }

[ "$(id -u)" = 0 ] || die "must run as root"
case "$DIR" in /?*) ;; *) die "LOCAL_SLURM_DIR must be an absolute path other than /" ;; esac

# ---------------------------------------------------------------- processes
# alive PID: true if PID exists and is not a zombie (a killed daemon whose
# parent is PID 1 stays a zombie for a moment; kill -0 would still succeed).
# statf PID N: field N of /proc/PID/stat (the comm field may hold spaces).
statf() {
  local line fields
  { read -r line < "/proc/$1/stat"; } 2>/dev/null || return 0
  line=${line##*) }
  read -r -a fields <<<"$line"
  echo "${fields[$(($2 - 3))]:-}"
}
alive() {
  local st
  [ -n "${1:-}" ] && [ -r "/proc/$1/stat" ] || return 1
  st=$(statf "$1" 3)
  [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}
cmdline() { { tr '\0' ' ' < "/proc/$1/cmdline"; } 2>/dev/null || true; }
# ours NAME: the recorded PID of daemon NAME if it is alive and still is the
# process we started (its command line names it and our folder, or - for
# slurmdbd, which takes no config path - its environment has our SLURM_CONF).
ours() {
  local pid f=$PIDS/$1.pid
  [ -s "$f" ] || return 1
  pid=$(cat "$f")
  alive "$pid" || return 1
  case "$(cmdline "$pid")" in
    *"$1"*"$DIR"*) echo "$pid" ;;
    *"$1"*) grep -qzxF "SLURM_CONF=$CONF" "/proc/$pid/environ" 2>/dev/null && echo "$pid" ;;
    *) return 1 ;;
  esac
}
# stop_pids PID...: SIGTERM, wait up to $STOP_WAIT (10) s, then SIGKILL.
stop_pids() {
  local p left
  [ $# -gt 0 ] || return 0
  kill -TERM "$@" 2>/dev/null || true
  for _ in $(seq 1 $(( ${STOP_WAIT:-10} * 5 ))); do
    left=0
    for p in "$@"; do alive "$p" && left=1; done
    [ $left = 0 ] && return 0
    sleep 0.2
  done
  for p in "$@"; do alive "$p" && { log "SIGKILL $p ($(cmdline "$p"))"; kill -KILL "$p" 2>/dev/null || true; }; done
  sleep 0.2
}
# session_members SID: PIDs (alive) whose session id is SID.
session_members() {
  local sid=$1 p s
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    s=$(statf "$p" 6)
    [ "$s" = "$sid" ] && alive "$p" && echo "$p"
  done
  return 0
}
# ancestors: this script's PID and those of all its parents (never killed).
ancestors() {
  local p=$$
  while [ -n "$p" ] && [ "$p" -gt 1 ]; do echo "$p"; p=$(statf "$p" 4); done
}
# strays: slurmstepd processes of THIS cluster (they keep our slurmd.log open)
# and every process in their sessions (the job scripts), plus job processes
# (environment has SLURM_JOB_ID and SLURMD_NODENAME, which only slurmd sets,
# and SLURM_CONF=our conf) left behind by a slurmstepd that is gone.
# A shell that merely exported SLURM_CONF is not a job process and is spared;
# so are this script and its ancestors.
strays() {
  local p fd sid skip
  skip=" $(ancestors | tr '\n' ' ') "
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    [[ "$skip" == *" $p "* ]] && continue
    alive "$p" || continue
    local comm=
    { read -r comm < "/proc/$p/comm"; } 2>/dev/null || continue
    if [ "$comm" = slurmstepd ]; then
      for fd in /proc/$p/fd/*; do
        if [ "$(readlink "$fd" 2>/dev/null)" = "$LOGS/slurmd.log" ]; then
          sid=$(statf "$p" 6)
          echo "$p"; [ -n "$sid" ] && session_members "$sid"
          break
        fi
      done
    else
      # grep -z reads the NUL-separated environment; one process per PID
      # for the common case (no match).
      if grep -qzxF "SLURM_CONF=$CONF" "/proc/$p/environ" 2>/dev/null &&
         grep -qz '^SLURM_JOB_ID=' "/proc/$p/environ" 2>/dev/null &&
         grep -qz '^SLURMD_NODENAME=' "/proc/$p/environ" 2>/dev/null; then
        echo "$p"
      fi
    fi
  done | sort -un | while read -r p; do [[ "$skip" == *" $p "* ]] || echo "$p"; done
}

# ---------------------------------------------------------------- install
have_bins() {
  command -v slurmctld >/dev/null && command -v slurmd >/dev/null &&
  command -v sbatch >/dev/null && command -v munged >/dev/null &&
  compgen -G '/usr/lib/*/slurm-wlm/select_cons_tres.so' >/dev/null || return 1
  [ "$ACCT" != 1 ] || { command -v slurmdbd >/dev/null && command -v mariadbd >/dev/null &&
    command -v mariadb-install-db >/dev/null && compgen -G '/usr/lib/*/slurm-wlm/accounting_storage_mysql.so' >/dev/null; }
}
cmd_install() {
  if have_bins; then log "packages already installed"; return 0; fi
  [ "${LOCAL_SLURM_NO_INSTALL:-0}" = 1 ] && die "Slurm packages missing and LOCAL_SLURM_NO_INSTALL=1"
  local t0 created_policy=0
  t0=$(now)
  # Keep the packages' maintainer scripts from starting munge/slurm services
  # (there is no init system to manage them; we run our own daemons).
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; created_policy=1
  fi
  log "apt-get update + install ${PACKAGES[*]}"
  local rc=0
  { DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}"; } \
    > "$DIR/apt.log" 2>&1 || rc=$?
  [ $created_policy = 1 ] && rm -f /usr/sbin/policy-rc.d
  [ $rc = 0 ] || { tail -30 "$DIR/apt.log" >&2; die "apt-get failed (rc=$rc), log: $DIR/apt.log"; }
  have_bins || die "packages installed but binaries missing"
  log "installed in $(since "$t0") s"
}

# ---------------------------------------------------------------- config
port_free() { ! ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }
# ports_free P: P (slurmctld), P+1 (slurmd) and, with accounting, P+2 (slurmdbd)
ports_free() {
  port_free "$1" && port_free $(($1 + 1)) && { [ "$ACCT" != 1 ] || port_free $(($1 + 2)); }
}
pick_ports() {
  local p=${LOCAL_SLURM_PORT:-6817}
  if [ -n "${LOCAL_SLURM_PORT:-}" ]; then
    ports_free "$p" || die "port $p, $((p + 1)) or $((p + 2)) is in use"
  else
    while ! ports_free "$p"; do
      p=$((p + 3)); [ $p -lt 6917 ] || die "no free ports in 6817..6916"
    done
  fi
  CTLD_PORT=$p; SLURMD_PORT=$((p + 1)); DBD_PORT=$((p + 2))
  if [ "$ACCT" = 1 ]; then
    DB_PORT=${LOCAL_SLURM_DB_PORT:-3307}
    while ! port_free "$DB_PORT"; do
      [ -z "${LOCAL_SLURM_DB_PORT:-}" ] || die "MariaDB port $DB_PORT is in use"
      DB_PORT=$((DB_PORT + 1)); [ "$DB_PORT" -lt 3400 ] || die "no free MariaDB port"
    done
  fi
}

write_conf() {
  local node hw cpus sockets cores threads mem realmem select_params auth_lines acct_lines
  node=$(hostname -s 2>/dev/null || hostname)
  hw=$(slurmd -C 2>/dev/null | head -1) || true
  get() { sed -n "s/.*[[:space:]]$1=\([0-9]*\).*/\1/p" <<<"$hw"; }
  cpus=$(get CPUs); sockets=$(get SocketsPerBoard); cores=$(get CoresPerSocket)
  threads=$(get ThreadsPerCore); mem=$(get RealMemory)
  cpus=${cpus:-$(nproc)}; sockets=${sockets:-1}; cores=${cores:-$cpus}; threads=${threads:-1}
  mem=${mem:-$(awk '/MemTotal/{print int($2/1024)}' /proc/meminfo)}
  realmem=$(( mem > 2048 ? mem - 1024 : mem / 2 ))
  # CR_Core hands out whole cores: with hyper-threads a 1-CPU task would take
  # a whole core (2 CPUs).  Fall back to CR_CPU there so tasks still pack.
  select_params=CR_Core
  [ "$threads" -gt 1 ] && select_params=CR_CPU
  if [ "$AUTH" = munge ]; then
    auth_lines="AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$MUNGE_SOCK"
  else
    auth_lines="AuthType=auth/none
CredType=cred/none"
  fi
  if [ "$ACCT" = 1 ]; then
    acct_lines="AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=$DBD_PORT
JobAcctGatherType=jobacct_gather/linux"
    # The connection to slurmdbd does not use AuthInfo's socket: it uses the
    # MUNGE socket named by AccountingStoragePass (else /run/munge/...).
    [ "$AUTH" = munge ] && acct_lines="$acct_lines
AccountingStoragePass=$MUNGE_SOCK"
  else
    acct_lines="AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none"
  fi
  NODE=$node
  cat > "$CONF" <<EOF
# Generated by ci/local-slurm.sh - single-node test cluster, no systemd/cgroups.
ClusterName=sweepci
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
$auth_lines
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$DIR/spool/ctld
SlurmdSpoolDir=$DIR/spool/d
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd.pid
SlurmctldLogFile=$LOGS/slurmctld.log
SlurmdLogFile=$LOGS/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
$acct_lines
JobCompType=jobcomp/filetxt
JobCompLoc=$LOGS/jobcomp.txt
SchedulerType=sched/backfill
SchedulerParameters=${LOCAL_SLURM_SCHED_PARAMS-batch_sched_delay=0}
SelectType=select/cons_tres
SelectTypeParameters=$select_params
MpiDefault=none
SwitchType=switch/none
MailProg=/bin/true
ReturnToService=2
MinJobAge=${LOCAL_SLURM_MIN_JOB_AGE:-300}
KillWait=2
InactiveLimit=0
Waittime=0
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus Boards=1 SocketsPerBoard=$sockets CoresPerSocket=$cores ThreadsPerCore=$threads RealMemory=$realmem State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
}

# slurmdbd.conf must sit beside slurm.conf (slurmdbd has no -f option) and be
# mode 600, owned by SlurmUser.
write_dbd_conf() {
  local auth_lines
  if [ "$AUTH" = munge ]; then
    auth_lines="AuthType=auth/munge
AuthInfo=socket=$MUNGE_SOCK"
  else
    auth_lines="AuthType=auth/none"
  fi
  ( umask 077; cat > "$DIR/etc/slurmdbd.conf" <<EOF
# Generated by local-slurm.sh
$auth_lines
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=$DBD_PORT
SlurmUser=root
DebugLevel=info
LogFile=$LOGS/slurmdbd.log
PidFile=$DIR/run/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=slurm
StoragePass=slurm
StorageLoc=slurm_acct_db
EOF
  )
}

# ---------------------------------------------------------------- daemons
# spawn NAME CMD...: start CMD in a new session (setsid), cwd $DIR, stdin
# /dev/null, output to $LOGS/NAME.out; the PID that execs CMD is recorded.
spawn() {
  local name=$1; shift
  rm -f "$PIDS/$name.pid"
  ( cd "$DIR" && exec setsid bash -c 'echo $$ > "$0"; exec "$@"' "$PIDS/$name.pid" "$@" \
      </dev/null >>"$LOGS/$name.out" 2>&1 9>&- ) &
  for _ in $(seq 1 50); do [ -s "$PIDS/$name.pid" ] && break; sleep 0.05; done
  [ -s "$PIDS/$name.pid" ] || die "$name did not start"
}

start_munge() {
  id munge >/dev/null 2>&1 || die "user munge missing (package munge not installed?)"
  mkdir -p "$MUNGE_PRIV"
  chown munge:munge "$MUNGE_DIR" "$MUNGE_PRIV"; chmod 755 "$MUNGE_DIR"; chmod 700 "$MUNGE_PRIV"
  if [ ! -s "$MUNGE_PRIV/munge.key" ]; then
    dd if=/dev/urandom of="$MUNGE_PRIV/munge.key" bs=1024 count=1 status=none
  fi
  chown munge:munge "$MUNGE_PRIV/munge.key"; chmod 400 "$MUNGE_PRIV/munge.key"
  spawn munged setpriv --reuid=munge --regid=munge --init-groups \
    munged -F --key-file="$MUNGE_PRIV/munge.key" --socket="$MUNGE_SOCK" \
    --pid-file="$MUNGE_PRIV/munged.pid" --log-file="$MUNGE_PRIV/munged.log" \
    --seed-file="$MUNGE_PRIV/munged.seed"
  for _ in $(seq 1 100); do
    if munge -n -S "$MUNGE_SOCK" 2>/dev/null | unmunge -S "$MUNGE_SOCK" >/dev/null 2>&1; then return 0; fi
    ours munged >/dev/null || break
    sleep 0.1
  done
  cat "$LOGS/munged.out" "$MUNGE_PRIV/munged.log" >&2 2>/dev/null || true
  die "munged did not come up"
}

# A fresh MariaDB in $DIR/db, on 127.0.0.1:$DB_PORT and a socket; root logs in
# through the socket, slurmdbd as user slurm over TCP.
start_db() {
  local sock=$DIR/db/run/mysqld.sock
  id mysql >/dev/null 2>&1 || die "user mysql missing (mariadb-server not installed?)"
  rm -rf "$DIR/db"; mkdir -p "$DIR/db/data" "$DIR/db/run"; chown -R mysql:mysql "$DIR/db"
  mariadb-install-db --no-defaults --user=mysql --datadir="$DIR/db/data" \
    --auth-root-authentication-method=socket --skip-test-db > "$LOGS/mariadb-install-db.out" 2>&1 ||
    { tail -20 "$LOGS/mariadb-install-db.out" >&2; die "mariadb-install-db failed"; }
  spawn mariadbd mariadbd --no-defaults --user=mysql --datadir="$DIR/db/data" \
    --socket="$sock" --pid-file="$DIR/db/run/mariadbd.pid" --bind-address=127.0.0.1 \
    --port="$DB_PORT" --skip-name-resolve --log-error="$LOGS/mariadbd.err"
  for _ in $(seq 1 300); do
    mariadb --no-defaults -S "$sock" -e 'select 1' >/dev/null 2>&1 && break
    ours mariadbd >/dev/null || { cat "$LOGS/mariadbd.err" >&2; die "mariadbd exited"; }
    sleep 0.1
  done
  mariadb --no-defaults -S "$sock" -e "
    CREATE USER 'slurm'@'127.0.0.1' IDENTIFIED BY 'slurm';
    CREATE USER 'slurm'@'localhost' IDENTIFIED BY 'slurm';
    GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
    GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';" ||
    { cat "$LOGS/mariadbd.err" >&2; die "MariaDB did not come up"; }
}
start_dbd() {
  write_dbd_conf
  spawn slurmdbd slurmdbd -D
  for _ in $(seq 1 300); do
    ! port_free "$DBD_PORT" && return 0
    ours slurmdbd >/dev/null || break
    sleep 0.1
  done
  cat "$LOGS/slurmdbd.out" >&2 2>/dev/null; tail -20 "$LOGS/slurmdbd.log" >&2 2>/dev/null
  die "slurmdbd did not come up"
}

healthy() {
  ours slurmctld >/dev/null && ours slurmd >/dev/null || return 1
  if grep -q '^AuthType=auth/munge' "$CONF"; then ours munged >/dev/null || return 1; fi
  if grep -q '^AccountingStorageType=accounting_storage/slurmdbd' "$CONF"; then
    ours slurmdbd >/dev/null && ours mariadbd >/dev/null || return 1
  fi
  local st
  st=$(SLURM_CONF=$CONF timeout 5 sinfo -h -N -o %T 2>/dev/null | head -1) || return 1
  case "$st" in idle|mixed|allocated|completing) return 0 ;; *) return 1 ;; esac
}

link_etc() {
  [ "$LINK_ETC" = 1 ] || return 0
  if [ -L "$ETC_CONF" ] || [ ! -e "$ETC_CONF" ]; then
    mkdir -p "$(dirname "$ETC_CONF")"; ln -sfn "$CONF" "$ETC_CONF"
  else
    log "WARNING: $ETC_CONF is a real file; not touching it. Use: export SLURM_CONF=$CONF"
  fi
}
unlink_etc() {
  if [ -L "$ETC_CONF" ] && [ "$(readlink "$ETC_CONF")" = "$CONF" ]; then rm -f "$ETC_CONF"; fi
}

dump_logs() {
  local f
  for f in "$LOGS"/*.out "$LOGS"/mariadbd.err "$LOGS"/slurmdbd.log "$LOGS"/slurmctld.log "$LOGS"/slurmd.log; do
    [ -s "$f" ] && { echo "----- $f (tail)"; tail -n 25 "$f"; }
  done >&2
  return 0
}

cmd_up() {
  local t0 t1 st=
  t0=$(now)
  if [ -f "$CONF" ] && [ "$(cat "$DIR/etc/flavor" 2>/dev/null)" = "auth=$AUTH accounting=$ACCT" ] && healthy; then
    log "already up"; link_etc; return 0
  fi
  cmd_install
  cmd_down quiet
  # If anything below fails, show the logs and stop what was started.
  UP_OK=0
  trap '[ "$UP_OK" = 1 ] || { dump_logs; cmd_down quiet; }' EXIT
  t1=$(now)
  # Fresh state every time: job ids restart at 1, no stale node/job state.
  rm -rf "${DIR:?}/spool" "${DIR:?}/run" "${DIR:?}/log" "${DIR:?}/pids" "${DIR:?}/etc"
  mkdir -p "$DIR/etc" "$DIR/spool/ctld" "$DIR/spool/d" "$DIR/run" "$LOGS" "$PIDS"
  chmod 755 "$DIR"
  pick_ports
  write_conf
  echo "auth=$AUTH accounting=$ACCT" > "$DIR/etc/flavor"
  export SLURM_CONF=$CONF
  [ "$AUTH" = munge ] && start_munge
  if [ "$ACCT" = 1 ]; then start_db; start_dbd; fi
  spawn slurmctld slurmctld -D -i -f "$CONF"
  spawn slurmd slurmd -D -f "$CONF" -N "$NODE"
  log "waiting for node $NODE to be idle (ports $CTLD_PORT/$SLURMD_PORT, auth=$AUTH, accounting=$ACCT)"
  for _ in $(seq 1 $((TIMEOUT * 5))); do
    ours slurmctld >/dev/null || die "slurmctld exited"
    ours slurmd >/dev/null || die "slurmd exited"
    st=$(timeout 5 sinfo -h -N -o %T 2>/dev/null | head -1) || st=
    [ "$st" = idle ] && break
    sleep 0.2
  done
  [ "$st" = idle ] || die "node not idle after ${TIMEOUT}s (state: '${st:-none}')"
  link_etc
  UP_OK=1
  log "up: node $NODE idle; daemons started in $(since "$t1") s (total $(since "$t0") s)"
  log "SLURM_CONF=$CONF"
}

cmd_down() {
  local quiet=${1:-} pids p n ctld d
  ctld=$(ours slurmctld || true); d=$(ours slurmd || true)
  if [ -n "$ctld" ] && [ -n "$d" ] && [ -f "$CONF" ]; then
    # Cancel all jobs first so that slurmd kills their steps cleanly.
    local jobs
    jobs=$(SLURM_CONF=$CONF timeout 5 squeue -h -o %A 2>/dev/null | sort -u || true)
    if [ -n "$jobs" ]; then
      # shellcheck disable=SC2086
      SLURM_CONF=$CONF timeout 5 scancel $jobs 2>/dev/null || true
      for p in $(seq 1 50); do
        [ -z "$(SLURM_CONF=$CONF timeout 5 squeue -h -o %A 2>/dev/null)" ] && break
        sleep 0.2
      done
    fi
  fi
  # slurmd, slurmctld, slurmdbd, mariadbd, munged; then what is left in their
  # sessions (slurmctld's slurmscriptd).
  for n in $DAEMONS; do
    p=$(ours "$n" || true)
    [ -n "$p" ] || continue
    stop_pids "$p"
    # shellcheck disable=SC2046
    stop_pids $(session_members "$p")
  done
  # Job steps of this cluster that outlived slurmd.
  pids=$(strays)
  if [ -n "$pids" ]; then
    log "killing leftover job processes: $(echo $pids)"
    # shellcheck disable=SC2086
    STOP_WAIT=2 stop_pids $pids
  fi
  rm -f "$PIDS"/*.pid 2>/dev/null || true
  unlink_etc
  [ -n "$quiet" ] || log "down"
}

cmd_status() {
  local n pid
  for n in munged mariadbd slurmdbd slurmctld slurmd; do
    if pid=$(ours $n); then echo "$n: running (pid $pid)"; else echo "$n: not running"; fi
  done
  if [ -f "$CONF" ] && ours slurmctld >/dev/null; then
    echo "SLURM_CONF=$CONF"
    SLURM_CONF=$CONF timeout 5 scontrol ping 2>&1 || true
    SLURM_CONF=$CONF timeout 5 sinfo 2>&1 || true
    SLURM_CONF=$CONF timeout 5 squeue 2>&1 || true
  fi
  if [ -f "$CONF" ] && healthy; then echo "status: up"; return 0; fi
  echo "status: down"; return 3
}

# leftovers: every live process of this cluster - our daemons, what is left
# in their sessions, job steps - one PID a line; exit 1 if there is any.
cmd_leftovers() {
  local n p found
  found=$({
    for n in $DAEMONS; do
      p=$(ours "$n" || true)
      [ -n "$p" ] && { echo "$p"; session_members "$p"; }
    done
    strays
    # Daemons whose PID file is gone: found by their command line, which
    # names our folder.
    for p in /proc/[0-9]*; do
      p=${p#/proc/}
      alive "$p" || continue
      case "$(cat "/proc/$p/comm" 2>/dev/null)" in
        slurmctld|slurmd|slurmdbd|slurmscriptd|slurmstepd|munged|mariadbd)
          [[ "$(cmdline "$p")" == *"$DIR/"* ]] && echo "$p" ;;
      esac
    done
  } | sort -un)
  [ -z "$found" ] && return 0
  for p in $found; do echo "$p $(cmdline "$p")"; done
  return 1
}

# up/down/install take a lock so that two callers cannot interleave.
lock() {
  mkdir -p "$DIR"
  exec 9>"$DIR/lock"
  flock -w 300 9 || die "could not lock $DIR/lock"
}

case "${1:-}" in
  install) lock; cmd_install ;;
  up) lock; cmd_up ;;
  down) lock; cmd_down ;;
  status) cmd_status ;;
  env) echo "export SLURM_CONF=$CONF" ;;
  logs) dump_logs ;;
  leftovers) cmd_leftovers ;;
  *) echo "usage: $0 {install|up|down|status|env|logs|leftovers}" >&2; exit 2 ;;
esac
