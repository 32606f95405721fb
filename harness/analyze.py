"""``harness analyze``: every table and fit the report shows, written under ``analysis/``.

Files (all CSV unless noted):

    coverage.csv        k, coverage for every k <= N (N: fewest samples of any problem)
    per_problem.csv     problem_id, n, c, rate, lo, hi (Jeffreys interval), metadata
    coverage_ci.csv     k, coverage, lo, hi, std: percentile bootstrap over problems
    fit.json            power law a, b (+ CI, residuals), Beta model, backtest, bootstrap
    extrapolation.csv   k beyond N: power_law, lo, hi, beta
    groups.csv          coverage per problem subgroup (metadata such as level, subject)
    selection.csv       k, coverage, majority, best_of_k:<scorer>
    compute.csv/.json   tokens, FLOPs, dollars per k (when the model's size is known)
    early_stopping.csv  samples saved by stopping at the first accepted sample
    verifier_errors.csv confusion of every other verifier against this one (+ curves)
    summary.json        what was analysed, with which settings and versions

Verdicts are read as columns (``analysis.columns``), never as one object per verdict.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.columns import VerdictColumns, read_token_counts, read_verdict_columns
from analysis.passk import (
    bootstrap_replicates,
    coverage_by_group,
    coverage_curve,
    log_spaced_ks,
    per_problem_rates,
)
from harness.errors import UsageError
from harness.records import RunManifest
from harness.store import RunStore
from harness.versions import package_versions

FULL_CI_MAX_K = 20_000  # bootstrap every k up to this N, a log grid beyond
EXTRAPOLATE_TO = 100  # extrapolate to 100 x N
MAX_GROUP_VALUES = 30


@dataclass(frozen=True)
class AnalysisSettings:
    """Knobs of the analysis, recorded in ``summary.json`` and ``fit.json``."""

    n_boot: int = 1000
    seed: int = 0
    level: float = 0.95
    fit_points: int = 40
    shared_prefix: bool = True


@dataclass
class Analysis:
    """What one analyze call produced (the frames are also on disk)."""

    verifier: str
    coverage: pd.DataFrame
    files: list[Path] = field(default_factory=list)
    fit: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)


def _json(path: Path, data: Any) -> Path:
    def clean(x: Any) -> Any:
        if isinstance(x, dict):
            return {k: clean(v) for k, v in x.items()}
        if isinstance(x, list | tuple):
            return [clean(v) for v in x]
        if isinstance(x, np.generic):
            x = x.item()
        if isinstance(x, float) and not math.isfinite(x):
            return None
        return x

    path.write_text(json.dumps(clean(data), indent=2) + "\n")
    return path


def pick_verifier(store: RunStore, verifier: str | None) -> str:
    """The verifier to analyse: the one asked for, the only one present, or the run's."""
    present = store.verifiers()
    if verifier is None:
        if len(present) == 1:
            verifier = present[0]
        else:
            from harness.pipeline import default_verifier

            verifier = default_verifier(store)
    if verifier not in present:
        raise UsageError(
            f"{store.root} has no verdicts from {verifier!r}; run harness verify first"
        )
    return verifier


def load_truth(store: RunStore, verifier: str) -> VerdictColumns:
    """The verdicts of ``verifier`` as columns; a UsageError when there are none."""
    cols = read_verdict_columns(store.verdicts_path(verifier))
    if not len(cols):
        raise UsageError(f"{store.root}: verdicts/{verifier}.jsonl is empty; run harness verify")
    return cols


def _fit_section(
    store: RunStore,
    cols: VerdictColumns,
    n: np.ndarray,
    c: np.ndarray,
    k_max: int,
    s: AnalysisSettings,
    out: Analysis,
) -> None:
    from analysis.scaling import backtest, bootstrap_fit, fit_beta_binomial, fit_scaling_law

    fit_ks = log_spaced_ks(k_max, s.fit_points)
    if fit_ks.size < 3:
        out.notes.append(f"no fit: need at least 3 distinct k, have N={k_max}")
        return
    curve = coverage_curve(n, c, fit_ks)
    if not (curve > 0).any():
        out.notes.append("no fit: coverage is 0 at every k")
        return
    fit = fit_scaling_law(fit_ks, curve, points=None)
    reps = bootstrap_replicates(n, c, fit_ks, n_boot=s.n_boot, seed=s.seed)
    interval = bootstrap_fit(reps, fit_ks, level=s.level)
    beta = fit_beta_binomial(n, c)
    ext_k = np.unique(np.rint(np.geomspace(k_max, k_max * EXTRAPOLATE_TO, 60)).astype(np.int64))
    lo, hi = interval.band(ext_k)
    ext = pd.DataFrame(
        {
            "k": ext_k,
            "power_law": fit.predict(ext_k),
            "lo": lo,
            "hi": hi,
            "beta": beta.predict(ext_k),
        }
    )
    out.files.append(store.analysis_dir / "extrapolation.csv")
    ext.to_csv(out.files[-1], index=False)
    head = k_max // 10
    bt: dict[str, Any] | None = None
    if head >= 4:
        n_head, c_head = cols.counts(max_index=head)
        try:
            result = backtest(
                n_head, c_head, k_max, float(coverage_curve(n, c, [k_max])[0]), points=s.fit_points
            )
            bt = result.to_dict()
        except ValueError as e:
            out.notes.append(f"no backtest: {e}")
    else:
        out.notes.append(f"no backtest: N/10 = {head} samples is too few to fit (need N >= 40)")
    at = [k for k in (k_max, 10 * k_max, EXTRAPOLATE_TO * k_max)]
    out.fit = {
        "model": "log c(k) = a * k^b",
        "a": fit.a,
        "b": fit.b,
        "a_se": fit.a_se,
        "b_se": fit.b_se,
        "a_ci": list(interval.a_ci),
        "b_ci": list(interval.b_ci),
        "rmse_log_coverage": fit.rmse,
        "fit_k": fit.ks.tolist(),
        "residuals": fit.residuals.tolist(),
        "backtest_error": bt["power_law_error"] if bt else None,
        "backtest": bt,
        "beta_model": {"alpha": beta.alpha, "beta": beta.beta, "loglik": beta.loglik},
        "better_extrapolator": bt["better"] if bt else None,
        "predictions": [
            {"k": k, "power_law": float(fit.predict(k)), "beta": float(beta.predict(k))} for k in at
        ],
        "bootstrap": {
            "resamples": s.n_boot,
            "seed": s.seed,
            "level": s.level,
            "over": "problems, with replacement",
        },
        "problems": int(n.size),
        "N": k_max,
    }
    out.files.append(_json(store.analysis_dir / "fit.json", out.fit))


def _groups_section(
    store: RunStore,
    cols: VerdictColumns,
    n: np.ndarray,
    c: np.ndarray,
    ks: np.ndarray,
    per_problem: pd.DataFrame,
    out: Analysis,
) -> None:
    meta: dict[str, dict[str, Any]] = {}
    for p in store.read_problems():
        meta[p.id] = p.metadata or {}
    frames = []
    keys = sorted({k for m in meta.values() for k in m})
    for key in keys:
        values = [meta.get(pid, {}).get(key) for pid in cols.problem_ids]
        if any(isinstance(v, dict | list) for v in values):
            continue
        labels = ["(none)" if v is None else str(v) for v in values]
        distinct = set(labels)
        if not 2 <= len(distinct) <= MAX_GROUP_VALUES:
            continue
        per_problem[key] = labels
        frame = coverage_by_group(n, c, labels, ks)
        frame.insert(0, "key", key)
        frames.append(frame)
    if frames:
        out.files.append(store.analysis_dir / "groups.csv")
        pd.concat(frames, ignore_index=True).to_csv(out.files[-1], index=False)


def _selection_section(
    store: RunStore,
    name: str,
    truth: VerdictColumns,
    ks: np.ndarray,
    s: AnalysisSettings,
    out: Analysis,
) -> None:
    from analysis.selection import selection_curves
    from analysis.verifier_errors import verifier_errors

    others = {
        v: read_verdict_columns(store.verdicts_path(v)) for v in store.verifiers() if v != name
    }
    scorers = {name: truth, **others}
    majority_csv = store.analysis_dir / "majority.csv"
    frame = selection_curves(
        truth, scorers, ks, with_majority=not majority_csv.exists(), seed=s.seed
    )
    if "majority" not in frame and majority_csv.exists():
        # Written by the majority step: reuse it at the k it has.
        maj = pd.read_csv(majority_csv)
        frame = frame.merge(maj[["k", "majority"]], on="k", how="left")
    out.files.append(store.analysis_dir / "selection.csv")
    frame.to_csv(out.files[-1], index=False)
    rows = []
    for other, cols in others.items():
        try:
            errs = verifier_errors(truth, cols, ks, names=(name, other))
        except ValueError:
            out.notes.append(f"verifier {other!r} judged no sample {name!r} judged")
            continue
        rows.append({"verifier": other, "truth": name, **errs.confusion.to_dict()})
        path = store.analysis_dir / f"verifier_curves_{other}.csv"
        errs.curves.to_csv(path, index=False)
        out.files.append(path)
    if rows:
        out.files.append(store.analysis_dir / "verifier_errors.csv")
        pd.DataFrame(rows).to_csv(out.files[-1], index=False)


def _compute_section(
    store: RunStore,
    manifest: RunManifest,
    cols: VerdictColumns,
    coverage: pd.DataFrame,
    s: AnalysisSettings,
    out: Analysis,
) -> None:
    from analysis.compute import ModelSize, compute_curve, problem_compute
    from analysis.prices import load_prices
    from harness.models import model_facts

    facts = model_facts(manifest.model)
    info: dict[str, Any] = {"model": manifest.model, "available": False}
    tokens = read_token_counts(store.samples_path)
    if facts.params is None or facts.layers is None or facts.d_model is None:
        info["reason"] = f"size of model {manifest.model!r} unknown (params, layers, d_model)"
    elif not tokens.problem.size or not (tokens.completion_tokens > 0).any():
        info["reason"] = "samples carry no token counts"
    else:
        size = ModelSize(facts.params, facts.layers, facts.d_model, facts.source)
        pc = problem_compute(tokens, size)
        prices = load_prices()
        frame = compute_curve(
            pc,
            cols.problem_ids,
            coverage["k"],
            coverage["coverage"],
            manifest.model,
            prices,
            shared_prefix=s.shared_prefix,
        )
        out.files.append(store.analysis_dir / "compute.csv")
        frame.to_csv(out.files[-1], index=False)
        info.update(
            available=True,
            params=size.params,
            layers=size.layers,
            d_model=size.d_model,
            facts_from=size.source,
            shared_prefix=s.shared_prefix,
            mean_prompt_tokens=float(pc.prompt_tokens.mean()),
            mean_completion_tokens=float(pc.completion_tokens.mean()),
            flops_per_sample=float(pc.sample_flops.mean()),
            flops_per_prompt=float(pc.prompt_flops.mean()),
            priced_by=str(frame["priced_by"].iloc[0]),
            gpu=prices["gpu"],
            formula="2*(params + 2*layers*d_model*context) per token",
        )
    if not info["available"]:
        out.notes.append(f"no compute accounting: {info['reason']}")
    out.files.append(_json(store.analysis_dir / "compute.json", info))


def analyze_run(
    run_dir: Path | str, verifier: str | None = None, settings: AnalysisSettings | None = None
) -> Analysis:
    """Write every analysis file of a run directory; see the module docstring.

    Args:
        run_dir: The run directory.
        verifier: Whose verdicts define correctness (default: the only one present, else
            the run's verifier).
        settings: Bootstrap and fit settings.

    Raises:
        UsageError: not a run directory, or no verdicts to analyse.
    """
    from analysis.allocation import early_stopping_table

    s = settings or AnalysisSettings()
    store = RunStore(run_dir)
    manifest = store.read_manifest()
    name = pick_verifier(store, verifier)
    truth = load_truth(store, name)
    n, c = truth.counts()
    k_max = int(n.min())
    ks = np.arange(1, k_max + 1)
    curve = coverage_curve(n, c, ks)
    coverage = pd.DataFrame({"k": ks, "coverage": curve})
    store.analysis_dir.mkdir(parents=True, exist_ok=True)
    out = Analysis(name, coverage, statuses=truth.status_counts())
    out.files.append(store.analysis_dir / "coverage.csv")
    coverage.to_csv(out.files[-1], index=False)

    ci_ks = ks if k_max <= FULL_CI_MAX_K else log_spaced_ks(k_max, 400)
    reps = bootstrap_replicates(n, c, ci_ks, n_boot=s.n_boot, seed=s.seed)
    alpha = (1 - s.level) / 2
    lo, hi = np.quantile(reps, [alpha, 1 - alpha], axis=0)
    ci = pd.DataFrame(
        {
            "k": ci_ks,
            "coverage": curve[ci_ks - 1],
            "lo": lo,
            "hi": hi,
            "std": reps.std(axis=0, ddof=1) if s.n_boot > 1 else 0.0,
        }
    )
    del reps
    out.files.append(store.analysis_dir / "coverage_ci.csv")
    ci.to_csv(out.files[-1], index=False)

    grid = log_spaced_ks(k_max, s.fit_points)
    per_problem = per_problem_rates(n, c, s.level)
    per_problem.insert(0, "problem_id", truth.problem_ids)
    for status, counts in truth.status_by_problem().items():
        per_problem[f"status_{status}"] = counts
    _groups_section(store, truth, n, c, grid, per_problem, out)
    out.files.append(store.analysis_dir / "per_problem.csv")
    per_problem.to_csv(out.files[-1], index=False)
    _fit_section(store, truth, n, c, k_max, s, out)
    _selection_section(store, name, truth, grid, s, out)
    _compute_section(store, manifest, truth, coverage, s, out)
    out.files.append(store.analysis_dir / "early_stopping.csv")
    early_stopping_table(grid, curve, int(n.size)).to_csv(out.files[-1], index=False)
    summary = {
        "run": str(store.root),
        "task": manifest.task,
        "model": manifest.model,
        "seed": manifest.sampling.seed,
        "verifier": name,
        "verifiers": store.verifiers(),
        "problems": int(n.size),
        "samples": len(truth),
        "statuses": out.statuses,
        "N": k_max,
        "settings": s.__dict__,
        "notes": out.notes,
        "versions": package_versions(),
        "files": sorted({f.name for f in out.files}),
    }
    out.files.append(_json(store.analysis_dir / "summary.json", summary))
    return out
