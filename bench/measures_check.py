#!/usr/bin/env python3
"""Recomputes measures.csv's τ and Ψ from a sweep's runs.csv with SciPy.

An independent check of `src/report/predictors.rs`: Kendall's τ_b of each
generalization measure against the accuracy and loss gaps over all finished
runs (`scipy.stats.kendalltau`), and Jiang et al.'s granulated Ψ — for each
swept setting but the seeds, the mean over the groups of runs that differ
only in that setting of τ within the group (tied pairs count 0: τ_a), then
the mean over the settings.

    pip install scipy numpy
    python3 bench/measures_check.py docs/example-measures/runs.csv lambda hidden_size ...

The settings after the file are the swept ones (seed excluded); a group
holds the other swept settings and the seed fixed (the settings a grid does
not sweep are the same in every run, though a cell is blank in the rows
where the setting does not apply, such as label_noise_mode without noise).
"""

import csv
import sys
from collections import defaultdict

import numpy as np
from scipy.stats import kendalltau

# measures.csv's name → (runs.csv column, transform)
MEASURES = {
    "parameters": ("parameters", lambda x: x),
    "steps": ("steps", lambda x: x),
    "frobenius_product": ("frobenius_product", lambda x: x),
    "spectral_product": ("spectral_product", lambda x: x),
    "init_distance": ("init_distance", lambda x: x),
    "path_norm": ("path_norm", lambda x: x),
    "inverse_margin": ("margin", lambda x: 1 / x**2 if x != 0 else None),
    "spectral_over_margin": ("spectral_over_margin", lambda x: x),
    "frobenius_over_margin": ("frobenius_over_margin", lambda x: x),
    "pacbayes_flatness": ("flatness_sigma", lambda x: 1 / x**2 if x != 0 else None),
    "pacbayes_mag_flatness": ("magnitude_sigma", lambda x: 1 / x**2 if x != 0 else None),
}
GAPS = {"gap_acc": "final_gap_acc", "gap_loss": "final_gap_loss"}


def tau_a(x, y):
    """Jiang et al.'s Eq. 3: mean of sign(Δx)·sign(Δy) over all pairs."""
    n = len(x)
    s = sum(np.sign(x[i] - x[j]) * np.sign(y[i] - y[j]) for i in range(n) for j in range(i + 1, n))
    return s / (n * (n - 1) / 2)


def main():
    path, swept = sys.argv[1], sys.argv[2:]
    rows = [r for r in csv.DictReader(open(path)) if r["status"] == "finished"]
    for gap, gap_column in GAPS.items():
        for name, (column, transform) in MEASURES.items():
            points = []
            for r in rows:
                if r[column] == "" or r[gap_column] == "":
                    continue
                m = transform(float(r[column]))
                if m is None:
                    continue
                points.append((r, m, float(r[gap_column])))
            if len(points) < 2:
                continue
            tau = kendalltau([p[1] for p in points], [p[2] for p in points]).statistic
            parts = []
            for key in swept:
                groups = defaultdict(list)
                for r, m, g in points:
                    fixed = tuple(r[s] for s in swept + ["seed"] if s != key)
                    groups[fixed].append((m, g))
                taus = [tau_a([a for a, _ in v], [b for _, b in v]) for v in groups.values() if len(v) >= 2]
                parts.append(float(np.mean(taus)) if taus else None)
            defined = [p for p in parts if p is not None]
            psi = float(np.mean(defined)) if defined else None
            print(f"{gap},{name},{psi!r},{float(tau)!r}," + ",".join(repr(p) for p in parts))


if __name__ == "__main__":
    main()
