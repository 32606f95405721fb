"""``harness compare RUN...``: one HTML page comparing analysed runs.

Shows coverage against k, FLOPs, eFLOPs and dollars for all runs on shared axes, a table
of the fits and backtests, coverage at equal FLOPs (which model buys more coverage for
the same compute), which model a budget should go to in FLOPs, eFLOPs and dollars (and
whether the unit changes the answer), every selection method against total (generation
+ verification) FLOPs, each run's k* against its weak verifier and best stopping rules,
and, for runs of one task on the same problems, the OSCA allocation
(``compare_allocation``): the mix of sample counts across the runs' configurations that
maximises coverage for a budget, chosen on training problems and scored on held-out ones,
against the best single configuration chosen on the same training problems, over many
random splits or the split the problems name. What produced the runs is said once per
page (and once under each figure), not once per run.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from harness.analyze import read_summary
from harness.core.errors import UsageError
from harness.core.fits import FitSummary, read_fit
from harness.core.manifest import RunManifest
from harness.core.store import RunStore
from harness.report import page as h
from harness.report.compare_allocation import (
    AllocationOptions,
    allocation_section,
    plan_allocation,
)
from harness.report.compare_cost import cost_section, nextrun_section
from harness.report.compare_selection import selection_comparison


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
    label = manifest.display_label()
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


def run_directories(paths: list[Path]) -> list[Path]:
    """The run directories named: a folder that holds no run but runs in its subfolders
    (a release imported with ``harness import --format counts``) stands for those runs.

    Raises:
        UsageError: a path that is neither a run nor a folder of runs.
    """
    found: list[Path] = []
    for path in map(Path, paths):
        if RunStore(path).exists() or not path.is_dir():
            found.append(path)
            continue
        inner = sorted(p for p in path.iterdir() if p.is_dir() and RunStore(p).exists())
        if not inner:
            raise UsageError(f"{path} holds no run (no manifest.json in it or its subfolders)")
        found.extend(inner)
    return found


def compare(
    run_dirs: list[Path],
    out_dir: Path | None = None,
    partial: bool = False,
    allow_mixed: bool = False,
    allocation: AllocationOptions | None = None,
) -> Path:
    """Write ``compare.html``, ``plots/`` and CSV tables comparing analysed runs.

    Args:
        run_dirs: Analysed run directories (or folders of them).
        out_dir: Where the page goes (default ``results/compare-<time>``).
        partial: Accept runs whose analysis covers only part of their samples (labelled).
        allow_mixed: Accept runs of different tasks or problem sets (labelled on the page).
        allocation: How the allocation section splits the problems and which budgets.

    Raises:
        UsageError: no runs, a run not analysed (or analysed before its latest data), a
            partial one without ``partial``, mixed runs without ``allow_mixed``, or
            allocation options the runs do not support; nothing is written then.
    """
    if not run_dirs:
        raise UsageError("compare needs at least one run directory")
    runs = [_load(d, partial) for d in run_directories(run_dirs)]
    _unique_labels(runs)
    mixed = _mixed(runs)
    if mixed and not allow_mixed:
        raise UsageError(
            f"{mixed}: their coverage is not like for like; pass --allow-mixed to compare "
            "them anyway (the page says so)"
        )
    plan = plan_allocation(runs, allocation or AllocationOptions())
    out = (
        Path(out_dir) if out_dir else Path("results") / f"compare-{time.strftime('%Y%m%d-%H%M%S')}"
    )
    plots = out / "plots"
    plots.mkdir(parents=True, exist_ok=True)
    tasks = sorted({r.manifest.task for r in runs})
    title = f"{' / '.join(tasks)} · {len(runs)} runs"
    cap = h.shared_provenance([(r.manifest, r.summary["verifier"]) for r in runs])
    body = f'<p class="prov">What produced these runs: {h.esc(cap)} (each run: the Runs table)</p>'
    if mixed:
        body += h.notes([f"Mixed comparison: {mixed}, so no number here is like for like."])
    body += h.notes(
        [f"{r.label}: {r.summary['partial']}" for r in runs if r.summary.get("partial")]
    )
    body += _curves_sections(runs, out, plots, title, cap)
    body += selection_comparison([(r.label, r.root) for r in runs], out, plots, title, cap)
    body += allocation_section(plan, out, plots, title, cap)
    body += nextrun_section(runs)
    body += "<h2>Runs</h2>" + h.table(
        pd.DataFrame(
            [
                {
                    "run": r.label,
                    "directory": str(r.root),
                    "task": r.manifest.task,
                    "model": r.manifest.model,
                    "temperature": r.manifest.temperature_text(),
                    "seed": r.manifest.known_sampling().get("seed", "unknown"),
                    "verifier": r.summary["verifier"],
                    "source": r.manifest.source,
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


def _curves_sections(runs: list[_Run], out: Path, plots: Path, title: str, cap: str) -> str:
    """Coverage against k, FLOPs and dollars; fits; coverage at equal FLOPs."""
    from analysis.allocation import equal_budget_table
    from harness.report.plots import runs_figure

    curves = {r.label: r.coverage for r in runs}
    runs_figure(plots / "coverage_k", curves, "k", "samples per problem k", title, cap)
    body = "<h2>Coverage</h2>" + h.figure(
        "plots/coverage_k.png", "coverage vs k", "Coverage against samples per problem."
    )
    fits = _fits_table(runs)
    fits.to_csv(out / "fits.csv", index=False)
    body += "<h3>Fits and backtests</h3>" + h.table(fits)
    with_compute = {r.label: r.compute for r in runs if r.compute is not None}
    body += "<h2>Compute</h2>"
    if with_compute:
        runs_figure(plots / "coverage_flops", with_compute, "flops", "inference FLOPs", title, cap)
        body += h.figure(
            "plots/coverage_flops.png", "coverage vs FLOPs", "Coverage against FLOPs.", cap
        )
    body += cost_section(runs, out, plots, title, cap)
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
    return body
