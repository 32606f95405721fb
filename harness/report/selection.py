"""The report's selection part: every selection method beside coverage and majority
(Figure 7 of Large Language Monkeys, for the user's run), what the selectors did, and
accuracy against generation + verification compute."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from harness.report import page as h

METHOD_WORDS = {
    "best_of_k": "best-of-k by {v} score",
    "weighted_vote": "weighted vote by {v} score",
    "verification": "verification by {v} (SSS tie-break)",
    "tournament": "knockout tournament by {v}",
}


def method_labels(columns: Iterable[str]) -> dict[str, str]:
    """Column -> legend label for coverage, majority and every ``<method>:<verifier>``."""
    labels = {}
    for col in columns:
        if col == "coverage":
            labels[col] = "coverage (oracle verifier)"
        elif col == "majority":
            labels[col] = "majority vote"
        elif col.count(":") == 1:
            method, verifier = col.split(":")
            words = METHOD_WORDS.get(method, method + " by {v}")
            labels[col] = words.format(v=verifier)
    return labels


def _powers_of_two(frame: pd.DataFrame) -> pd.DataFrame:
    ks = frame["k"].to_numpy()
    return frame[(ks & (ks - 1) == 0) | (ks == ks.max())]


def _selectors_table(summary: dict[str, Any]) -> str:
    rows = []
    for name, facts in (summary.get("selectors") or {}).items():
        statuses = facts.get("statuses") or {}
        rows.append(
            {
                "verifier": name,
                "model": facts.get("model") or "–",
                "mode": facts.get("mode") or "–",
                "methods": ", ".join(facts.get("methods") or []),
                "samples scored": facts.get("samples", 0),
                "unparsed samples": statuses.get("unparsed", 0),
                "judge calls": facts.get("judgements", 0),
                "unparsed calls": facts.get("unparsed_judgements", 0),
                "prompt tokens": facts.get("prompt_tokens", 0),
                "generated tokens": facts.get("completion_tokens", 0),
            }
        )
    return h.table(pd.DataFrame(rows)) if rows else ""


def selection_section(a: Path, plots: Path, title: str, cap: str, summary: dict[str, Any]) -> str:
    """Selection@k for every method, with the bands of the methods scored from picks."""
    from harness.report.plots import curves_figure

    path = a / "selection.csv"
    if not path.exists():
        return ""
    sel = pd.read_csv(path)
    labels = method_labels(sel.columns)
    if len(labels) == 1:
        return "<h2>Selection</h2>" + h.notes(
            ["No answer classes or scores in the verdicts: no selection method to compare."]
        )
    bands = {
        col: (f"{col}:lo", f"{col}:hi")
        for col in labels
        if f"{col}:lo" in sel and f"{col}:hi" in sel
    }
    curves_figure(plots / "selection", sel, labels, title, cap, bands=bands)
    text = (
        "Selection@k: the accuracy each method gets out of k samples, scored against "
        f"the ground truth ({summary.get('verifier')}). Coverage, majority vote and "
        "best-of-k are exact expectations over random k-subsets; the weighted vote is "
        "estimated from 100 seeded subsets per problem"
    )
    if bands:
        text += (
            "; verification and the tournament are played on seeded random subsets "
            "(shaded: 95% percentile bootstrap over problems)"
        )
    body = h.figure("plots/selection.png", "selection curves", text + ".", cap)
    body += h.meta_list(labels.items())  # what each column of the table below is
    body += _selectors_table(summary)
    shown = sel.drop(columns=[c for c in sel.columns if c.endswith((":lo", ":hi"))])
    return "<h2>Selection</h2>" + body + h.table(_powers_of_two(shown))


def selection_compute_section(a: Path, plots: Path, title: str, cap: str) -> str:
    """Selection accuracy against total (generation + verification) FLOPs."""
    from harness.report.plots import cost_figure

    info_path, table_path = a / "selection_compute.json", a / "selection_compute.csv"
    if not info_path.exists():
        return ""
    info = json.loads(info_path.read_text())
    if not info.get("available") or not table_path.exists():
        return "<h3>Selection against compute</h3>" + h.notes(
            [f"No verification compute: {info.get('reason', 'unknown')}."]
        )
    table = pd.read_csv(table_path)
    labels = method_labels(dict.fromkeys(table["method"]))
    cost_figure(plots / "selection_flops", table, labels, title, cap)
    notes = [
        f"{v}: {got['reason']}"
        for v, got in info.get("verifiers", {}).items()
        if not got.get("available")
    ]
    sizes = [
        (
            f"{v} model",
            f"{got['model']}: {got['params']:,} parameters, {got['layers']} layers, d_model "
            f"{got['d_model']}; {got['flops_per_pointwise_call']:.3g} FLOPs per pointwise "
            f"call, {got['flops_per_pairwise_call']:.3g} per pairwise call, "
            f"{got['calls_per_sample']:.3g} calls per scored sample",
        )
        for v, got in info.get("verifiers", {}).items()
        if got.get("available")
    ]
    body = h.figure(
        "plots/selection_flops.png",
        "selection accuracy vs compute",
        "Selection accuracy against total inference FLOPs: generating k samples per "
        "problem plus the judge or reward-model calls the method needs at that k. "
        + str(info.get("prompt_counting", "")).capitalize()
        + ".",
        cap,
    )
    body += h.meta_list(sizes) if sizes else ""
    return "<h3>Selection against compute</h3>" + body + h.notes(notes)
