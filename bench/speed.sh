#!/usr/bin/env bash
# The speed targets of docs/guide.md ("Speed"), measured side by side in
# one session on one machine (run it on an otherwise idle machine; it prints
# the load before and after):
#   1. the machine: lscpu's model and the flags that matter;
#   2. `sweep bench --jobs N` (true FMA peak, both kernels' GEMM rates,
#      auto's choice, one run, N runs as threads against N processes);
#   3. one run of the notebook's network on all of MNIST, 3 epochs, in
#      rounds that alternate sweep (each kernel) and PyTorch with 1 thread:
#      median seconds per training epoch and per evaluation;
#   4. 2N runs × 5 epochs with N workers: `sweep run --jobs N`, the same
#      as N processes (`--shard K/N --jobs 1`), and PyTorch's best
#      arrangement: N processes × 1 thread, each looping over its 2 runs
#      in one process (`pytorch_reference.py --runs 2`).
# Needs python3 with torch and numpy for the PyTorch parts (skipped
# without). N defaults to the number of cores, ROUNDS to 2. With
# OLD_SWEEP=path/to/an/older/sweep, section 4 also times that build's
# `sweep run --jobs N` (before and after).
#
#   cargo build --release && bash bench/speed.sh [N] [ROUNDS]
set -u
cd "$(dirname "$0")/.."
N=${1:-$(nproc)}
ROUNDS=${2:-2}
SWEEP=${SWEEP:-$PWD/target/release/sweep}
DATA=$PWD/data/mnist
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export PYTHONUNBUFFERED=1
now() { python3 -c 'import time; print(time.time())'; }
elapsed() { python3 -c "print(f'{$2 - $1:.2f}')"; }
torch_ok=$(python3 -c 'import torch, numpy; print("yes")' 2>/dev/null || echo no)

echo "== machine"
lscpu | grep -E '^(Model name|CPU\(s\)|Thread\(s\) per core|Core\(s\) per socket|Socket\(s\)|L2 cache|L3 cache)'
echo "flags: $(grep -m1 -o -w 'avx2\|fma\|avx512f\|avx512bw\|avx512vl\|amx_tile' /proc/cpuinfo | sort -u | tr '\n' ' ')"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
[ "$torch_ok" = yes ] && python3 -c 'import torch; print("torch", torch.__version__, "·", torch.backends.mkldnn.is_available() and "oneDNN" or "", torch.__config__.parallel_info().splitlines()[0])'

echo; echo "== sweep bench --jobs $N"
"$SWEEP" bench --jobs "$N"

if [ "$torch_ok" = yes ]; then
    echo; echo "== PyTorch's GEMMs of the same step, 1 thread (torch.mm, median of 7 batches)"
    python3 - <<'PY'
import time, statistics, torch
torch.set_num_threads(1)
shapes = [("forward 1", 100, 784, 200, 0, 0), ("forward 2", 100, 200, 200, 0, 0),
          ("forward 3", 100, 200, 10, 0, 0), ("backward 3: Hᵀ·δ", 200, 100, 10, 1, 0),
          ("backward 3: δ·Wᵀ", 100, 10, 200, 0, 1), ("backward 2: Hᵀ·δ", 200, 100, 200, 1, 0),
          ("backward 2: δ·Wᵀ", 100, 200, 200, 0, 1), ("backward 1: Hᵀ·δ", 784, 100, 200, 1, 0)]
total_flops = total_seconds = 0.0
for name, m, k, n, ta, tb in shapes:
    a = torch.full((k, m) if ta else (m, k), 0.5)
    b = torch.full((n, k) if tb else (k, n), 0.25)
    a, b = (a.t() if ta else a), (b.t() if tb else b)
    out = torch.empty(m, n)
    for _ in range(50):
        torch.mm(a, b, out=out)
    reps = 200
    samples = []
    for _ in range(7):
        t = time.perf_counter()
        for _ in range(reps):
            torch.mm(a, b, out=out)
        samples.append((time.perf_counter() - t) / reps)
    s = statistics.median(samples)
    flops = 2 * m * k * n
    total_flops += flops; total_seconds += s
    print(f"  {name:<18} {m:>4}×{k:>4}×{n:>4}  {flops / s / 1e9:7.1f} GFLOP/s")
print(f"  all together                        {total_flops / total_seconds / 1e9:7.1f} GFLOP/s")
PY
fi

echo; echo "== one run, 3 epochs on all of MNIST, 1 thread, $ROUNDS rounds alternating"
cat > "$WORK/one.toml" <<TOML
name = "one"
[data]
data_dir = "$DATA"
[train]
epochs = 3
eval_every = 1
[grid]
seed = [0]
TOML
medians() { # median training and evaluation seconds per epoch of a CSV with those columns
    python3 -c '
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
train = statistics.median(float(r["train_seconds"]) for r in rows)
evaluation = statistics.median(float(r["eval_seconds"]) for r in rows)
print(f"{train:.3f} {evaluation:.3f}")' "$1"
}
for round in $(seq "$ROUNDS"); do
    for kernel in gemm matrixmultiply; do
        "$SWEEP" run "$WORK/one.toml" --kernel "$kernel" --jobs 1 --fresh --quiet --out "$WORK/one-$kernel" >/dev/null
        read -r t e < <(medians "$WORK/one-$kernel/one/epochs.csv")
        echo "round $round  sweep $kernel: training epoch $t s, evaluation $e s"
    done
    if [ "$torch_ok" = yes ]; then
        python3 bench/pytorch_reference.py --data-dir "$DATA" --epochs 3 --threads 1 --seed 0 >"$WORK/torch.csv"
        read -r t e < <(medians "$WORK/torch.csv")
        echo "round $round  PyTorch 1 thread: training epoch $t s, evaluation $e s"
    fi
done

echo; echo "== $((2 * N)) runs × 5 epochs on all of MNIST with $N workers"
cat > "$WORK/many.toml" <<TOML
name = "many"
[data]
data_dir = "$DATA"
[train]
epochs = 5
eval_every = 1
[grid]
seed = { count = $((2 * N)) }
TOML
a=$(now); "$SWEEP" run "$WORK/many.toml" --jobs "$N" --quiet --out "$WORK/threads" >/dev/null; b=$(now)
echo "sweep run --jobs $N: $(elapsed "$a" "$b") s ($(grep -o '"kernel": "[^"]*"' "$WORK/threads/many/manifest.json"))"
a=$(now)
for k in $(seq 0 $((N - 1))); do
    "$SWEEP" run "$WORK/many.toml" --shard "$k/$N" --jobs 1 --quiet --out "$WORK/processes" >/dev/null 2>&1 &
done
wait; b=$(now)
echo "$N processes of sweep run --shard K/$N --jobs 1: $(elapsed "$a" "$b") s"
if [ -n "${OLD_SWEEP:-}" ]; then # an earlier build, for a before-and-after
    a=$(now); "$OLD_SWEEP" run "$WORK/many.toml" --jobs "$N" --quiet --out "$WORK/old" >/dev/null; b=$(now)
    echo "$("$OLD_SWEEP" --version) run --jobs $N: $(elapsed "$a" "$b") s"
fi
if [ "$torch_ok" = yes ]; then
    a=$(now)
    for w in $(seq 0 $((N - 1))); do
        python3 bench/pytorch_reference.py --data-dir "$DATA" --epochs 5 --threads 1 --runs 2 --seed $((2 * w)) >/dev/null &
    done
    wait; b=$(now)
    echo "PyTorch, $N processes × 1 thread looping over 2 runs each: $(elapsed "$a" "$b") s"
fi
python3 - "$WORK/threads/many/runs.csv" "$WORK/processes/many/runs.csv" <<'PY'
import csv, statistics, sys
for name, path in zip(["threads", "processes"], sys.argv[1:]):
    rows = list(csv.DictReader(open(path)))
    train = statistics.mean(float(r["train_seconds"]) for r in rows)
    ev = statistics.mean(float(r["eval_seconds"]) for r in rows)
    print(f"per run as {name}: {train:.2f} s training, {ev:.2f} s evaluating ({len(rows)} runs, {rows[0]['kernel']})")
PY
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
