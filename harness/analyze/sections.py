"""The per-topic parts of ``harness analyze``: subgroups and majority vote (selection and
the errors of other verifiers, compute, imperfect verifiers and stopping rules have their
own modules). Each writes its files under ``analysis/`` and adds to the result's file
list and notes."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from analysis.majority import majority_curve, majority_votes
from analysis.passk import coverage_by_group
from harness.analyze.settings import AnalyzeResult
from harness.core.coltypes import VerdictColumns
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
