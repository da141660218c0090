#!/usr/bin/env python3
"""Per-run cost of sweeps of many tiny runs, measured from outside the process.

Each size N is a grid of `seed = { count = N }` over 784-16-10, 200 training
images, 1 epoch, batch 50 (the shape of issue 10's table). For each N it runs
`sweep run --quiet` into a fresh folder on the same disk as the repository and
reports:

  wall        seconds of the whole invocation, and per run
  cpu         user + system seconds of the process (all threads), per run
  train cpu   the runs' own training + evaluation seconds (runs.csv), per run
  bookkeeping (cpu - train cpu) / N: files, fsync, aggregates, start-up,
              report, amortised
  peak RSS    ru_maxrss of the process
  written     bytes the process passed to write() (wchar in /proc/PID/io, read
              while it is a zombie, so every thread is counted), against the
              apparent size of the results folder it leaves

then `sweep report` on the largest folder (wall, peak RSS) and `sweep plan` of
a 100 000-run grid.

    cargo build --release
    python3 bench/many_runs.py [--sizes 250,1000,4000,20000] [--binary target/release/sweep]

Run it on an otherwise idle machine; it prints how busy the CPU was
before and after.
"""

import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile
import time

# One tiny network, 200 training images, 1 epoch; {grid} is the [grid] table.
EXPERIMENT = """\
name = "{name}"
[data]
dataset = "mnist"
train_subset = 200
[model]
hidden_layers = 1
hidden_size = 16
[train]
epochs = 1
batch_size = 50
[grid]
{grid}
"""


def measure(cmd, cwd):
    """Runs cmd; returns (exit code, wall s, cpu s, peak RSS MiB, wchar bytes)."""
    started = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    # Wait without reaping, so /proc/PID/io still holds the totals of every
    # thread; then reap and take the resource usage.
    os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)
    wall = time.monotonic() - started
    wchar = 0
    try:
        with open(f"/proc/{proc.pid}/io") as f:
            for line in f:
                key, value = line.split(":")
                if key == "wchar":
                    wchar = int(value)
    except OSError:
        pass
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace")
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err}")
    return (wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, wchar)


def folder_size(root):
    total = 0
    for dirpath, _, files in os.walk(root):
        for name in files:
            total += os.lstat(os.path.join(dirpath, name)).st_size
    return total


def cpu_busy(seconds=1.0):
    """Share of all cores busy over the next `seconds` (from /proc/stat)."""
    def sample():
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
        return sum(fields), fields[3] + fields[4]  # total, idle + iowait
    total0, idle0 = sample()
    time.sleep(seconds)
    total1, idle1 = sample()
    return 100.0 * (1 - (idle1 - idle0) / max(1, total1 - total0))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="250,1000,4000,20000")
    parser.add_argument("--binary", default="target/release/sweep")
    parser.add_argument("--jobs", default=None)
    parser.add_argument("--keep", action="store_true", help="keep the folders")
    args = parser.parse_args()
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    binary = os.path.abspath(os.path.join(repo, args.binary))
    work = tempfile.mkdtemp(prefix="sweep-many-", dir=os.path.join(repo, "target"))
    print(f"binary {binary}; folders under {work}")
    print(f"CPU busy before: {cpu_busy():.0f} % of all cores")
    print(f"{'runs':>6} {'wall s':>8} {'ms/run':>7} {'cpu ms/run':>10} {'train ms/run':>12} "
          f"{'bookkeeping ms/run':>18} {'peak MiB':>8} {'written MB':>10} {'folder MB':>9} {'ratio':>5}")
    for n in [int(s) for s in args.sizes.split(",")]:
        exp = os.path.join(work, f"tiny{n}.toml")
        with open(exp, "w") as f:
            f.write(EXPERIMENT.format(name="tiny", grid=f"seed = {{ count = {n} }}"))
        out = os.path.join(work, f"out{n}")
        cmd = [binary, "run", exp, "--out", out, "--quiet"]
        if args.jobs:
            cmd += ["--jobs", args.jobs]
        wall, cpu, rss, written = measure(cmd, repo)
        folder = os.path.join(out, "tiny")
        size = folder_size(folder)
        with open(os.path.join(folder, "runs.csv"), newline="") as f:
            rows = list(csv.DictReader(f))
        assert len(rows) == n, f"runs.csv has {len(rows)} rows, not {n}"
        train = sum(float(r["train_seconds"]) + float(r["eval_seconds"]) for r in rows)
        print(f"{n:>6} {wall:>8.1f} {1000 * wall / n:>7.2f} {1000 * cpu / n:>10.2f} "
              f"{1000 * train / n:>12.2f} {1000 * (cpu - train) / n:>18.2f} {rss:>8.0f} "
              f"{written / 1e6:>10.1f} {size / 1e6:>9.1f} {written / size:>5.2f}", flush=True)
        # Folders are removed only at the end: ext4 spends CPU skipping
        # recently deleted inodes when it allocates new ones, which would be
        # charged to the next sweep.
        last = folder
    wall, cpu, rss, _ = measure([binary, "report", last], repo)
    print(f"sweep report on the {n}-run folder: {wall:.2f} s wall, {cpu:.2f} s cpu, "
          f"peak {rss:.0f} MiB")
    plan = os.path.join(work, "plan100k.toml")
    with open(plan, "w") as f:
        f.write(EXPERIMENT.format(
            name="plan100k",
            grid="lambda = { linear = [0, 1], num = 100 }\nseed = { count = 1000 }"))
    wall, cpu, rss, _ = measure([binary, "plan", plan], repo)
    print(f"sweep plan of a 100 000-run grid: {wall:.2f} s wall, peak {rss:.0f} MiB")
    print(f"CPU busy after: {cpu_busy():.0f} % of all cores")
    if not args.keep:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
