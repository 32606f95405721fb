"""The report's words: the key-number cards, the page title and the run's facts.

Kept apart from ``harness.report``, which draws the figures and lays out the sections.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from harness.core.fits import RELIABLE_MIN_PROBLEMS, FitSummary
from harness.core.manifest import RunManifest
from harness.report import page as h


def _status_item(statuses: dict[str, int]) -> list[tuple[str, str, str]]:
    # The share of verdicts that passed and how the rest ended, where more than pass/fail.
    total = sum(statuses.values())
    if not total or set(statuses) <= {"passed", "failed"}:
        return []
    rest = ", ".join(f"{k} {v:,}" for k, v in statuses.items() if k != "passed")
    return [("verdicts passed", f"{statuses.get('passed', 0) / total:.1%}", rest)]


def _interval(row: pd.Series, problems: int) -> str:
    if problems < RELIABLE_MIN_PROBLEMS:
        return f"interval unreliable: {problems} problem(s) (needs {RELIABLE_MIN_PROBLEMS}+)"
    return f"CI {row['lo']:.3f}–{row['hi']:.3f}"


def _fit_items(fit: FitSummary) -> list[tuple[str, str, str]]:
    items = [
        (
            "power law a, b",
            f"{fit.a:.3f}, {fit.b:.3f}",
            f"b CI {fit.b_ci[0]:.3f}–{fit.b_ci[1]:.3f}",
        )
    ]
    bt = fit.backtest
    if bt is None:
        # An extrapolation nobody has checked is no headline: it stays in the table.
        return items
    pred = fit.predictions[-1]
    detail = (
        f"backtest error {bt.power_law_error:+.3f} (fit on k≤{bt.head_samples}, "
        f"predict k={bt.target_k})"
    )
    if fit.beta_fits:
        detail += f"; Beta model {pred.beta:.3f}"
    items.append((f"predicted @{pred.k:,}", f"{pred.power_law:.3f}", detail))
    return items


def key_numbers(summary: dict[str, Any], ci: pd.DataFrame, fit: FitSummary | None) -> str:
    """The cards at the top of the page: size, coverage, fit, how the verdicts ended.

    Intervals over too few problems are marked unreliable rather than printed; an
    extrapolated value is a headline only with its backtest error beside it.
    """
    first, last = ci.iloc[0], ci.iloc[-1]
    problems = int(summary["problems"])
    items = [
        ("problems", f"{problems:,}", f"{summary['samples']:,} samples judged"),
        ("samples per problem", f"{summary['N']:,}", f"verifier {summary['verifier']}"),
        *_status_item(summary.get("statuses") or {}),
        ("coverage @1", f"{first['coverage']:.3f}", _interval(first, problems)),
        (f"coverage @{int(last['k'])}", f"{last['coverage']:.3f}", _interval(last, problems)),
    ]
    if fit is not None:
        items += _fit_items(fit)
    cut = summary.get("truncated")
    if cut and cut["count"]:
        items.append(
            (
                "hit --max-tokens",
                f"{cut['share']:.1%}",
                f"{cut['count']:,} of {cut['of']:,} samples (finish_reason=length)",
            )
        )
    return h.cards(items)


def title_of(manifest: RunManifest) -> str:
    """The page title: task, model and temperature (or that the samples were imported)."""
    head = f"{manifest.task} · {manifest.label or manifest.model}"
    if manifest.source == "import":
        return f"{head} · {manifest.temperature_text()} (imported)"
    return f"{head} · {manifest.temperature_text()}"


def run_facts(manifest: RunManifest, summary: dict[str, Any]) -> list[tuple[str, Any]]:
    """The run's settings and versions, listed at the end of the page."""
    known = manifest.known_sampling()
    settings = summary.get("settings", {})
    shown = {"T": "temperature", "top_p": "top_p", "min_p": "min_p"}
    shown |= {"max_tokens": "max_tokens", "seed": "seed"}
    sampling = ", ".join(f"{name}={known.get(key, 'unknown')}" for name, key in shown.items())
    facts: list[tuple[str, Any]] = [
        ("task", f"{manifest.task} {json.dumps(manifest.task_options)}"),
        ("model", manifest.model),
        ("backend", manifest.backend),
        ("sampling", sampling),
        ("samples per problem", manifest.n),
        ("problems", manifest.num_problems),
        ("dataset hash", manifest.dataset_hash),
        ("verifiers", ", ".join(summary.get("verifiers", []))),
        (
            "bootstrap",
            f"{settings.get('n_boot')} resamples, seed {settings.get('seed')}, "
            f"level {settings.get('level')}",
        ),
        ("versions", ", ".join(f"{k} {v}" for k, v in manifest.versions.items())),
        (
            "analysis versions",
            ", ".join(f"{k} {v}" for k, v in summary.get("versions", {}).items()),
        ),
    ]
    if manifest.label:
        facts.insert(0, ("label", manifest.label))
    if manifest.cost_per_sample is not None:
        facts.append(("cost per sample", f"{manifest.cost_per_sample:g} {manifest.cost_unit}"))
    return facts
