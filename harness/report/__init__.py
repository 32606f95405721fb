"""``harness report``: one HTML page and PNG/PDF plots for one run directory.

Reads what ``harness analyze`` wrote under ``analysis/`` (the CSV tables stay there and
are linked from the page) and draws the figures into ``plots/``: coverage with its
bootstrap band, power-law fit and extrapolation; selection@k; coverage against FLOPs,
eFLOPs and dollars; subgroups; per-problem success rates; samples saved by early
stopping; adaptive stopping rules; U(k) against an imperfect verifier; and the errors of
other verifiers, with one sentence per finding on what it means for the next run. Every
caption names model, task, seed and versions.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.analyze import read_summary
from harness.core.fits import RELIABLE_MIN_PROBLEMS, FitSummary, read_fit
from harness.core.store import RunStore
from harness.report import page as h
from harness.report.cost import compute_section
from harness.report.facts import key_numbers, run_facts, title_of
from harness.report.nextrun import advice_section, imperfect_section, stopping_section
from harness.report.selection import selection_compute_section, selection_section


def _read_json(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path.exists() else None


def _read_csv(path: Path) -> pd.DataFrame | None:
    return pd.read_csv(path) if path.exists() else None


def _powers_of_two(frame: pd.DataFrame, column: str = "k") -> pd.DataFrame:
    ks = frame[column].to_numpy()
    keep = (ks & (ks - 1) == 0) | (ks == ks.max())
    return frame[keep]


def _fit_text(fit: FitSummary) -> str:
    bt = fit.backtest
    lines = [
        f"log c(k) = a·k^b with a = {fit.a:.4f} (95% CI {fit.a_ci[0]:.4f} to "
        f"{fit.a_ci[1]:.4f}), b = {fit.b:.4f} (95% CI {fit.b_ci[0]:.4f} to "
        f"{fit.b_ci[1]:.4f}); RMS residual {fit.rmse_log_coverage:.4f} in log coverage, "
        f"fitted on {len(fit.fit_k)} log-spaced k; CIs from {fit.bootstrap['resamples']} "
        f"bootstrap resamples of the problems (seed {fit.bootstrap['seed']}).",
    ]
    if bt:
        better = "the power law" if bt.better == "power_law" else "the Beta model"
        lines.append(
            f"Backtest: fitted on the first {bt.head_samples} samples of each problem, the "
            f"power law predicts c({bt.target_k}) = {bt.power_law_prediction:.4f} and the "
            f"Beta model {bt.beta_prediction:.4f}; observed {bt.observed:.4f}. "
            f"Errors {bt.power_law_error:+.4f} and {bt.beta_error:+.4f}: {better} "
            "extrapolates better here."
        )
    return "".join(f"<p>{h.esc(x)}</p>" for x in lines)


def _coverage_section(
    a: Path, plots: Path, title: str, cap: str, fit: FitSummary | None, problems: int
) -> str:
    from harness.report.plots import coverage_figure

    ci = pd.read_csv(a / "coverage_ci.csv")
    ext = _read_csv(a / "extrapolation.csv")
    cautions = []
    beta_note = fit.beta_note() if fit is not None else None
    if ext is not None and beta_note:
        ext = ext.drop(columns=["beta"], errors="ignore")
        cautions.append(beta_note + ".")
    if problems < RELIABLE_MIN_PROBLEMS:
        cautions.append(
            f"The intervals come from {problems} problem(s) and are unreliable: a bootstrap "
            f"over problems needs about {RELIABLE_MIN_PROBLEMS} or more."
        )
    coverage_figure(plots / "coverage", ci, fit, ext, title, cap)
    body = h.figure(
        "plots/coverage.png",
        "coverage curve",
        "Coverage (pass@k, unbiased estimator) against samples per problem, with a "
        "95% percentile bootstrap band over problems, the power-law fit and its "
        "extrapolation" + ("" if beta_note else ", and the Beta model") + ".",
        cap,
    )
    if fit is not None:
        body += _fit_text(fit)
    body += h.notes(cautions)
    table = _powers_of_two(ci)[["k", "coverage", "lo", "hi"]]
    body += "<h3>Coverage at k = 1, 2, 4, …</h3>" + h.table(
        table, headers={"lo": "95% CI low", "hi": "95% CI high"}
    )
    if ext is not None:
        show = ext.iloc[np.unique(np.linspace(0, len(ext) - 1, 8).round().astype(int))]
        checked = fit is not None and fit.backtest is not None
        body += (
            "<h3>Extrapolation</h3>"
            if checked
            else "<h3>Extrapolation (no backtest: unchecked)</h3>"
            + h.notes(
                [
                    "No backtest could be run (it needs N >= 40 samples per problem), so "
                    "nobody knows how far off these values are; they are not headlines."
                ]
            )
        )
        body += h.table(
            show,
            headers={
                "power_law": "power law",
                "lo": "CI low",
                "hi": "CI high",
                "beta": "Beta model",
            },
        )
    return "<h2>Coverage</h2>" + body


def _groups_section(a: Path, plots: Path, title: str, cap: str) -> str:
    from harness.report.plots import groups_figure

    groups = _read_csv(a / "groups.csv")
    if groups is None:
        return ""
    body = ""
    for key, frame in groups.groupby("key", sort=True):
        name = f"groups_{key}"
        groups_figure(plots / name, frame, f"{title} · by {key}", cap)
        body += h.figure(
            f"plots/{name}.png",
            f"coverage by {key}",
            f"Coverage per {key} (problems in parentheses).",
            cap,
        )
    return "<h2>Subgroups</h2>" + body


def _rates_section(a: Path, plots: Path, title: str, cap: str, fit: FitSummary | None) -> str:
    from harness.report.plots import rates_figure

    per = pd.read_csv(a / "per_problem.csv")
    beta = fit.beta_model if fit else None
    rates_figure(plots / "rates", per["rate"].to_numpy(), beta, title, cap)
    hard = per.sort_values("rate").head(10)[["problem_id", "n", "c", "rate", "lo", "hi"]]
    return (
        "<h2>Per-problem success rates</h2>"
        + h.figure(
            "plots/rates.png",
            "per-problem success rates",
            "Distribution of per-problem success rates with the fitted Beta.",
            cap,
        )
        + "<h3>Hardest problems</h3>"
        + h.table(hard)
    )


def _allocation_section(a: Path, plots: Path, title: str, cap: str) -> str:
    from harness.report.plots import savings_figure

    stop = _read_csv(a / "early_stopping.csv")
    if stop is None:
        return ""
    savings_figure(plots / "early_stopping", stop, title, cap)
    return (
        "<h2>Allocation across problems</h2>"
        + h.figure(
            "plots/early_stopping.png",
            "samples saved",
            "Stopping a problem at its first accepted sample reaches the same "
            "coverage as k samples per problem with fewer samples.",
            cap,
        )
        + h.table(
            _powers_of_two(stop),
            headers={
                "uniform_samples": "samples (uniform)",
                "adaptive_samples": "samples (stop at first accepted)",
                "saved": "fraction saved",
            },
        )
    )


def _verifier_section(a: Path, plots: Path, title: str, cap: str) -> str:
    from harness.report.plots import curves_figure

    errs = _read_csv(a / "verifier_errors.csv")
    if errs is None:
        return ""
    body = h.table(errs.drop(columns=["truth"]))
    for name in errs["verifier"]:
        frame = _read_csv(a / f"verifier_curves_{name}.csv")
        if frame is None or frame.empty:
            continue
        curves_figure(
            plots / f"verifier_{name}",
            frame,
            {
                "true_coverage": "true coverage",
                "claimed_coverage": f"coverage claimed by {name}",
                "accept_at_k": f"submit an answer {name} accepts",
            },
            f"{title} · {name}",
            cap,
        )
        body += h.figure(
            f"plots/verifier_{name}.png",
            f"errors of {name}",
            f"Verifier {name} against the ground truth.",
            cap,
        )
    truth = errs["truth"].iloc[0]
    return f"<h2>Verifier errors (against {h.esc(truth)})</h2>" + body


def report(run_dir: Path | str, partial: bool = False) -> Path:
    """Write ``plots/*.png|pdf`` and ``report.html`` for an analysed run; returns the page.

    Args:
        run_dir: The run directory.
        partial: Make the page from an analysis of part of the run (labelled as such).

    Raises:
        UsageError: not a run directory, no analysis or one older than the run's data, or
            a partial analysis without ``partial``.
    """
    store = RunStore(run_dir)
    manifest = store.read_manifest()
    a = store.analysis_dir
    summary = read_summary(store, partial)
    fit = read_fit(a / "fit.json")
    plots = store.root / "plots"
    plots.mkdir(exist_ok=True)
    title = title_of(manifest)
    cap = h.provenance(manifest, summary["verifier"])
    ci = pd.read_csv(a / "coverage_ci.csv")
    body = key_numbers(summary, ci, fit)
    body += h.notes(summary.get("notes", []))
    body += advice_section(summary)
    body += _coverage_section(a, plots, title, cap, fit, int(summary["problems"]))
    body += selection_section(a, plots, title, cap, summary)
    body += selection_compute_section(a, plots, title, cap)
    body += compute_section(a, plots, title, cap, manifest.model)
    body += _allocation_section(a, plots, title, cap)
    body += stopping_section(a, plots, title, cap, summary)
    body += imperfect_section(a, plots, title, cap, summary)
    body += _groups_section(a, plots, title, cap)
    body += _rates_section(a, plots, title, cap, fit)
    body += _verifier_section(a, plots, title, cap)
    body += "<h2>Run</h2>" + h.meta_list(run_facts(manifest, summary))
    body += "<h3>Tables (CSV)</h3>" + h.links(
        sorted(a.glob("*.csv")) + sorted(a.glob("*.json")), store.root
    )
    subtitle = (
        f"run {manifest.run_id or store.root.name} · created {manifest.created} · {manifest.source}"
    )
    if summary.get("partial"):
        subtitle += f" · {summary['partial']}"
    out = store.root / "report.html"
    out.write_text(h.page(title, subtitle, body), encoding="utf-8")
    return out
