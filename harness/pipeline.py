"""One function per stage after generation: verify, analyze, report.

Each stage reads the files the previous stage wrote and writes its own, so any stage can
be re-run alone (re-verify with another verifier, re-analyse an imported dump).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from harness.errors import UsageError

if TYPE_CHECKING:
    from harness.analyze import AnalysisSettings
from harness.records import Problem, Sample
from harness.store import RunStore
from verifiers.base import VERIFIERS, Verifier

ProgressFn = Callable[[int], None]


def default_verifier(store: RunStore) -> str:
    """The verifier a run is judged by unless told otherwise."""
    manifest = store.read_manifest()
    if manifest.verifier:
        return manifest.verifier
    from tasks.base import TASKS

    return str(TASKS.get(manifest.task).default_verifier)


def _work(
    store: RunStore, verifier: Verifier, name: str
) -> tuple[list[tuple[Problem, list[Sample]]], set[tuple[str, int]]]:
    """(problem, samples) items still to verify, and the keys already judged."""
    problems = {p.id: p for p in store.read_problems()}
    if not problems:
        raise UsageError(f"{store.root} has no problems.jsonl: not a complete run directory")
    done = store.verdict_keys(name)
    by_problem: dict[str, dict[int, Sample]] = defaultdict(dict)
    for s in store.iter_samples():
        by_problem[s.problem_id][s.sample_index] = s
    items = []
    for pid, samples in by_problem.items():
        if pid not in problems:
            raise UsageError(f"{store.samples_path}: sample of unknown problem {pid!r}")
        ordered = [samples[i] for i in sorted(samples)]
        todo = [s for s in ordered if (pid, s.sample_index) not in done]
        if not todo:
            continue
        # Verifiers that number answer classes see the whole problem in sample order so
        # the numbering of samples judged earlier stays the same (prefix-stable).
        items.append((problems[pid], ordered if verifier.needs_context else todo))
    return items, done


@dataclass(frozen=True)
class VerifyResult:
    verifier: str
    path: Path
    new_verdicts: int


def verify(
    run_dir: Path | str,
    verifier: str | None = None,
    options: Mapping[str, Any] | None = None,
    progress: ProgressFn | None = None,
    on_start: Callable[[int], None] | None = None,
) -> VerifyResult:
    """Judge every sample not yet judged by ``verifier``; appends to its verdicts file.

    Args:
        run_dir: The run directory.
        verifier: Verifier name (default: the run's).
        options: Verifier options.
        progress: Called with the number of verdicts written after each batch.
        on_start: Called once with the number of samples still to judge.
    """
    store = RunStore(run_dir)
    name = verifier or default_verifier(store)
    impl = VERIFIERS.create(name, options=options)
    written = 0
    try:
        with store:
            items, done = _work(store, impl, name)
            if on_start is not None:
                on_start(
                    sum(len(s) for _, s in items)
                    - sum(1 for p, s in items for x in s if (p.id, x.sample_index) in done)
                )
            with store.verdict_appender(name) as out:
                for verdicts in impl.verify_many(iter(items)):
                    new = [v for v in verdicts if (v.problem_id, v.sample_index) not in done]
                    out.write_batch(new)
                    written += len(new)
                    if progress is not None:
                        progress(len(new))
            info = {"verifier": name, **impl.describe()}
            (store.root / "verdicts" / f"{name}.meta.json").write_text(
                json.dumps(info, indent=2, default=str) + "\n"
            )
            manifest = store.read_manifest()
            if "sandbox" in info and manifest.sandbox != info["sandbox"]:
                # How untrusted code ran is part of what produced the results.
                store.write_manifest(manifest.replace(sandbox=str(info["sandbox"])))
    finally:
        impl.close()
    return VerifyResult(name, store.verdicts_path(name), written)


def counts_per_problem(store: RunStore, verifier: str) -> pd.DataFrame:
    """Columns problem_id, n (samples judged), c (judged correct)."""
    table = store.read_verdicts_table(verifier, ["problem_id", "sample_index", "correct"])
    if table.empty:
        raise UsageError(f"{store.root}: verdicts/{verifier}.jsonl is empty; run harness verify")
    table = table.drop_duplicates(["problem_id", "sample_index"], keep="last")
    grouped = table.groupby("problem_id", sort=False)["correct"]
    return pd.DataFrame({"n": grouped.size(), "c": grouped.sum().astype(np.int64)}).reset_index()


@dataclass(frozen=True)
class AnalyzeResult:
    verifier: str
    coverage: pd.DataFrame
    files: list[Path]
    fit: dict[str, Any] | None = None
    notes: tuple[str, ...] = ()
    statuses: dict[str, int] = field(default_factory=dict)


def analyze(
    run_dir: Path | str, verifier: str | None = None, settings: AnalysisSettings | None = None
) -> AnalyzeResult:
    """Write every analysis table of a run (coverage, CI, fits, selection, compute...).

    See ``harness.analyze`` for the files; verdicts are read as columns.
    """
    from harness.analyze import analyze_run

    # Written first: the selection table reuses majority.csv when it exists.
    majority_files = write_majority(run_dir, verifier)
    result = analyze_run(run_dir, verifier, settings)
    return AnalyzeResult(
        result.verifier,
        result.coverage,
        [*majority_files, *result.files],
        result.fit,
        tuple(result.notes),
        result.statuses,
    )


def write_majority(run_dir: Path | str, verifier: str | None = None) -> list[Path]:
    """``analysis/majority.csv`` (k, majority for every k <= N) and ``majority_votes.csv``.

    majority_votes.csv holds each problem's vote over all its samples, ties recorded.
    Written when the verdicts carry answer classes; a stale pair is removed otherwise.
    """
    from analysis.columns import read_verdict_columns
    from harness.analyze import pick_verifier
    from verifiers.majority import majority_curve, majority_votes

    store = RunStore(run_dir)
    cols = read_verdict_columns(store.verdicts_path(pick_verifier(store, verifier)))
    paths = [store.analysis_dir / "majority.csv", store.analysis_dir / "majority_votes.csv"]
    if not len(cols) or not cols.has_classes:
        for path in paths:
            path.unlink(missing_ok=True)
        return []
    table = pd.DataFrame(
        {
            "problem_id": np.asarray(cols.problem_ids, dtype=object)[cols.problem],
            "sample_index": cols.sample_index,
            "class_id": np.where(cols.class_id >= 0, cols.class_id, np.nan),
            "correct": cols.correct,
        }
    )
    store.analysis_dir.mkdir(parents=True, exist_ok=True)
    majority_curve(table).to_csv(paths[0], index=False)
    majority_votes(table).to_csv(paths[1], index=False)
    return paths


def summary_rows(coverage: pd.DataFrame, max_rows: int = 12) -> Iterator[tuple[int, float]]:
    """Coverage at k = 1, 2, 4, ... and the largest k, for printing."""
    ks: Sequence[int] = coverage["k"].tolist()
    shown = sorted({k for k in ks if k & (k - 1) == 0} | {ks[-1]})[:max_rows]
    lookup = dict(zip(coverage["k"], coverage["coverage"], strict=True))
    for k in shown:
        yield int(k), float(lookup[k])
