"""Imperfect verifiers: what "resample until the weak verifier accepts" buys, and when more
samples hurt (after Inference Scaling fLaws).

A weak verifier (visible tests, EvalPlus's base tests, a judge) and a strong one (all
tests, EvalPlus's base + plus tests) judge the same samples. Per problem: ``n`` samples,
``b`` accepted by the weak verifier, ``t`` accepted by both, ``f = b - t`` false
positives. Drawing k samples and submitting one the weak verifier accepts (abstaining
when it accepts none) is right with probability

    acc(k) = (t / b) * [1 - C(n - b, k) / C(n, k)],

whose limit ``t / b`` (conditional pass@1) is the ceiling no amount of sampling passes.
With a right answer worth 1, abstaining 0 and a false positive -c (c >= 0, the cost
ratio), the expected utility is

    U(k) = mean over problems of ((t - c * f) / b) * [1 - C(n - b, k) / C(n, k)];

problems with b = 0 contribute 0. For c > 0, problems whose accepted samples are mostly
wrong pull U down as k grows, so U can peak and then fall: the best k* (0 when no k
gives U > 0) is how many samples per problem to draw.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from analysis.passk import coverage_curve, pass_at_k_curve
from analysis.selection import align
from harness.core.coltypes import VerdictColumns

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

DEFAULT_COST_RATIOS = (0.0, 1.0, 2.0, 4.0)


def _checked(
    n: npt.ArrayLike, b: npt.ArrayLike, t: npt.ArrayLike
) -> tuple[IntArray, IntArray, IntArray]:
    n_ = np.atleast_1d(np.asarray(n, dtype=np.int64))
    b_ = np.atleast_1d(np.asarray(b, dtype=np.int64))
    t_ = np.atleast_1d(np.asarray(t, dtype=np.int64))
    if not n_.shape == b_.shape == t_.shape:
        raise ValueError("n, b and t must have the same shape")
    if np.any((t_ < 0) | (t_ > b_) | (b_ > n_)):
        raise ValueError("need 0 <= t <= b <= n for every problem")
    return n_, b_, t_


def utility_weights(b: npt.ArrayLike, t: npt.ArrayLike, cost_ratio: float) -> FloatArray:
    """Per problem, the value of submitting a weakly accepted sample: (t - c*(b - t)) / b,
    0 where b = 0."""
    if not np.isfinite(cost_ratio) or cost_ratio < 0:
        raise ValueError(f"cost ratio must be a number >= 0, got {cost_ratio}")
    b_ = np.asarray(b, dtype=np.float64)
    t_ = np.asarray(t, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        w = (t_ - cost_ratio * (b_ - t_)) / b_
    out: FloatArray = np.where(b_ > 0, w, 0.0)
    return out


def utility_curves(
    n: npt.ArrayLike,
    b: npt.ArrayLike,
    t: npt.ArrayLike,
    ks: npt.ArrayLike,
    cost_ratios: Sequence[float],
) -> FloatArray:
    """U(k) for several cost ratios at once: a (len(cost_ratios), len(ks)) matrix.

    The acceptance probabilities 1 - C(n-b,k)/C(n,k) are computed once (a running
    product over k), then weighted per cost ratio.
    """
    return _curves(n, b, t, ks, cost_ratios)[0]


def _curves(
    n: npt.ArrayLike,
    b: npt.ArrayLike,
    t: npt.ArrayLike,
    ks: npt.ArrayLike,
    cost_ratios: Sequence[float],
) -> tuple[FloatArray, FloatArray]:
    """(U(k) per cost ratio, P(the weak verifier accepts one of k) averaged over problems)."""
    n_, b_, t_ = _checked(n, b, t)
    k = np.atleast_1d(np.asarray(ks, dtype=np.int64))
    if k.size and (k.min() < 1 or k.max() > n_.min()):
        raise ValueError(f"k must be in 1..{int(n_.min())} (the fewest samples of a problem)")
    weights = np.stack([utility_weights(b_, t_, c) for c in cost_ratios] + [np.ones(n_.size)])
    # P(the weak verifier accepts one of k): 0 where b = 0 and 1 where b = n at every k;
    # only the problems in between need the running product over k.
    some = (b_ > 0) & (b_ < n_)
    accept = pass_at_k_curve(n_[some], b_[some], k) if some.any() else np.zeros((0, k.size))
    both: FloatArray = weights[:, some] @ accept
    both += weights[:, b_ == n_].sum(axis=1)[:, None]
    both /= n_.size
    return both[:-1], both[-1]


def utility_curve(
    n: npt.ArrayLike, b: npt.ArrayLike, t: npt.ArrayLike, ks: npt.ArrayLike, cost_ratio: float
) -> FloatArray:
    """U(k) for each k: the mean utility of resampling until the weak verifier accepts.

    Args:
        n: Samples per problem.
        b: Samples the weak verifier accepts, per problem.
        t: Samples both verifiers accept, per problem.
        ks: The k values (1 <= k <= the smallest n).
        cost_ratio: c >= 0: a false positive is worth -c (a right answer 1, abstaining 0).
            ``cost_ratio=0`` gives acc(k).

    Raises:
        ValueError: counts out of order (need 0 <= t <= b <= n), k out of range, or a
            negative cost ratio.
    """
    return utility_curves(n, b, t, ks, [float(cost_ratio)])[0]


def best_k(ks: npt.ArrayLike, utility: npt.ArrayLike) -> int:
    """The k with the highest U(k) (the smallest such k); 0 when no k gives U(k) > 0."""
    k = np.asarray(ks, dtype=np.int64)
    u = np.asarray(utility, dtype=np.float64)
    if not u.size or not np.isfinite(u).any() or np.nanmax(u) <= 0:
        return 0
    return int(k[int(np.nanargmax(u))])


def ceiling(b: npt.ArrayLike, t: npt.ArrayLike) -> float:
    """Mean over problems of t / b (0 where b = 0): the limit of acc(k)."""
    return float(np.mean(utility_weights(b, t, 0.0)))


@dataclass(frozen=True)
class WeakStrong:
    """Per-problem counts of a weak and a strong verifier on the samples both judged.

    Attributes:
        problem_ids: The problems, aligned with the arrays.
        n: Samples both judged.
        b: Accepted by the weak verifier.
        t: Accepted by both.
        strong: Accepted by the strong verifier (whether or not the weak one accepts).
    """

    problem_ids: list[str]
    n: IntArray
    b: IntArray
    t: IntArray
    strong: IntArray

    @property
    def false_positives(self) -> IntArray:
        out: IntArray = self.b - self.t
        return out


def weak_strong_counts(strong: VerdictColumns, weak: VerdictColumns) -> WeakStrong:
    """Count n, b, t per problem on the samples both verifiers judged.

    Raises:
        ValueError: the two share no sample.
    """
    pos_s, pos_w = align(strong, weak)
    if pos_s.size == len(strong) == len(weak) and (pos_s is pos_w or np.array_equal(pos_s, pos_w)):
        # Sample i of one is sample i of the other: counts need no gathering.
        problem, ok_s, ok_w = strong.problem, strong.correct, weak.correct
    else:
        problem, ok_s, ok_w = strong.problem[pos_s], strong.correct[pos_s], weak.correct[pos_w]
    if problem.size == 0:
        raise ValueError("the weak and the strong verifier judged no common sample")
    size = len(strong.problem_ids)
    n = np.bincount(problem, minlength=size)
    present = np.flatnonzero(n)

    def per(values: npt.NDArray[np.bool_]) -> IntArray:
        return np.bincount(problem[values], minlength=size)[present].astype(np.int64)

    return WeakStrong(
        problem_ids=[strong.problem_ids[i] for i in present],
        n=n[present].astype(np.int64),
        b=per(ok_w),
        t=per(ok_w & ok_s),
        strong=per(ok_s),
    )


def column_name(cost_ratio: float) -> str:
    """The CSV column of U(k) for a cost ratio: ``utility_c2`` for c = 2."""
    return f"utility_c{cost_ratio:g}"


@dataclass(frozen=True)
class ImperfectResult:
    """The curves and the best k per cost ratio."""

    table: pd.DataFrame
    k_star: dict[float, int]
    utility_at_k_star: dict[float, float]
    ceiling: float
    counts: WeakStrong


def imperfect_table(
    counts: WeakStrong,
    ks: npt.ArrayLike,
    cost_ratios: Sequence[float] = DEFAULT_COST_RATIOS,
    strong_coverage: npt.ArrayLike | None = None,
) -> ImperfectResult:
    """acc(k), U(k) per cost ratio, the coverage each verifier claims, and k* per c.

    Args:
        counts: n, b, t per problem.
        ks: The k values.
        cost_ratios: The costs c of a false positive.
        strong_coverage: The strong verifier's coverage at ``ks`` when already computed
            on the same samples (else computed here).

    Returns:
        A table with columns k, accuracy, one ``utility_c<c>`` per cost ratio,
        weak_coverage (pass@k by the weak verifier: what it claims), strong_coverage
        (pass@k by the strong one); k* and U(k*) per cost ratio; the ceiling t/b.
    """
    k = np.asarray(ks, dtype=np.int64)
    ratios = [float(c) for c in cost_ratios]
    curves, claimed = _curves(counts.n, counts.b, counts.t, k, [0.0, *ratios])
    table = pd.DataFrame({"k": k, "accuracy": curves[0]})
    for c, curve in zip(ratios, curves[1:], strict=True):
        table[column_name(c)] = curve
    table["weak_coverage"] = claimed
    table["strong_coverage"] = (
        coverage_curve(counts.n, counts.strong, k)
        if strong_coverage is None
        else np.asarray(strong_coverage, dtype=np.float64)
    )
    stars = {c: best_k(k, curve) for c, curve in zip(ratios, curves[1:], strict=True)}
    at = {
        c: float(curve[k == stars[c]][0]) if stars[c] else 0.0
        for c, curve in zip(ratios, curves[1:], strict=True)
    }
    return ImperfectResult(table, stars, at, ceiling(counts.b, counts.t), counts)


def advice(c: float, k_star: int, utility: float, k_max: int) -> str:
    """One sentence on what k* means for the next run."""
    cost = (
        "if a false positive costs nothing"
        if c == 0
        else f"with a false positive costing {c:g} right answer{'s' if c != 1 else ''}"
    )
    if k_star == 0:
        return (
            f"{cost.capitalize()}, no number of samples pays: every k loses more to false "
            "positives than it wins, so do not resample against this verifier."
        )
    if k_star >= k_max:
        return (
            f"{cost.capitalize()}, sample as many as you can afford: U(k) still rises at "
            f"k = {k_max} (U = {utility:.3f})."
        )
    return (
        f"{cost.capitalize()}, sample k* = {k_star} per problem (U = {utility:.3f}); more "
        "samples lower the expected utility."
    )
