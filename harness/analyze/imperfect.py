"""The imperfect-verifier part of ``harness analyze``: what resampling against a weak
verifier buys, judged by the strong one (``imperfect_verifier.csv``).

The weak verifier is the one named by ``--weak-verifier``, else the one whose verdicts
say they are the weak side of the analysed verifier (``weak_of`` in their
``.meta.json``: ``unit_tests_visible`` from ``--task-opt visible_tests``, EvalPlus's
``evalplus_base``).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from analysis.imperfect import advice, column_name, imperfect_table, weak_strong_counts
from harness.analyze.settings import AnalysisSettings, AnalyzeResult
from harness.core.coltypes import VerdictColumns
from harness.core.columns import read_verdict_columns
from harness.core.errors import UsageError
from harness.core.store import RunStore


def weak_verifiers(store: RunStore, strong: str) -> list[str]:
    """The verifiers of a run whose verdicts declare themselves the weak side of ``strong``."""
    found = []
    for name in store.verifiers():
        meta = store.root / "verdicts" / f"{name}.meta.json"
        try:
            info = json.loads(meta.read_text()) if meta.is_file() else {}
        except ValueError:
            continue
        if isinstance(info, dict) and info.get("weak_of") == strong:
            found.append(name)
    return found


def pick_weak(store: RunStore, strong: str, s: AnalysisSettings) -> str | None:
    """The weak verifier to analyse against ``strong``, or None when the run has none.

    Raises:
        UsageError: ``--weak-verifier`` names a verifier without verdicts here, or the
            analysed verifier itself.
    """
    if s.weak_verifier is not None:
        if s.weak_verifier not in store.verifiers():
            raise UsageError(f"{store.root} has no verdicts from {s.weak_verifier!r}")
        if s.weak_verifier == strong:
            raise UsageError("--weak-verifier must differ from the verifier analysed")
        return s.weak_verifier
    found = weak_verifiers(store, strong)
    return found[0] if found else None


def imperfect_section(
    store: RunStore,
    strong: str,
    truth: VerdictColumns,
    s: AnalysisSettings,
    out: AnalyzeResult,
    coverage: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> dict[str, Any] | None:
    """acc(k), U(k) per cost ratio and k* of the weak verifier against ``strong``.

    Args:
        coverage: (n, c, coverage at k = 1, 2, ...) of ``truth``, reused when the weak
            verifier judged exactly the same samples.

    Returns:
        The summary entry (None when the run has no weak verifier).
    """
    path = store.analysis_dir / "imperfect_verifier.csv"
    weak = pick_weak(store, strong, s)
    if weak is None:
        path.unlink(missing_ok=True)
        return None
    try:
        counts = weak_strong_counts(truth, read_verdict_columns(store.verdicts_path(weak)))
    except ValueError:
        out.notes.append(
            f"no imperfect-verifier analysis: {weak!r} judged no sample {strong!r} did"
        )
        path.unlink(missing_ok=True)
        return None
    k_max = int(counts.n.min())
    ks = np.arange(1, k_max + 1)
    known = None
    if coverage is not None and counts.problem_ids == truth.problem_ids:
        n, c, curve = coverage
        if np.array_equal(counts.n, n) and np.array_equal(counts.strong, c):
            known = curve[:k_max]
    result = imperfect_table(counts, ks, s.cost_ratios, strong_coverage=known)
    out.files.append(path)
    result.table.to_csv(path, index=False)
    fp = counts.false_positives
    sentences = [
        advice(c, result.k_star[c], result.utility_at_k_star[c], k_max) for c in s.cost_ratios
    ]
    out.advice.extend(sentences)
    return {
        "weak": weak,
        "strong": strong,
        "problems": int(counts.n.size),
        "samples": int(counts.n.sum()),
        "N": k_max,
        "weak_accepted": int(counts.b.sum()),
        "false_positives": int(fp.sum()),
        "problems_with_false_positives": int((fp > 0).sum()),
        "ceiling": result.ceiling,
        "cost_ratios": list(s.cost_ratios),
        "k_star": {f"{c:g}": result.k_star[c] for c in s.cost_ratios},
        "utility_at_k_star": {f"{c:g}": result.utility_at_k_star[c] for c in s.cost_ratios},
        "columns": {f"{c:g}": column_name(c) for c in s.cost_ratios},
        "advice": sentences,
        "definition": "U(k) = mean over problems of ((t - c*f)/b) * [1 - C(n-b,k)/C(n,k)]; "
        "n samples, b accepted by the weak verifier, t by both, f = b - t",
    }
