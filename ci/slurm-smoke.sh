#!/usr/bin/env bash
# ci/slurm-smoke.sh - check that the local Slurm cluster of ci/local-slurm.sh
# does what sweep's Slurm support relies on, with plain shell jobs, before any
# Rust test uses it:
#
#   1. a 3-task array (`sleep 1; echo $SLURM_ARRAY_TASK_ID $SLURM_ARRAY_TASK_COUNT`)
#      runs every task once, found done by polling `squeue -h -j ID`;
#   2. a task that exits 3 ends FAILED with ExitCode 3:0 (scontrol show job,
#      squeue -t all, the jobcomp file: there is no sacct without slurmdbd),
#      its siblings COMPLETED;
#   3. a job submitted with --dependency=afterany:ARRAY starts only after every
#      task ended, the failed one included;
#   4. `sbatch --array=1,2` overrides the script's #SBATCH --array (how failed
#      shards are retried) and SLURM_ARRAY_TASK_COUNT is then 2, not 3;
#   5. a job whose --output folder does not exist ends FAILED without running;
#   6. after `down` no process of the cluster is left.
#
# Brings the cluster up if it is not (and then takes it down again at the end,
# unless SLURM_SMOKE_KEEP_UP=1); a cluster that was already up is left up.
# Work files go to $LOCAL_SLURM_DIR/smoke. Ends with "N passed, N failed" and
# exits non-zero if any check failed.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
LS=$HERE/local-slurm.sh
export LOCAL_SLURM_DIR=${LOCAL_SLURM_DIR:-/tmp/sweep-slurm}
export WORK=$LOCAL_SLURM_DIR/smoke   # the jobs read it (sbatch passes the environment on)
POLL=0.2   # seconds between squeue polls
PASS=0; FAIL=0
ok()   { PASS=$((PASS + 1)); echo "ok   - $*"; }
bad()  { FAIL=$((FAIL + 1)); echo "FAIL - $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}'; }

was_up=0
"$LS" status >/dev/null 2>&1 && was_up=1
finish() {
  if [ "$was_up" = 0 ] && [ "${SLURM_SMOKE_KEEP_UP:-0}" != 1 ]; then
    "$LS" down
    local left
    left=$("$LS" leftovers)
    check "no process of the cluster is left after down" [ -z "$left" ]
    [ -z "$left" ] || echo "$left"
  fi
  echo "$PASS passed, $FAIL failed"
  [ "$FAIL" = 0 ]
}

t0=$(now)
if ! "$LS" up; then
  bad "local-slurm.sh up"; "$LS" logs
  finish; exit 1
fi
echo "# up took $(since "$t0") s"
eval "$("$LS" env)"
rm -rf "$WORK"; mkdir -p "$WORK/logs"

# wait_gone ID TIMEOUT: poll squeue until no task of ID is pending or running.
wait_gone() {
  local end=$(( $(date +%s) + $2 ))
  while [ "$(date +%s)" -lt "$end" ]; do
    [ -z "$(squeue -h -j "$1" -o %i 2>/dev/null)" ] && return 0
    sleep "$POLL"
  done
  return 1
}
# field JOB NAME: NAME=... of `scontrol show job -o JOB` (while the controller
# still holds the job: MinJobAge seconds after it ended).
field() { scontrol show job -o "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -1; }
# states ID: "TASK STATE" lines of every task of ID, sorted (squeue -t all).
states() { squeue -h -t all -j "$1" -o '%i %T' | sort | tr '\n' ' '; }

# ------------------------------------------------------------ 1. array of 3
cat > "$WORK/array.sh" <<'EOF'
#!/bin/bash
#SBATCH --job-name=smoke-array
#SBATCH --array=0-2
#SBATCH --cpus-per-task=1
set -euo pipefail
date +%s.%N > "$WORK/end-$SLURM_ARRAY_TASK_ID.start"
sleep 1; echo $SLURM_ARRAY_TASK_ID $SLURM_ARRAY_TASK_COUNT
date +%s.%N > "$WORK/end-$SLURM_ARRAY_TASK_ID"
EOF
t=$(now)
j=$(sbatch --parsable -o "$WORK/logs/array_%A_%a.out" "$WORK/array.sh")
check "sbatch --parsable prints a job id ($j)" grep -qxE '[0-9]+' <<<"$j"
check "the array is done within 30 s (squeue polled every $POLL s)" wait_gone "$j" 30
echo "# 3 tasks x 1 s on 2 CPUs: submit to done in $(since "$t") s"
for i in 0 1 2; do
  check "task $i printed \"$i 3\"" [ "$(cat "$WORK/logs/array_${j}_$i.out" 2>/dev/null)" = "$i 3" ]
done
check "every task COMPLETED" [ "$(states "$j")" = "${j}_0 COMPLETED ${j}_1 COMPLETED ${j}_2 COMPLETED " ]

# ------------------------------------------------------------ 2.+3. failure, dependency
cat > "$WORK/fail.sh" <<'EOF'
#!/bin/bash
#SBATCH --job-name=smoke-fail
#SBATCH --array=0-2
set -euo pipefail
sleep 1
date +%s.%N > "$WORK/fail-end-$SLURM_ARRAY_TASK_ID"
if [ "$SLURM_ARRAY_TASK_ID" = 1 ]; then echo "shard 1 broke" >&2; exit 3; fi
echo fine
EOF
cat > "$WORK/after.sh" <<'EOF'
#!/bin/bash
#SBATCH --job-name=smoke-report
set -euo pipefail
date +%s.%N > "$WORK/after-start"
EOF
j=$(sbatch --parsable -o "$WORK/logs/fail_%A_%a.out" "$WORK/fail.sh")
d=$(sbatch --parsable --dependency="afterany:$j" -o "$WORK/logs/after_%j.out" "$WORK/after.sh")
check "the dependent job waits on the array" \
  [ "$(squeue -h -j "$d" -o '%T %r')" = "PENDING Dependency" ]
check "array and dependent job are done within 30 s" wait_gone "$j,$d" 30
check "task 1 FAILED, tasks 0 and 2 COMPLETED (squeue -t all)" \
  [ "$(states "$j")" = "${j}_0 COMPLETED ${j}_1 FAILED ${j}_2 COMPLETED " ]
check "scontrol show job ${j}_1: JobState=FAILED" [ "$(field "${j}_1" JobState)" = FAILED ]
check "scontrol show job ${j}_1: ExitCode=3:0" [ "$(field "${j}_1" ExitCode)" = 3:0 ]
check "scontrol show job ${j}_1: Reason=NonZeroExitCode" [ "$(field "${j}_1" Reason)" = NonZeroExitCode ]
jc=$(grep "ArrayJobId=$j ArrayTaskId=1 " "$LOCAL_SLURM_DIR/log/jobcomp.txt" 2>/dev/null || true)
check "jobcomp.txt records task 1 as FAILED with exit code 3" \
  bash -c '[[ "$1" == *"JobState=FAILED"* && "$1" == *" ExitCode=3:0 "* ]]' _ "$jc"
check "the failing task's stderr is in its log" grep -q "shard 1 broke" "$WORK/logs/fail_${j}_1.out"
last=$(cat "$WORK"/fail-end-* 2>/dev/null | sort -n | tail -1)
start=$(cat "$WORK/after-start" 2>/dev/null)
check "the afterany job ran after the last task ended (failed one included)" \
  awk -v a="${last:-9e99}" -v b="${start:-0}" 'BEGIN{exit !(b >= a)}'
check "the afterany job COMPLETED" [ "$(states "$d")" = "$d COMPLETED " ]

# ------------------------------------------------------------ 4. retry some tasks
j=$(sbatch --parsable --array=1,2 -o "$WORK/logs/retry_%A_%a.out" "$WORK/array.sh")
check "the retried tasks are done within 30 s" wait_gone "$j" 30
check "--array=1,2 ran tasks 1 and 2 only" [ "$(states "$j")" = "${j}_1 COMPLETED ${j}_2 COMPLETED " ]
check "their SLURM_ARRAY_TASK_COUNT is 2, not 3" \
  [ "$(cat "$WORK/logs/retry_${j}_1.out" "$WORK/logs/retry_${j}_2.out" 2>/dev/null | tr '\n' ' ')" = "1 2 2 2 " ]

# ------------------------------------------------------------ 5. missing log folder
j=$(sbatch --parsable -o "$WORK/no-such-folder/%j.out" --wrap 'touch "$WORK/ran"')
check "a job with a missing --output folder is gone within 30 s" wait_gone "$j" 30
check "it ended FAILED (JobLaunchFailure) without running" \
  [ "$(field "$j" JobState) $(field "$j" Reason) $([ -e "$WORK/ran" ] && echo ran)" = "FAILED JobLaunchFailure " ]

echo "# total $(since "$t0") s"
finish
