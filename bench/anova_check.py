#!/usr/bin/env python3
"""Recomputes anova.csv from a sweep's runs.csv with statsmodels.

An independent check of `src/report/anova.rs`: the full-factorial model
over the swept settings (seeds as replicates) by `statsmodels.formula.api.ols`
and `anova_lm`; main effects and two-way interactions as rows, the
interactions of three settings or more summed into one row, the residual
last. A balanced design makes the type of sums of squares immaterial.

    pip install statsmodels pandas
    python3 bench/anova_check.py docs/example-lr/runs.csv final_gap_acc learning_rate lambda
"""

import itertools
import sys

import pandas as pd
import statsmodels.api as sm
from statsmodels.formula.api import ols


def main():
    path, column, factors = sys.argv[1], sys.argv[2], sys.argv[3:]
    runs = pd.read_csv(path, dtype=str)
    runs = runs[runs["status"] == "finished"]
    data = pd.DataFrame({f"f{i}": runs[f] for i, f in enumerate(factors)})
    data["y"] = runs[column].astype(float)
    terms = "*".join(f"C(f{i})" for i in range(len(factors)))
    table = sm.stats.anova_lm(ols(f"y ~ {terms}", data=data).fit(), typ=1)
    total = table["sum_sq"].sum()
    rows, higher = [], [0.0, 0]
    for name, row in table.iterrows():
        parts = [factors[int(p[3:-1])] for p in name.split(":")] if name != "Residual" else []
        if name == "Residual":
            continue
        if len(parts) <= 2:
            rows.append((" × ".join(parts), int(row["df"]), row["sum_sq"], row["F"], row["PR(>F)"]))
        else:
            higher[0] += row["sum_sq"]
            higher[1] += int(row["df"])
    for effect, df, ss, f, p in rows:
        print(f"{effect},{df},{ss!r},{ss / total!r},{f!r},{p!r}")
    if higher[1]:
        print(f"higher-order interactions,{higher[1]},{higher[0]!r},{higher[0] / total!r}")
    r = table.loc["Residual"]
    print(f"seeds (residual),{int(r['df'])},{r['sum_sq']!r},{r['sum_sq'] / total!r}")


if __name__ == "__main__":
    main()
