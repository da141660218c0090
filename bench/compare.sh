#!/usr/bin/env bash
# Side-by-side timings for the performance targets, in one session on one
# machine (medians and min–max over RUNS repetitions, via hyperfine):
#   - the 4-run × 5-epoch sweep (bench/sweep-4x5.toml) with --jobs 1 and 2,
#     and the same work in PyTorch (bench/pytorch-sweep.sh);
#   - start-up: `sweep plan` (parse, read and decompress MNIST);
#   - `sweep bench` RUNS times (epoch and evaluation seconds, GFLOP/s).
# Needs hyperfine (Debian) and, for PyTorch, `pip install torch numpy`.
#   cargo build --release && bash bench/compare.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
SWEEP=target/release/sweep
OUT=$(mktemp -d)
hyperfine --runs "$RUNS" --warmup 1 --export-json "$OUT/startup.json" \
    "$SWEEP plan experiments/seed.toml"
hyperfine --runs "$RUNS" --export-json "$OUT/sweep.json" \
    "$SWEEP run bench/sweep-4x5.toml --jobs 2 --fresh --quiet --out $OUT/r2" \
    "$SWEEP run bench/sweep-4x5.toml --jobs 1 --fresh --quiet --out $OUT/r1"
if python3 -c "import torch" 2>/dev/null; then
    hyperfine --runs "$RUNS" --export-json "$OUT/torch.json" "bash bench/pytorch-sweep.sh"
fi
/usr/bin/time -f "peak RSS of the 4x5 sweep, --jobs 2: %M KB" \
    "$SWEEP" run bench/sweep-4x5.toml --jobs 2 --fresh --quiet --out "$OUT/rss" >/dev/null
for i in $(seq "$RUNS"); do
    "$SWEEP" bench | grep -E "training epoch|evaluation" 
done
echo "hyperfine JSON in $OUT"
