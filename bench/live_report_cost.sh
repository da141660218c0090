#!/usr/bin/env bash
# What the live report costs (`--report-every`): the wall time of the same
# sweep with the report refreshed while runs train and only at the end
# (`--report-every 0`), side by side, alternating, on an otherwise idle
# machine. Each invocation starts afresh (--fresh) into a scratch folder.
#
#   cargo build --release
#   bench/live_report_cost.sh            # lambda.toml, then 20 000 tiny runs
#   REPEATS=3 TINY=0 bench/live_report_cost.sh
#
# experiments/lambda.toml (18 runs, ~20 s) is timed with --report-every 0,
# 30 (the default: it ends before the first refresh is due) and 1 (a
# refresh whenever a run has ended, as often as the 19× wait allows);
# bench/tiny-runs.toml (20 000 runs, ~3 min) with 0 and 30.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${SWEEP:-target/release/sweep}
repeats=${REPEATS:-2}
scratch=$(mktemp -d "${TMPDIR:-/tmp}/sweep-live-cost.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

lscpu | grep -E '^(Model name|CPU\(s\)|Flags)' | cut -c1-120
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"

# One timed invocation: prints "<file> every=<s> <wall s> <refresh note>".
time_one() {
    local file=$1 every=$2 began ended note
    began=$(date +%s.%N)
    "$bin" run "$file" --out "$scratch" --fresh --jobs 2 --report-every "$every" \
        >/dev/null 2>"$scratch/stderr"
    ended=$(date +%s.%N)
    note=$(grep -o 'live report: refreshed.*' "$scratch/stderr" || echo "no refresh")
    printf '%s every=%s %.2f s (%s)\n' "$(basename "$file")" "$every" \
        "$(echo "$ended - $began" | bc)" "$note"
}

for ((r = 0; r < repeats; r++)); do
    for every in 0 30 1; do
        time_one experiments/lambda.toml "$every"
    done
done
if [[ ${TINY:-1} != 0 ]]; then
    for every in 0 30; do
        time_one bench/tiny-runs.toml "$every"
    done
fi
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
