"""Selection methods that pick by asking a judge pairwise: tournament@k and verification@k.

These picks cannot be had as exact expectations from per-sample scores: a knockout
tournament's winner (and the tie-break of verification) depends on which pairs meet.
The verify stage plays them on seeded random size-k subsets of each problem's samples and
records each pick (``judgements/<verifier>.selections.jsonl``); here the picks are scored
against the ground-truth verdicts: at each k, the mean over problems of the share of a
problem's subsets whose pick is correct, with a percentile bootstrap band over problems
(the draws within a problem averaged first).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from harness.core.coltypes import VerdictColumns

FloatArray = npt.NDArray[np.float64]
PICK_COLUMNS = ("problem_id", "method", "k", "draw", "winner", "pointwise_calls", "pairwise_calls")


def _pick_correct(truth: VerdictColumns, picks: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(problem code, correctness) of each pick; picks of problems or samples the truth
    did not judge are left out."""
    code = {pid: i for i, pid in enumerate(truth.problem_ids)}
    prob = picks["problem_id"].astype(str).map(code).fillna(-1).to_numpy(np.int64)
    winner = picks["winner"].to_numpy(np.int64)
    width = int(max(truth.sample_index.max(initial=0), winner.max(initial=0))) + 1
    keys = truth.problem.astype(np.int64) * width + truth.sample_index
    order = np.argsort(keys)
    wanted = np.where(prob >= 0, prob * width + winner, -1)
    pos = np.searchsorted(keys[order], wanted)
    pos = np.minimum(pos, max(keys.size - 1, 0))
    found = (prob >= 0) & (keys.size > 0) & (keys[order][pos] == wanted)
    correct = np.zeros(len(picks), dtype=np.float64)
    correct[found] = truth.correct[order][pos[found]]
    correct[~found] = np.nan
    return prob, correct


def picked_curve(
    truth: VerdictColumns,
    picks: pd.DataFrame,
    ks: npt.ArrayLike,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> pd.DataFrame:
    """Accuracy of one method's recorded picks at each k, with a bootstrap band.

    Args:
        truth: Ground-truth verdicts.
        picks: One method's picks (columns of ``PICK_COLUMNS``).
        ks: The k values of the table.
        n_boot: Bootstrap resamples of the problems.
        seed: Seed of the bootstrap.
        level: Confidence level of the band.

    Returns:
        Columns k, accuracy, lo, hi, draws (subsets per problem), pointwise_calls and
        pairwise_calls (mean judge calls per problem a pick needs); NaN at a k that some
        problem of ``truth`` has no pick for.
    """
    k_sel = np.asarray(ks, dtype=np.int64)
    n_prob = len(truth.problem_ids)
    prob, correct = _pick_correct(truth, picks)
    keep = (prob >= 0) & np.isfinite(correct)
    frame = pd.DataFrame(
        {
            "problem": prob[keep],
            "k": picks["k"].to_numpy(np.int64)[keep],
            "correct": correct[keep],
            "pointwise_calls": picks["pointwise_calls"].to_numpy(np.float64)[keep],
            "pairwise_calls": picks["pairwise_calls"].to_numpy(np.float64)[keep],
        }
    )
    per = frame.groupby(["problem", "k"]).mean()
    draws = frame.groupby("k").size() / max(n_prob, 1)
    matrix = np.full((n_prob, k_sel.size), np.nan)
    calls = np.full((2, k_sel.size), np.nan)
    col_of = {int(k): j for j, k in enumerate(k_sel)}
    index = per.index.to_frame(index=False)
    for p, k, value in zip(index["problem"], index["k"], per["correct"], strict=True):
        j = col_of.get(int(k))
        if j is not None:
            matrix[int(p), j] = float(value)
    complete = np.isfinite(matrix).all(axis=0) if n_prob else np.zeros(k_sel.size, bool)
    accuracy = np.where(complete, np.nanmean(np.where(complete, matrix, 0.0), axis=0), np.nan)
    for name, i in (("pointwise_calls", 0), ("pairwise_calls", 1)):
        means = per[name].groupby(level="k").mean()
        calls[i] = [
            means.get(int(k), np.nan) if complete[j] else np.nan for j, k in enumerate(k_sel)
        ]
    lo = np.full(k_sel.size, np.nan)
    hi = np.full(k_sel.size, np.nan)
    if n_prob and complete.any():
        rng = np.random.default_rng(seed)
        weights = rng.multinomial(n_prob, np.full(n_prob, 1.0 / n_prob), size=n_boot)
        boot = weights @ np.where(np.isfinite(matrix), matrix, 0.0) / n_prob
        tail = (1.0 - level) / 2.0
        lo = np.where(complete, np.quantile(boot, tail, axis=0), np.nan)
        hi = np.where(complete, np.quantile(boot, 1.0 - tail, axis=0), np.nan)
    return pd.DataFrame(
        {
            "k": k_sel,
            "accuracy": accuracy,
            "lo": lo,
            "hi": hi,
            "draws": [float(draws.get(int(k), 0.0)) for k in k_sel],
            "pointwise_calls": calls[0],
            "pairwise_calls": calls[1],
        }
    )
