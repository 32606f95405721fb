"""The stopping part of ``harness analyze``: adaptive stopping rules evaluated on the
stored samples (``stopping.csv``).

Scores for confidence stopping come from every other verifier that gives scores (a
judge, a reward model) and from the samples' mean token log-probability, which the vllm
backend stores per sample (runs made before it was stored simply have none).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from analysis.selection import align
from analysis.stopping import stop_data, stopping_table
from harness.analyze.settings import AnalysisSettings, AnalyzeResult
from harness.core.coltypes import TokenCounts, VerdictColumns
from harness.core.columns import read_verdict_columns
from harness.core.store import RunStore

LOGPROB = "mean_logprob"
RULE_NAMES = {
    "adaptive_consistency": "Adaptive-Consistency (threshold {p})",
    "early_stopping_sc": "early-stopping self-consistency (window {p})",
    "oracle": "stopping at the first sample the verifier accepts",
}


def _logprob_scores(truth: VerdictColumns, held: TokenCounts) -> npt.NDArray[np.float64]:
    """Each verdict's sample's mean log-probability (NaN where unknown)."""
    as_verdicts = VerdictColumns(
        held.problem_ids,
        held.problem,
        held.sample_index,
        np.zeros(len(held), bool),
        held.mean_logprob,
        np.full(len(held), -1, np.int64),
    )
    pos_t, pos_h = align(truth, as_verdicts)
    out = np.full(len(truth), np.nan)
    out[pos_t] = held.mean_logprob[pos_h]
    return out


def scores_for(
    store: RunStore, name: str, truth: VerdictColumns, held: TokenCounts, out: AnalyzeResult
) -> dict[str, npt.NDArray[np.float64]]:
    """Scorer name -> one score per verdict of ``truth`` (NaN where none)."""
    scores: dict[str, npt.NDArray[np.float64]] = {}
    for other in store.verifiers():
        cols = truth if other == name else read_verdict_columns(store.verdicts_path(other))
        if not cols.has_scores:
            continue
        pos_t, pos_o = align(truth, cols)
        values = np.full(len(truth), np.nan)
        values[pos_t] = cols.score[pos_o]
        scores[other] = values
    if held.has_logprobs:
        scores[LOGPROB] = _logprob_scores(truth, held)
    elif len(held):
        out.notes.append(
            "the samples carry no token log-probabilities (made before they were stored, or "
            "by a backend that does not report them): no confidence stopping by log-probability"
        )
    return scores


def describe(row: dict[str, Any]) -> str:
    """A rule row in words."""
    rule = str(row["rule"])
    if rule.startswith("confidence:"):
        return (
            f"confidence stopping by {rule.split(':', 1)[1]} (tau = {float(row['parameter']):.3g})"
        )
    return RULE_NAMES.get(rule, rule).format(p=row["parameter"])


def advice(row: dict[str, Any], level: float = 0.95) -> str:
    """One sentence on what a rule's best setting means for the next run."""
    gain, lo, hi = float(row["gain"]), float(row["gain_lo"]), float(row["gain_hi"])
    base = str(row["baseline"]).replace("best_of_k:", "best-of-k by ")
    if lo > 0:
        verdict = "stop by this rule on your next run, it buys accuracy per sample here"
    elif hi < 0:
        verdict = f"a fixed number of samples with {base} does better here"
    else:
        verdict = f"no better than a fixed number of samples with {base} here"
    text = describe(row)
    return (
        f"{text[0].upper()}{text[1:]} draws {row['expected_samples']:.1f} samples per problem "
        f"on average (cap {row['cap']}) for accuracy {row['accuracy']:.3f}, {gain:+.3f} "
        f"({level:.0%} CI {lo:+.3f} to {hi:+.3f}) against {base} with as many samples: {verdict}."
    )


def stopping_section(
    store: RunStore,
    name: str,
    truth: VerdictColumns,
    held: TokenCounts,
    s: AnalysisSettings,
    out: AnalyzeResult,
    counts: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict[str, Any]:
    """Every stopping rule's expected samples and accuracy, against fixed N (the summary
    entry; the table goes to ``stopping.csv``); ``counts``: ``truth.counts()`` if known."""
    scores = scores_for(store, name, truth, held, out)
    data = stop_data(truth, scores, counts)
    table = stopping_table(data, s.stop_cap, s.stop_orders, s.seed, n_boot=s.n_boot, level=s.level)
    path = store.analysis_dir / "stopping.csv"
    table.to_csv(path, index=False)
    out.files.append(path)
    rules = table[table["rule"] != "fixed"]
    best: dict[str, dict[str, Any]] = {}
    for rule, group in rules.groupby("rule", sort=False):
        top = group.iloc[int(np.argmax(group["gain"].to_numpy()))]
        row = {str(k): v for k, v in top.items()}
        best[str(rule)] = row
        out.advice.append(advice(row, s.level))
    if not data.has_classes:
        out.notes.append(
            "the verdicts carry no answer classes: no Adaptive-Consistency or early-stopping "
            "self-consistency (they vote over answers)"
        )
    first = table.iloc[0]
    return {
        "cap": int(first["cap"]),
        "orders": int(first["orders"]),
        "seed": int(first["seed"]),
        "scorers": sorted(scores),
        "logprobs": LOGPROB in scores,
        "best": best,
        "method": "each problem's stored samples drawn in seeded random orders (without "
        "replacement); accuracy and samples averaged over orders and problems; baselines "
        "on the same orders; gain intervals: percentile bootstrap over problems",
        "bootstrap": {"resamples": s.n_boot, "seed": s.seed, "level": s.level},
    }
