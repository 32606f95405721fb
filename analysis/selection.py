"""Selection@k: how much of the coverage a selection method turns into right answers.

Coverage (pass@k) is what an oracle verifier gets out of k samples. Without one, a
method must pick one answer out of k: a majority vote over answer classes, or the
sample a reward model scores highest. All curves here are exact expectations over a
random size-k subset of each problem's n samples, never Monte-Carlo estimates.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.special import gammaln

from analysis.majority import majority_at_k
from analysis.passk import coverage_curve
from harness.core.columns import VerdictColumns

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def best_of_k_weights(n: int, ks: npt.ArrayLike) -> FloatArray:
    """W[r, j]: probability that the sample ranked r (0 = best) of n is the best of a
    uniformly random size-ks[j] subset, i.e. C(n-1-r, k-1) / C(n, k); each column sums to 1.
    """
    k = np.asarray(ks, dtype=np.float64)[None, :]
    r = np.arange(n, dtype=np.float64)[:, None]
    valid = (r <= n - k) & (k <= n)
    rest = np.where(valid, n - 1 - r, 0.0)
    log_w = (
        gammaln(rest + 1)
        - gammaln(k)
        - gammaln(np.maximum(rest - k + 2, 1.0))
        - (gammaln(n + 1.0) - gammaln(k + 1) - gammaln(np.maximum(n - k + 1, 1.0)))
    )
    out: FloatArray = np.where(valid, np.exp(log_w), 0.0)
    return out


def _ranked_correctness(
    problem: npt.NDArray[np.integer[Any]], score: FloatArray, correct: npt.NDArray[np.bool_]
) -> tuple[npt.NDArray[np.integer[Any]], FloatArray, IntArray]:
    """Samples sorted by (problem, score descending); correctness averaged within ties.

    A random tie-break makes every position inside a run of equal scores equally likely
    to hold any of its samples, so the run's mean correctness is the exact expectation.
    Missing scores rank last.
    """
    s = np.where(np.isnan(score), -np.inf, score)
    order = np.lexsort((-s, problem))
    prob, s_sorted = problem[order], s[order]
    corr = correct[order].astype(np.float64)
    new_run = np.ones(prob.size, dtype=bool)
    new_run[1:] = (prob[1:] != prob[:-1]) | (s_sorted[1:] != s_sorted[:-1])
    starts = np.flatnonzero(new_run)
    lengths = np.diff(np.append(starts, prob.size))
    means = np.add.reduceat(corr, starts) / lengths if prob.size else corr
    return prob, np.repeat(means, lengths), np.bincount(prob).astype(np.int64)


def best_of_k_curve(
    problem: npt.NDArray[np.integer[Any]],
    score: FloatArray,
    correct: npt.NDArray[np.bool_],
    ks: npt.ArrayLike,
) -> FloatArray:
    """Expected accuracy of picking the highest-scored of k random samples, mean over problems.

    Args:
        problem: Problem code of each sample (0..P-1, every code present).
        score: Score of each sample (higher is better; NaN ranks last).
        correct: Ground-truth correctness of each sample.
        ks: The k values (each at most the smallest number of samples of a problem).
    """
    k_sel = np.asarray(ks, dtype=np.int64)
    _, ranked, sizes = _ranked_correctness(problem, score, correct)
    sizes = sizes[sizes > 0]
    total = np.zeros(k_sel.size)
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    # Problems with the same n share one weight matrix: one matrix product per n.
    for n in np.unique(sizes):
        rows = np.flatnonzero(sizes == n)
        block = ranked[offsets[rows][:, None] + np.arange(n)[None, :]]
        total += (block @ best_of_k_weights(int(n), k_sel)).sum(axis=0)
    out: FloatArray = total / sizes.size
    return out


def majority_curve(truth: VerdictColumns, ks: npt.ArrayLike, seed: int = 0) -> FloatArray | None:
    """Mean majority@k over problems from the answer classes of ``truth``.

    Uses ``analysis.majority.majority_at_k`` per problem (seeded by ``seed`` and the
    problem id, as the majority step of ``harness analyze`` does). Returns None when the
    verdicts carry no answer classes.
    """
    if not truth.has_classes:
        return None
    cols = truth.sorted_by_problem()
    k_sel = np.asarray(ks, dtype=np.int64)
    bounds = np.searchsorted(cols.problem, np.arange(len(cols.problem_ids) + 1))
    total = np.zeros(k_sel.size)
    for p, (lo, hi) in enumerate(itertools.pairwise(bounds)):
        ids = [None if x < 0 else int(x) for x in cols.class_id[lo:hi].tolist()]
        ok = cols.correct[lo:hi].tolist()
        total += np.asarray(
            majority_at_k(ids, ok, k_sel, seed=f"{seed}/{cols.problem_ids[p]}"), float
        )
    out: FloatArray = total / len(cols.problem_ids)
    return out


def align(truth: VerdictColumns, other: VerdictColumns) -> tuple[IntArray, IntArray]:
    """Positions in ``truth`` and ``other`` of the (problem, sample) pairs both judged."""
    if (
        truth.problem_ids == other.problem_ids
        and np.array_equal(truth.problem, other.problem)
        and np.array_equal(truth.sample_index, other.sample_index)
    ):  # written in the same order (one verify run): no matching needed
        same = np.arange(len(truth), dtype=np.int64)
        return same, same
    lookup = {pid: i for i, pid in enumerate(truth.problem_ids)}
    remap = np.asarray([lookup.get(pid, -1) for pid in other.problem_ids], dtype=np.int64)
    other_prob = remap[other.problem] if other.problem.size else np.zeros(0, np.int64)
    width = int(max(truth.sample_index.max(initial=0), other.sample_index.max(initial=0))) + 1
    key_t = truth.problem.astype(np.int64) * width + truth.sample_index
    key_o = np.where(other_prob >= 0, other_prob * width + other.sample_index, -1)
    _, pos_t, pos_o = np.intersect1d(key_t, key_o, assume_unique=True, return_indices=True)
    return pos_t.astype(np.int64), pos_o.astype(np.int64)


def selection_curves(
    truth: VerdictColumns,
    scorers: Mapping[str, VerdictColumns],
    ks: npt.ArrayLike,
    with_majority: bool = True,
    seed: int = 0,
) -> pd.DataFrame:
    """Coverage, majority@k and best-of-k by each scorer's scores, at each k.

    Args:
        truth: Ground-truth verdicts (correctness, answer classes).
        scorers: Verdict sets whose ``score`` ranks samples (may include ``truth``).
        ks: The k values.
        with_majority: Add majority@k (when the verdicts carry answer classes).
        seed: Seed of majority@k's random subsets where it is estimated.

    Returns:
        Columns k, coverage, then majority (when available) and best_of_k:<name> for each
        scorer with scores on every judged sample it shares with ``truth``.
    """
    k_sel = np.asarray(ks, dtype=np.int64)
    n, c = truth.counts()
    frame = pd.DataFrame({"k": k_sel, "coverage": coverage_curve(n, c, k_sel)})
    maj = majority_curve(truth, k_sel, seed) if with_majority else None
    if maj is not None:
        frame["majority"] = maj
    for name, cols in scorers.items():
        if not cols.has_scores:
            continue
        pos_t, pos_o = align(truth, cols)
        if pos_t.size != len(truth):
            continue  # the scorer did not see every sample: no like-for-like curve
        score = np.full(len(truth), np.nan)
        score[pos_t] = cols.score[pos_o]
        frame[f"best_of_k:{name}"] = best_of_k_curve(truth.problem, score, truth.correct, k_sel)
    return frame
