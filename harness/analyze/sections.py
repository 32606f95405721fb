"""The per-topic parts of ``harness analyze``: subgroups, majority vote and compute
(selection and the errors of other verifiers: ``harness.analyze.selection``). Each
writes its files under ``analysis/`` and adds to the result's file list and notes."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from analysis.compute import ModelSize, compute_curve, problem_compute
from analysis.majority import majority_curve, majority_votes
from analysis.passk import coverage_by_group
from analysis.prices import load_prices
from harness.analyze.settings import AnalysisSettings, AnalyzeResult
from harness.core.columns import TokenCounts, VerdictColumns
from harness.core.manifest import RunManifest
from harness.core.store import RunStore, write_json
from harness.models import model_facts

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


def compute_section(
    store: RunStore,
    manifest: RunManifest,
    cols: VerdictColumns,
    coverage: pd.DataFrame,
    tokens: TokenCounts,
    s: AnalysisSettings,
    out: AnalyzeResult,
) -> None:
    """Tokens, FLOPs and dollars against coverage (``compute.csv``, ``compute.json``)."""
    facts = model_facts(manifest.model)
    info: dict[str, Any] = {"model": manifest.model, "available": False}
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
    out.files.append(write_json(store.analysis_dir / "compute.json", info))
