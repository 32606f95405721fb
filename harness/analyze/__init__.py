"""``harness analyze``: every table and fit the report shows, written under ``analysis/``.

Files (all CSV unless noted):

    coverage.csv        k, coverage for every k <= N (N: fewest samples of any problem)
    per_problem.csv     problem_id, n, c, rate, lo, hi (Jeffreys interval), metadata
    coverage_ci.csv     k, coverage, lo, hi, std: percentile bootstrap over problems
    fit.json            power law a, b (+ CI, residuals), Beta model, backtest, bootstrap
    extrapolation.csv   k beyond N: power_law, lo, hi, beta
    groups.csv          coverage per problem subgroup (metadata such as level, subject)
    majority.csv        k, majority for every k <= N (+ majority_votes.csv per problem)
    selection.csv       k, coverage, majority, <method>:<verifier> for every selector
                        (best_of_k, weighted_vote, verification, tournament; bands :lo :hi)
    selection_compute.csv  each method's accuracy vs generation + verification FLOPs
    compute.csv/.json   tokens, FLOPs, eFLOPs (memory-aware), dollars per k (when the
                        model's size is known; dollars only where its price is)
    early_stopping.csv  samples saved by stopping at the first accepted sample
    stopping.csv        adaptive stopping rules (Adaptive-Consistency, early-stopping
                        self-consistency, confidence, oracle) against fixed N
    imperfect_verifier.csv  acc(k) and U(k) per cost ratio of resampling against a weak
                        verifier (when the run has one: visible tests, EvalPlus base)
    verifier_errors.csv confusion of every other verifier against this one (+ curves)
    summary.json        what was analysed, with which settings and versions, k* per cost
                        ratio, the best stopping rules, one sentence per finding on what
                        it means for the next run (``advice``) and, for verifiers that
                        run each distinct program once, how many verdicts reused an
                        identical program's run (``duplicates``)

Verdicts are read as columns (``harness.core.columns``), never as one object per verdict.
The run store is opened once and handed to every part.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.allocation import early_stopping_table
from analysis.passk import bootstrap_coverage, coverage_curve, log_spaced_ks, per_problem_rates
from harness.analyze.compute import check_memory_aware, compute_section
from harness.analyze.fit import fit_section
from harness.analyze.imperfect import imperfect_section
from harness.analyze.judged import judged, require_complete, short_problems, truncated
from harness.analyze.sections import groups_section, majority_section
from harness.analyze.selection import (
    SELECTOR_STATUSES,
    read_meta,
    selection_compute_section,
    selection_section,
)
from harness.analyze.settings import AnalysisSettings, AnalyzeResult
from harness.analyze.stopping import stopping_section
from harness.core.coltypes import VerdictColumns
from harness.core.columns import read_token_counts, read_verdict_columns
from harness.core.errors import UsageError
from harness.core.store import RunStore, write_json
from harness.core.task import TASKS
from harness.core.versions import package_versions

FULL_CI_MAX_K = 20_000  # bootstrap every k up to this N, a log grid beyond
FULL_SELECTION_MAX_K = 2048  # selection.csv at every k up to this N, a log grid beyond


def pick_verifier(store: RunStore, verifier: str | None) -> str:
    """The verifier to analyse: the one asked for, the only one present, or the run's.

    Raises:
        UsageError: that verifier has judged nothing here.
    """
    present = store.verifiers()
    if verifier is None:
        if len(present) == 1:
            verifier = present[0]
        else:
            manifest = store.read_manifest()
            if not manifest.verifier:
                raise UsageError(
                    f"{store.root} has verdicts from {', '.join(present) or 'no verifier'}; "
                    "name one with --verifier"
                )
            verifier = manifest.verifier
            if read_meta(store, verifier).get("selection"):
                # The run was made with a selector: its task's own verifier is the truth.
                default = str(TASKS.get(manifest.task).default_verifier)
                verifier = default if default in present else verifier
    if verifier not in present:
        raise UsageError(
            f"{store.root} has no verdicts from {verifier!r}; run harness verify first"
        )
    return verifier


def load_truth(store: RunStore, verifier: str) -> VerdictColumns:
    """The verdicts of ``verifier`` as columns; a UsageError when there are none, or when
    ``verifier`` is a selector (its verdicts claim nothing about correctness)."""
    cols = read_verdict_columns(store.verdicts_path(verifier))
    if not len(cols):
        raise UsageError(f"{store.root}: verdicts/{verifier}.jsonl is empty; run harness verify")
    if read_meta(store, verifier).get("selection") or (
        cols.statuses and set(cols.statuses) <= SELECTOR_STATUSES
    ):
        raise UsageError(
            f"{verifier!r} is a selector: its scores claim nothing about correctness; "
            f"analyse with a verifier that judges correctness (e.g. --verifier math) and "
            f"{verifier}'s selection curves are scored against it"
        )
    return cols


STEPS = ("majority", "coverage", "groups", "fit", "selection", "compute", "summary")
"""The parts of an analysis, in order, as ``on_step`` reports them."""


def analyze(
    run: RunStore | Path | str,
    verifier: str | None = None,
    settings: AnalysisSettings | None = None,
    partial: bool = False,
    on_step: Callable[[str], None] | None = None,
) -> AnalyzeResult:
    """Write every analysis file of a run directory; see the module docstring.

    Args:
        run: The run directory (or its open store).
        verifier: Whose verdicts define correctness (default: the only one present, else
            the run's verifier).
        settings: Bootstrap and fit settings.
        partial: Analyse what is judged when the verdicts cover only part of the run
            (every table and page then says so); by default that is refused.
        on_step: Told the name of each part (``STEPS``) once it is written.

    Raises:
        UsageError: not a run directory, no verdicts to analyse, or verdicts that cover
            only part of the run without ``partial``.
    """
    s = settings or AnalysisSettings()
    store = run if isinstance(run, RunStore) else RunStore(run)
    manifest = store.read_manifest()
    name = pick_verifier(store, verifier)
    check_memory_aware(manifest.model, s)
    truth = load_truth(store, name)
    held = read_token_counts(store.samples_path)
    coverages = {
        v: judged(v, truth if v == name else read_verdict_columns(store.verdicts_path(v)), held)
        for v in store.verifiers()
    }
    partial_note = require_complete(coverages[name], store.root, partial)
    n, c = truth.counts()
    k_max = int(n.min())
    ks = np.arange(1, k_max + 1)
    curve = coverage_curve(n, c, ks)
    coverage = pd.DataFrame({"k": ks, "coverage": curve})
    store.analysis_dir.mkdir(parents=True, exist_ok=True)
    out = AnalyzeResult(name, coverage, statuses=truth.status_counts())
    if partial_note:
        out.notes.append(partial_note)
    out.partial = partial_note
    short = short_problems(n, manifest.n) if manifest.n else None
    if short:
        out.notes.append(
            f"{short['count']} of {short['of']} problems have fewer than N={short['N']} samples "
            f"(fewest {short['fewest']}): pass@k uses each problem's own n, and the curves "
            f"stop at k={k_max}"
        )
    done = on_step or (lambda name: None)
    # Written first: the selection table reuses majority.csv when it exists.
    majority_section(store, truth, out)
    done("majority")
    out.files.append(store.analysis_dir / "coverage.csv")
    coverage.to_csv(out.files[-1], index=False)

    ci_ks = ks if k_max <= FULL_CI_MAX_K else log_spaced_ks(k_max, 400)
    ci = bootstrap_coverage(n, c, ci_ks, n_boot=s.n_boot, seed=s.seed, level=s.level)
    out.files.append(store.analysis_dir / "coverage_ci.csv")
    ci.frame().to_csv(out.files[-1], index=False)
    done("coverage")

    grid = log_spaced_ks(k_max, s.fit_points)
    per_problem = per_problem_rates(n, c, s.level)
    per_problem.insert(0, "problem_id", truth.problem_ids)
    for status, counts in truth.status_by_problem().items():
        per_problem[f"status_{status}"] = counts
    duplicates = truth.duplicates()
    if duplicates is not None:
        per_problem["duplicates"] = truth.shared_by_problem()
    groups_section(store, truth, n, c, grid, per_problem, out)
    out.files.append(store.analysis_dir / "per_problem.csv")
    per_problem.to_csv(out.files[-1], index=False)
    done("groups")
    fit_section(store, truth, n, c, k_max, s, out)
    done("fit")
    # Every k up to N where the exact best-of-k weights stay small, a log grid beyond.
    sel_ks = ks if k_max <= FULL_SELECTION_MAX_K else grid
    selection, selectors, pick_calls = selection_section(store, name, truth, sel_ks, s, out)
    done("selection")
    compute_section(store, manifest, truth, coverage, held, s, out)
    selection_compute_section(
        store, manifest, truth, selection, selectors, pick_calls, held, s, out
    )
    done("compute")
    out.files.append(store.analysis_dir / "early_stopping.csv")
    early_stopping_table(grid, curve, int(n.size)).to_csv(out.files[-1], index=False)
    imperfect = imperfect_section(store, name, truth, s, out, (n, c, curve))
    stopping = stopping_section(store, name, truth, held, s, out, (n, c))
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
        "duplicates": duplicates,
        "selectors": out.selectors,
        "N": k_max,
        "partial": partial_note,
        "judged": {v: cov.to_dict() for v, cov in coverages.items()},
        "held": {
            "samples": coverages[name].held_samples,
            "problems": coverages[name].held_problems,
        },
        "short_problems": short,
        "inputs": input_sizes(store, name),
        "truncated": truncated(held) if len(held) else None,
        "settings": s.__dict__,
        "imperfect_verifier": imperfect,
        "stopping": stopping,
        "advice": out.advice,
        "notes": out.notes,
        "versions": package_versions(),
        "files": sorted({f.name for f in out.files}),
    }
    out.summary = summary
    out.files.append(write_json(store.analysis_dir / "summary.json", summary))
    done("summary")
    return out


def summary_rows(coverage: pd.DataFrame, max_rows: int = 12) -> Iterator[tuple[int, float]]:
    """Coverage at k = 1, 2, 4, ... and the largest k, for printing."""
    ks: Sequence[int] = coverage["k"].tolist()
    shown = sorted({k for k in ks if k & (k - 1) == 0} | {ks[-1]})[:max_rows]
    lookup = dict(zip(coverage["k"], coverage["coverage"], strict=True))
    for k in shown:
        yield int(k), float(lookup[k])


def input_sizes(store: RunStore, verifier: str) -> dict[str, int]:
    """Byte sizes of the files an analysis read (they only grow: a change means new data)."""
    files = {"samples.jsonl": store.samples_path, "verdicts": store.verdicts_path(verifier)}
    return {k: p.stat().st_size if p.exists() else 0 for k, p in files.items()}


def read_summary(store: RunStore, partial: bool = False) -> dict[str, Any]:
    """``analysis/summary.json`` of a run, checked before a page is made from it.

    Raises:
        UsageError: no analysis; an analysis older than the samples or verdicts it read;
            or a partial analysis when ``partial`` is False.
    """
    path = store.analysis_dir / "summary.json"
    if not path.exists() or not (store.analysis_dir / "coverage_ci.csv").exists():
        raise UsageError(f"{store.root} has no analysis; run harness analyze {store.root} first")
    summary: dict[str, Any] = json.loads(path.read_text())
    sizes = summary.get("inputs")
    if sizes is not None and sizes != input_sizes(store, summary["verifier"]):
        raise UsageError(
            f"the analysis of {store.root} is older than its samples or verdicts; "
            f"run harness analyze {store.root} again"
        )
    if summary.get("partial") and not partial:
        raise UsageError(
            f"the analysis of {store.root} is partial ({summary['partial']}); verify the rest, "
            "or pass --partial to show it labelled as partial"
        )
    return summary
