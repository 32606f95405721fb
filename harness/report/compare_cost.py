"""The comparison page's sections on cost and on where the next sample should go:
coverage against eFLOPs and dollars (priced now, with the prices named), which run a
budget should go to in FLOPs, eFLOPs and dollars and whether the unit changes the answer,
and each run's k* against its weak verifier and best stopping rules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.report import page as h


def priced_now(runs: list[Any]) -> tuple[dict[str, pd.DataFrame], dict[str, str], list[str]]:
    """Each run's compute table with dollars from the current price table (every run
    priced at the same time, from its token counts and FLOPs): the priced ones, the
    price each used, and the runs without a known price."""
    from analysis.prices import dollars, load_prices, price_note

    prices = load_prices()
    priced: dict[str, pd.DataFrame] = {}
    used: dict[str, str] = {}
    unpriced = []
    for r in runs:
        if r.compute is None:
            continue
        frame = r.compute.copy()
        model = r.manifest.model
        cost = [
            dollars(model, f, p, c, prices)
            for f, p, c in zip(
                frame["flops"], frame["prompt_tokens"], frame["completion_tokens"], strict=True
            )
        ]
        frame["dollars"] = [x[0] for x in cost]
        frame["priced_by"] = [x[1] for x in cost]
        if np.isfinite(frame["dollars"]).any():
            priced[r.label] = frame
            used[r.label] = price_note(model, prices)
        else:
            unpriced.append(r.label)
    return priced, used, unpriced


def cost_section(runs: list[Any], out: Path, plots: Path, title: str, cap: str) -> str:
    """Coverage against eFLOPs and dollars, and the allocation across models in FLOPs,
    eFLOPs and dollars (``allocation_by_unit.csv``)."""
    from analysis.budgets import change_sentence, choices_by_unit
    from harness.report.plots import runs_figure

    body = ""
    with_eflops = {
        r.label: r.compute for r in runs if r.compute is not None and "eflops" in r.compute
    }
    if with_eflops:
        runs_figure(
            plots / "coverage_eflops", with_eflops, "eflops", "eFLOPs (memory-aware)", title, cap
        )
        accelerators = sorted(
            {str(r.compute_info.get("accelerator")) for r in runs if r.compute_info.get("eflops")}
        )
        body += h.figure(
            "plots/coverage_eflops.png",
            "coverage vs eFLOPs",
            "Coverage against Kinetics eFLOPs (FLOPs + I x KV-cache elements read); "
            + "; ".join(accelerators)
            + ".",
            cap,
        )
    priced, used, unpriced = priced_now(runs)
    if priced:
        runs_figure(plots / "coverage_dollars", priced, "dollars", "cost (US dollars)", title, cap)
        body += h.figure(
            "plots/coverage_dollars.png",
            "coverage vs dollars",
            "Coverage against dollars, priced now from the price table.",
            cap,
        )
        body += h.meta_list([(f"prices used: {k}", v) for k, v in used.items()])
    if unpriced:
        body += h.notes(
            [f"No dollar figures for {', '.join(unpriced)}: no known price for their models."]
        )
    curves: dict[str, dict[str, tuple[Any, Any]]] = {}
    flops = {r.label: r.compute for r in runs if r.compute is not None}
    if len(flops) >= 2:
        curves["flops"] = {k: (v["flops"], v["coverage"]) for k, v in flops.items()}
    if len(with_eflops) >= 2:
        curves["eflops"] = {k: (v["eflops"], v["coverage"]) for k, v in with_eflops.items()}
    if len(priced) >= 2:
        curves["dollars"] = {k: (v["dollars"], v["coverage"]) for k, v in priced.items()}
    if len(curves) < 1:
        return body
    table = choices_by_unit(curves)
    table.to_csv(out / "allocation_by_unit.csv", index=False)
    sentence = change_sentence(table, list(curves))
    return (
        body
        + "<h3>Which model a budget should go to, by unit</h3>"
        + "<p>Budgets are made comparable through a real workload: what each run spends on "
        "k samples per problem, costed in each unit; at that budget each unit picks the run "
        "with the most coverage (linear in k between measured k).</p>"
        + f"<p><b>{h.esc(sentence)}</b></p>"
        + h.table(table)
    )


def nextrun_section(runs: list[Any]) -> str:
    """Each run's k* against its weak verifier and its best stopping rules, with every
    sentence ``harness analyze`` wrote on what its numbers mean for the next run."""
    rows, stops, sentences = [], [], []
    for r in runs:
        info = r.summary.get("imperfect_verifier")
        if info:
            row = {
                "run": r.label,
                "weak": info["weak"],
                "strong": info["strong"],
                "false positives": info["false_positives"],
                "ceiling t/b": info["ceiling"],
            }
            row.update({f"k* (c={c})": v for c, v in info["k_star"].items()})
            rows.append(row)
        sentences += [f"{r.label}: {x}" for x in r.summary.get("advice") or []]
        for rule, best in ((r.summary.get("stopping") or {}).get("best") or {}).items():
            stops.append(
                {
                    "run": r.label,
                    "rule": rule,
                    "parameter": best["parameter"],
                    "samples (mean)": best["expected_samples"],
                    "accuracy": best["accuracy"],
                    "baseline": best["baseline"],
                    "gain": best["gain"],
                    "gain CI low": best.get("gain_lo"),
                    "gain CI high": best.get("gain_hi"),
                }
            )
    if not rows and not stops and not sentences:
        return ""
    body = "<h2>Where the next sample should go</h2>"
    if sentences:
        body += "<ul>" + "".join(f"<li>{h.esc(x)}</li>" for x in sentences) + "</ul>"
    if rows:
        body += "<h3>Imperfect verifiers: best k per cost of a false positive</h3>"
        body += h.table(pd.DataFrame(rows))
    if stops:
        body += "<h3>Adaptive stopping: each run's best setting of each rule</h3>"
        body += h.table(pd.DataFrame(stops))
    return body
