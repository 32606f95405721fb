"""The per-topic parts of ``harness analyze``: subgroups, majority vote and selection, and
errors of other verifiers (compute, imperfect verifiers and stopping rules have their
own modules). Each writes its files under ``analysis/`` and adds to the result's file
list and notes."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from analysis.majority import majority_curve, majority_votes
from analysis.passk import coverage_by_group
from analysis.selection import selection_curves
from analysis.verifier_errors import verifier_errors
from harness.analyze.settings import AnalysisSettings, AnalyzeResult
from harness.core.columns import VerdictColumns, read_verdict_columns
from harness.core.store import RunStore

MAX_GROUP_VALUES = 30


def groups_section(
    store: RunStore,
    cols: VerdictColumns,
    n: np.ndarray,
    c: np.ndarray,
    ks: np.ndarray,
    per_problem: pd.DataFrame,
    out: AnalyzeResult,
) -> None:
    """Coverage per value of each scalar problem-metadata field (``groups.csv``)."""
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


def majority_section(store: RunStore, truth: VerdictColumns, out: AnalyzeResult) -> None:
    """``majority.csv`` (k, majority for every k <= N) and ``majority_votes.csv``.

    majority_votes.csv holds each problem's vote over all its samples, ties recorded.
    Written when the verdicts carry answer classes; a stale pair is removed otherwise.
    """
    paths = [store.analysis_dir / "majority.csv", store.analysis_dir / "majority_votes.csv"]
    if not len(truth) or not truth.has_classes:
        for path in paths:
            path.unlink(missing_ok=True)
        return
    table = pd.DataFrame(
        {
            "problem_id": np.asarray(truth.problem_ids, dtype=object)[truth.problem],
            "sample_index": truth.sample_index,
            "class_id": np.where(truth.class_id >= 0, truth.class_id, np.nan),
            "correct": truth.correct,
        }
    )
    majority_curve(table).to_csv(paths[0], index=False)
    majority_votes(table).to_csv(paths[1], index=False)
    out.files.extend(paths)


def selection_section(
    store: RunStore,
    name: str,
    truth: VerdictColumns,
    ks: np.ndarray,
    s: AnalysisSettings,
    out: AnalyzeResult,
) -> None:
    """``selection.csv`` (coverage, majority, best-of-k per scorer) and the errors of
    every other verifier against ``name`` (``verifier_errors.csv``, curves)."""
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
