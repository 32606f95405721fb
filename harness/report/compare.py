"""``harness compare RUN...``: one HTML page comparing analysed runs.

Shows coverage against k, FLOPs and dollars for all runs on shared axes, a table of the
fits and backtests, coverage at equal FLOPs (which model buys more coverage for the same
compute), every selection method against total (generation + verification) FLOPs, and,
for runs of one task on the same problems, the OSCA allocation: the mix of
sample counts across the runs' configurations that maximises coverage for a budget,
chosen on half the problems and scored on the other half, against the best single one.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.analyze import read_summary
from harness.core.errors import UsageError
from harness.core.fits import FitSummary, read_fit
from harness.core.manifest import RunManifest
from harness.core.store import RunStore
from harness.report import page as h
from harness.report.compare_selection import selection_comparison

OSCA_SEED = 0


@dataclass
class _Run:
    label: str
    root: Path
    manifest: RunManifest
    summary: dict[str, Any]
    coverage: pd.DataFrame
    per_problem: pd.DataFrame
    fit: FitSummary | None
    compute: pd.DataFrame | None
    compute_info: dict[str, Any]


def _load(root: Path, partial: bool) -> _Run:
    store = RunStore(root)
    manifest = store.read_manifest()
    a = store.analysis_dir
    summary = read_summary(store, partial)
    info_path = a / "compute.json"
    label = f"{manifest.model} T={manifest.sampling.temperature}"
    return _Run(
        label=label + (" (partial)" if summary.get("partial") else ""),
        root=root,
        manifest=manifest,
        summary=summary,
        coverage=pd.read_csv(a / "coverage.csv"),
        per_problem=pd.read_csv(a / "per_problem.csv", dtype={"problem_id": str}),
        fit=read_fit(a / "fit.json"),
        compute=pd.read_csv(a / "compute.csv") if (a / "compute.csv").exists() else None,
        compute_info=json.loads(info_path.read_text()) if info_path.exists() else {},
    )


def _unique_labels(runs: list[_Run]) -> None:
    seen: dict[str, int] = {}
    for r in runs:
        seen[r.label] = seen.get(r.label, 0) + 1
    for r in runs:
        if seen[r.label] > 1:
            r.label = f"{r.label} ({r.root.name})"


def _fits_table(runs: list[_Run]) -> pd.DataFrame:
    rows = []
    for r in runs:
        cov = r.coverage["coverage"]
        fit, bt = r.fit, r.fit.backtest if r.fit else None
        rows.append(
            {
                "run": r.label,
                "task": r.manifest.task,
                "problems": r.summary["problems"],
                "N": r.summary["N"],
                "coverage@1": float(cov.iloc[0]),
                "coverage@N": float(cov.iloc[-1]),
                "a": fit.a if fit else None,
                "b": fit.b if fit else None,
                "b CI low": fit.b_ci[0] if fit else None,
                "b CI high": fit.b_ci[1] if fit else None,
                "backtest error": bt.power_law_error if bt else None,
                "Beta backtest error": bt.beta_error if bt else None,
                "better": bt.better if bt else None,
            }
        )
    return pd.DataFrame(rows)


def _osca(runs: list[_Run]) -> tuple[pd.DataFrame | None, str]:
    """OSCA across runs of one task on the same problems, or (None, why not)."""
    from analysis.allocation import ConfigRun, osca_table

    tasks = {r.manifest.task for r in runs}
    if len(runs) < 2 or len(tasks) != 1:
        return None, "needs at least two runs of the same task"
    shared = set(runs[0].per_problem["problem_id"])
    for r in runs[1:]:
        shared &= set(r.per_problem["problem_id"])
    if len(shared) < 4:
        return None, "the runs share fewer than 4 problems"
    order = sorted(shared)
    by_flops = all(r.compute_info.get("available") for r in runs)
    configs = {}
    for r in runs:
        pp = r.per_problem.set_index("problem_id").loc[order]
        cost = float(r.compute_info["flops_per_sample"]) if by_flops else 1.0
        configs[r.label] = ConfigRun(pp["n"].to_numpy(np.int64), pp["c"].to_numpy(np.int64), cost)
    costs = np.array([c.cost for c in configs.values()])
    top = max(c.cost * int(c.n.min()) for c in configs.values())
    budgets = np.geomspace(costs.min(), top, 7)
    table = osca_table(configs, budgets, seed=OSCA_SEED)
    table.insert(1, "unit", "FLOPs per problem" if by_flops else "samples per problem")
    return table, ""


def _mixed(runs: list[_Run]) -> str | None:
    """What makes the runs not like for like (tasks, problem sets), or None."""
    tasks = sorted({r.manifest.task for r in runs})
    if len(tasks) > 1:
        return f"the runs are of different tasks ({', '.join(tasks)})"
    sets = {frozenset(r.per_problem["problem_id"]) for r in runs}
    if len(sets) > 1:
        sizes = ", ".join(f"{r.label}: {len(r.per_problem)}" for r in runs)
        return f"the runs are on different problem sets (problems per run: {sizes})"
    return None


def compare(
    run_dirs: list[Path],
    out_dir: Path | None = None,
    partial: bool = False,
    allow_mixed: bool = False,
) -> Path:
    """Write ``compare.html``, ``plots/`` and CSV tables comparing analysed runs.

    Args:
        run_dirs: Analysed run directories.
        out_dir: Where the page goes (default ``results/compare-<time>``).
        partial: Accept runs whose analysis covers only part of their samples (labelled).
        allow_mixed: Accept runs of different tasks or problem sets (labelled on the page).

    Raises:
        UsageError: no runs, a run not analysed (or analysed before its latest data), a
            partial one without ``partial``, or mixed runs without ``allow_mixed``.
    """
    from analysis.allocation import equal_budget_table
    from harness.report.plots import runs_figure

    if not run_dirs:
        raise UsageError("compare needs at least one run directory")
    runs = [_load(Path(d), partial) for d in run_dirs]
    _unique_labels(runs)
    mixed = _mixed(runs)
    if mixed and not allow_mixed:
        raise UsageError(
            f"{mixed}: their coverage is not like for like; pass --allow-mixed to compare "
            "them anyway (the page says so)"
        )
    out = (
        Path(out_dir) if out_dir else Path("results") / f"compare-{time.strftime('%Y%m%d-%H%M%S')}"
    )
    plots = out / "plots"
    plots.mkdir(parents=True, exist_ok=True)
    tasks = sorted({r.manifest.task for r in runs})
    title = f"{' / '.join(tasks)} · {len(runs)} runs"
    cap = " | ".join(f"{r.label}: " + h.provenance(r.manifest, r.summary["verifier"]) for r in runs)
    body = ""
    if mixed:
        body += h.notes([f"Mixed comparison: {mixed}, so no number here is like for like."])
    body += h.notes(
        [f"{r.label}: {r.summary['partial']}" for r in runs if r.summary.get("partial")]
    )
    curves = {r.label: r.coverage for r in runs}
    runs_figure(plots / "coverage_k", curves, "k", "samples per problem k", title, cap)
    body += "<h2>Coverage</h2>" + h.figure(
        "plots/coverage_k.png", "coverage vs k", "Coverage against samples per problem.", cap
    )
    fits = _fits_table(runs)
    fits.to_csv(out / "fits.csv", index=False)
    body += "<h3>Fits and backtests</h3>" + h.table(fits)
    with_compute = {r.label: r.compute for r in runs if r.compute is not None}
    body += "<h2>Compute</h2>"
    if with_compute:
        runs_figure(plots / "coverage_flops", with_compute, "flops", "inference FLOPs", title, cap)
        runs_figure(
            plots / "coverage_dollars", with_compute, "dollars", "cost (US dollars)", title, cap
        )
        body += (
            '<div class="grid2">'
            + h.figure(
                "plots/coverage_flops.png", "coverage vs FLOPs", "Coverage against FLOPs.", cap
            )
            + h.figure(
                "plots/coverage_dollars.png",
                "coverage vs dollars",
                "Coverage against dollars.",
                cap,
            )
            + "</div>"
        )
    missing = [r.label for r in runs if r.compute is None]
    if missing:
        body += h.notes(
            [
                f"No compute accounting for {', '.join(missing)} (model size or "
                "token counts unknown)."
            ]
        )
    if len(with_compute) >= 2:
        eq = equal_budget_table({k: (v["flops"], v["coverage"]) for k, v in with_compute.items()})
        eq.to_csv(out / "equal_flops.csv", index=False)
        body += "<h3>Coverage at equal FLOPs</h3>" + h.table(eq)
    body += selection_comparison([(r.label, r.root) for r in runs], out, plots, title, cap)
    osca, why = _osca(runs)
    body += "<h2>Allocation across sampling configurations</h2>"
    if osca is not None:
        osca.to_csv(out / "osca.csv", index=False)
        body += (
            "<p>Greedy mix of sample counts per configuration (by marginal coverage per "
            f"unit cost), chosen on a random half of the problems (seed {OSCA_SEED}) and "
            "scored on the other half, against the best single configuration chosen on "
            "the same half.</p>" + h.table(osca.drop(columns=["split_seed"]))
        )
    else:
        body += h.notes([f"No OSCA table: {why}."])
    body += "<h2>Runs</h2>" + h.table(
        pd.DataFrame(
            [
                {
                    "run": r.label,
                    "directory": str(r.root),
                    "task": r.manifest.task,
                    "model": r.manifest.model,
                    "seed": r.manifest.sampling.seed,
                    "verifier": r.summary["verifier"],
                    "created": r.manifest.created,
                }
                for r in runs
            ]
        )
    )
    body += "<h3>Tables (CSV)</h3>" + h.links(sorted(out.glob("*.csv")), out)
    page = out / "compare.html"
    page.write_text(
        h.page(title, "comparison of " + ", ".join(r.label for r in runs), body), encoding="utf-8"
    )
    return page
