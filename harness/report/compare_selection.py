"""The comparison page's selection part: every run's selection methods against total
compute (generation + verification FLOPs), and their accuracy at equal FLOPs, so a
"more samples" run (majority over many samples) sits beside a "more verification" run
(fewer samples, a judge) on one axis."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from harness.report import page as h
from harness.report.selection import method_labels

ORACLE = "coverage"  # needs a perfect verifier: not a method a user can run


def selection_comparison(
    runs: Sequence[tuple[str, Path]], out: Path, plots: Path, title: str, cap: str
) -> str:
    """HTML for the selection methods of ``runs`` (label, run directory) at equal FLOPs;
    writes ``plots/selection_flops.png`` and ``selection_equal_flops.csv`` under ``out``."""
    from analysis.allocation import equal_budget_table
    from harness.report.plots import cost_figure

    frames = []
    for label, root in runs:
        path = root / "analysis" / "selection_compute.csv"
        if not path.exists():
            continue
        table = pd.read_csv(path)
        table = table[table["method"] != ORACLE]
        names = method_labels(dict.fromkeys(table["method"]))
        table = table.assign(method=[f"{label}: {names.get(m, m)}" for m in table["method"]])
        frames.append(table)
    if not frames:
        return ""
    long = pd.concat(frames, ignore_index=True)
    curves = list(dict.fromkeys(long["method"]))
    cost_figure(plots / "selection_flops", long, {c: c for c in curves}, title, cap)
    series = {}
    for c in curves:
        rows = long[long["method"] == c].sort_values("total_flops")
        series[c] = (rows["total_flops"].to_numpy(), rows["accuracy"].to_numpy())
    equal = equal_budget_table(series, points=10, column="total_flops")
    equal.to_csv(out / "selection_equal_flops.csv", index=False)
    return (
        "<h2>Selection at equal compute</h2>"
        + h.figure(
            "plots/selection_flops.png",
            "selection accuracy vs total FLOPs",
            "Accuracy of every selection method of every run against total inference "
            "FLOPs (generating k samples plus the judge or reward-model calls the method "
            "needs at that k): more samples and more verification on one axis.",
            cap,
        )
        + "<h3>Accuracy at equal total FLOPs</h3>"
        + h.table(equal)
    )
