#!/usr/bin/env python3
"""Landmarks of the grokking runs (experiments/grokking.toml) from an
epochs.csv: for each run, the first evaluated epoch (and step, 5 steps per
epoch at batch 200 of 1 000 images) at which training accuracy reaches 1.0
and test accuracy passes 0.5 and 0.8, the final test accuracy, and the
parameter norm at the start and the end.

Evaluations are log-spaced (about 60 over 20 000 epochs, each ~17 % after
the one before), so a landmark is known to that resolution: the epoch shown
is the first evaluation at or past it.

    python3 bench/grokking.py docs/example-grokking/epochs.csv
"""
import csv
import sys
from collections import defaultdict

STEPS_PER_EPOCH = 5


def first(rows, column, threshold):
    for r in rows:
        if float(r[column]) >= threshold:
            return int(r["epoch"])
    return None


def show(epoch):
    return "never" if epoch is None else f"{epoch} ({epoch * STEPS_PER_EPOCH} steps)"


def main(path):
    runs = defaultdict(list)
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            runs[(float(row["init_scale"]), float(row["lambda"]))].append(row)
    print("| α | weight decay | train acc 1.0 at epoch | test ≥ 0.5 at | test ≥ 0.8 at | final test acc | norm first → last |")
    print("|---|---|---|---|---|---|---|")
    for (alpha, wd), rows in sorted(runs.items()):
        rows.sort(key=lambda r: int(r["epoch"]))
        print(
            f"| {alpha:g} | {wd:g} | {show(first(rows, 'train_acc', 1.0))} | "
            f"{show(first(rows, 'test_acc', 0.5))} | {show(first(rows, 'test_acc', 0.8))} | "
            f"{float(rows[-1]['test_acc']):.3f} | "
            f"{float(rows[0]['weight_norm']):.1f} → {float(rows[-1]['weight_norm']):.1f} |"
        )


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "results/grokking/epochs.csv")
