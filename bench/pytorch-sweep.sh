#!/usr/bin/env bash
# The 4-run × 5-epoch benchmark sweep (bench/sweep-4x5.toml) in PyTorch, the
# fastest way it runs on 2 cores: 2 processes × 1 thread, 2 runs each.
# Prints the wall-clock seconds. Needs `pip install torch numpy`.
#   bash bench/pytorch-sweep.sh
set -euo pipefail
cd "$(dirname "$0")"
start=$(date +%s.%N)
for worker in 0 1; do
    (
        for seed in $((2 * worker)) $((2 * worker + 1)); do
            python3 pytorch_reference.py --epochs 5 --threads 1 --seed "$seed" >/dev/null
        done
    ) &
done
wait
end=$(date +%s.%N)
echo "pytorch 4 runs × 5 epochs, 2 processes × 1 thread: $(echo "$end - $start" | bc) s"
