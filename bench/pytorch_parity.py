#!/usr/bin/env python3
"""sweep against PyTorch on the same settings: mean final test accuracy over
3 seeds after 5 epochs on full MNIST, for each experiment file in
bench/parity/ (momentum, Adam and AdamW with a non-zero λ, Nesterov with
warm-up and a cosine schedule, squared loss on centred inputs, and dropout
with max-norm).

Random streams differ between the two (initialisation, batch order), so the
comparison is between distributions over seeds: the table gives both means,
their standard deviations and the difference, and marks a difference larger
than 0.3 percentage points.

    cargo build --release
    pip install torch numpy            # or a venv: --python /path/to/python
    python3 bench/pytorch_parity.py    # about 15 minutes on 2 cores

Both sides run 2 at a time with 1 thread each (sweep: --jobs 2).
"""

import argparse
import csv
import io
import os
import statistics
import subprocess
import sys
import tempfile
import tomllib
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
CASES = ["momentum", "adam", "adamw", "cosine", "mse", "dropout"]
TOLERANCE_PP = 0.3


def settings(case):
    """The [data] and [train] settings of bench/parity/<case>.toml and its seeds."""
    with open(os.path.join(HERE, "parity", f"{case}.toml"), "rb") as f:
        exp = tomllib.load(f)
    return {**exp.get("data", {}), **exp["train"]}, list(range(exp["grid"]["seed"]["count"]))


def torch_flags(train):
    """pytorch_reference.py options for sweep's [train] settings."""
    flags = ["--epochs", str(train["epochs"]), "--lr", str(train["learning_rate"])]
    for key, flag in [
        ("optimizer", "--optimizer"),
        ("momentum", "--momentum"),
        ("lambda", "--weight-decay"),
        ("weight_decay", "--decay"),
        ("lr_schedule", "--lr-schedule"),
        ("warmup_epochs", "--warmup-epochs"),
        ("lr_step_epochs", "--lr-step-epochs"),
        ("lr_step_factor", "--lr-step-factor"),
        ("beta1", "--beta1"),
        ("beta2", "--beta2"),
        ("eps", "--eps"),
        ("loss", "--loss"),
        ("inputs", "--inputs"),
        ("dropout", "--dropout"),
        ("input_dropout", "--input-dropout"),
        ("max_norm", "--max-norm"),
    ]:
        if key in train:
            flags += [flag, str(train[key])]
    return flags


def sweep_accuracies(binary, case, out):
    """Final test accuracy of each seed, as sweep trains them."""
    subprocess.run(
        [binary, "run", os.path.join(HERE, "parity", f"{case}.toml"), "--out", out, "--jobs", "2"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    with open(os.path.join(out, f"parity-{case}", "runs.csv"), newline="") as f:
        return [float(r["final_test_acc"]) for r in csv.DictReader(f)]


def torch_accuracy(python, flags, seed):
    """Final test accuracy of one PyTorch run."""
    out = subprocess.run(
        [python, os.path.join(HERE, "pytorch_reference.py"), *flags, "--seed", str(seed), "--threads", "1"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    return float(rows[-1]["test_acc"])


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sweep", default=os.path.join(REPO, "target", "release", "sweep"))
    p.add_argument("--python", default=sys.executable, help="the Python that has torch")
    p.add_argument("--cases", nargs="*", default=CASES)
    args = p.parse_args()

    print("| setting | sweep (mean ± sd) | PyTorch (mean ± sd) | difference | within 0.3 pp |")
    print("|---|---|---|---|---|")
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for case in args.cases:
            train, seeds = settings(case)
            ours = sweep_accuracies(args.sweep, case, tmp)
            flags = torch_flags(train)
            with ThreadPoolExecutor(max_workers=2) as pool:
                theirs = list(pool.map(lambda s: torch_accuracy(args.python, flags, s), seeds))
            a, b = statistics.mean(ours), statistics.mean(theirs)
            diff = 100 * (a - b)
            ok = abs(diff) <= TOLERANCE_PP
            failed += not ok
            show = lambda v: f"{100 * statistics.mean(v):.2f} ± {100 * statistics.stdev(v):.2f} %"
            print(f"| {case}: {' '.join(flags)} | {show(ours)} | {show(theirs)} | {diff:+.2f} pp | {'yes' if ok else 'NO'} |",
                  flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
