"""The report's sections on where the next sample should go: what resampling against an
imperfect verifier buys (k* per cost of a false positive), how adaptive stopping rules
compare with a fixed number of samples, and one sentence per finding for the next run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.report import page as h


def advice_section(summary: dict[str, Any]) -> str:
    """The sentences ``harness analyze`` wrote on what each number means for the next run."""
    lines = summary.get("advice") or []
    if not lines:
        return ""
    items = "".join(f"<li>{h.esc(line)}</li>" for line in lines)
    return f"<h2>For your next run</h2><ul>{items}</ul>"


def imperfect_section(a: Path, plots: Path, title: str, cap: str, summary: dict[str, Any]) -> str:
    """U(k) against the weak verifier, k* per cost ratio (empty without a weak verifier)."""
    from harness.report.nextrun_plots import utility_figure

    info = summary.get("imperfect_verifier")
    path = a / "imperfect_verifier.csv"
    if not info or not path.exists():
        return ""
    frame = pd.read_csv(path)
    ratios = [float(c) for c in info["cost_ratios"]]
    columns = {info["columns"][f"{c:g}"]: c for c in ratios}
    stars = {c: int(info["k_star"][f"{c:g}"]) for c in ratios}
    utility_figure(plots / "imperfect_verifier", frame, columns, stars, title, cap)
    weak, strong = h.esc(info["weak"]), h.esc(info["strong"])
    text = (
        f"<p>Resample until <b>{weak}</b> accepts a sample and submit it; <b>{strong}</b> "
        f"says whether it was right. Over {info['problems']:,} problems and "
        f"{info['samples']:,} samples, {weak} accepted {info['weak_accepted']:,}, of which "
        f"{info['false_positives']:,} are false positives (in "
        f"{info['problems_with_false_positives']:,} problems). No number of samples passes "
        f"the ceiling t/b = {info['ceiling']:.3f} (conditional pass@1). A right answer is "
        "worth 1, abstaining 0, a false positive -c.</p>"
    )
    stars_table = pd.DataFrame(
        {
            "cost of a false positive c": ratios,
            "k*": [stars[c] for c in ratios],
            "U(k*)": [float(info["utility_at_k_star"][f"{c:g}"]) for c in ratios],
        }
    )
    ks = frame["k"].to_numpy()
    shown = frame[((ks & (ks - 1)) == 0) | (ks == ks.max()) | np.isin(ks, list(stars.values()))]
    return (
        "<h2>Imperfect verifier</h2>"
        + text
        + h.figure(
            "plots/imperfect_verifier.png",
            "utility against samples per problem",
            f"U(k) = mean over problems of ((t - c·f)/b)·[1 - C(n-b,k)/C(n,k)] for each "
            f"cost ratio c, with k* marked; n samples, b accepted by {info['weak']}, t by "
            "both, f = b - t; exact over random k-subsets of each problem's samples.",
            cap,
        )
        + h.table(stars_table)
        + "<ul>"
        + "".join(f"<li>{h.esc(x)}</li>" for x in info["advice"])
        + "</ul><h3>acc(k) and U(k) at k = 1, 2, 4, … and k*</h3>"
        + h.table(shown)
    )


def stopping_section(a: Path, plots: Path, title: str, cap: str, summary: dict[str, Any]) -> str:
    """Stopping rules against fixed N (empty when the analysis wrote none)."""
    from harness.report.nextrun_plots import stopping_figure

    info = summary.get("stopping")
    path = a / "stopping.csv"
    if not info or not path.exists():
        return ""
    table = pd.read_csv(path)
    stopping_figure(plots / "stopping", table, title, cap)
    boot = info.get("bootstrap", {})
    method = (
        f"Each problem's stored samples drawn in {info['orders']} seeded random orders per "
        f"problem (seed {info['seed']}, without replacement, at most {info['cap']} per "
        "problem); each rule stops by its own test; accuracy and samples are means over "
        "orders and problems, set against a fixed number of samples on the same orders "
        "(majority vote, best-of-k by the same score, or coverage for the oracle), with "
        f"{boot.get('level', 0.95):.0%} percentile bootstrap intervals of the gain over "
        f"problems ({boot.get('resamples', '?')} resamples)."
    )
    rules = table[table["rule"] != "fixed"].drop(columns=["cap", "orders", "seed"])
    scorers = ", ".join(info["scorers"]) or "none"
    notes = (
        []
        if info.get("logprobs")
        else [
            "No token log-probabilities in the samples (made before they were stored, or by a "
            "backend that does not report them): no confidence stopping by log-probability."
        ]
    )
    return (
        "<h2>Adaptive stopping</h2>"
        + f"<p>{h.esc(method)} Scores for confidence stopping: {h.esc(scorers)}.</p>"
        + h.figure(
            "plots/stopping.png",
            "accuracy against samples drawn",
            "Accuracy against the mean number of samples drawn per problem: stopping rules "
            "(points, one per setting) and a fixed number of samples (lines).",
            cap,
        )
        + h.notes(notes)
        + h.table(rules, headers={"expected_samples": "samples (mean)"})
    )
