"""acc(k) and U(k) of resampling against a weak verifier: hand-computed values and a
draw-by-draw enumeration of every order of every problem's samples."""

from __future__ import annotations

import itertools
from fractions import Fraction
from math import comb

import numpy as np
import pytest

from analysis.imperfect import (
    best_k,
    ceiling,
    imperfect_table,
    utility_curve,
    utility_curves,
    weak_strong_counts,
)
from harness.core.coltypes import VerdictColumns

# Three problems of n = 4: (b, t) = (2, 1): one false positive; (0, 0): nothing accepted;
# (4, 4): every accepted sample right.
N = np.array([4, 4, 4])
B = np.array([2, 0, 4])
T = np.array([1, 0, 4])


def test_accuracy_by_hand() -> None:
    # P(the weak verifier accepts one of k) for b = 2 of n = 4: 1 - C(2,k)/C(4,k):
    # k=1: 1/2, k=2: 5/6, k=3: 1. For b = 4 it is 1 at every k.
    # acc(k) = mean of (t/b) * that: ((1/2)(1/2) + 0 + 1)/3 = 5/12 at k = 1, ...
    want = [5 / 12, (5 / 12 + 1) / 3, (1 / 2 + 1) / 3, (1 / 2 + 1) / 3]
    np.testing.assert_allclose(utility_curve(N, B, T, [1, 2, 3, 4], 0.0), want, rtol=1e-12)
    assert ceiling(B, T) == pytest.approx((1 / 2 + 0 + 1) / 3)


def test_utility_by_hand_and_best_k() -> None:
    # c = 2: the (2, 1) problem is worth (1 - 2*1)/2 = -1/2 per acceptance.
    want = [(-1 / 4 + 1) / 3, (-5 / 12 + 1) / 3, (-1 / 2 + 1) / 3, (-1 / 2 + 1) / 3]
    u = utility_curve(N, B, T, [1, 2, 3, 4], 2.0)
    np.testing.assert_allclose(u, want, rtol=1e-12)
    assert best_k([1, 2, 3, 4], u) == 1  # more samples only add false positives here
    assert best_k([1, 2, 3, 4], utility_curve(N, B, T, [1, 2, 3, 4], 0.0)) == 3
    # Every accepted sample wrong: no k pays, k* = 0.
    bad = utility_curve([4], [2], [0], [1, 2, 3, 4], 1.0)
    assert (bad < 0).all() and best_k([1, 2, 3, 4], bad) == 0


def _enumerated(n: int, b: int, t: int, k: int, c: Fraction) -> Fraction:
    """Draw samples one by one in every order; submit the first the weak verifier accepts
    among the first k (worth 1 if right, -c if a false positive, 0 if none)."""
    labels = ["right"] * t + ["false"] * (b - t) + ["rejected"] * (n - b)
    total = Fraction(0)
    orders = 0
    for order in itertools.permutations(labels):
        orders += 1
        first = next((x for x in order[:k] if x != "rejected"), None)
        total += {"right": Fraction(1), "false": -c, None: Fraction(0)}[first]
    return total / orders


@pytest.mark.parametrize("c", [Fraction(0), Fraction(1), Fraction(5, 2)])
def test_formula_matches_every_draw_order(c: Fraction) -> None:
    problems = [(5, 3, 1), (5, 1, 1), (4, 2, 0), (5, 0, 0), (4, 4, 3)]
    n, b, t = (np.array(x) for x in zip(*problems, strict=True))
    for k in range(1, 5):
        want = sum(_enumerated(*p, k, c) for p in problems) / len(problems)
        got = utility_curve(n, b, t, [k], float(c))[0]
        assert got == pytest.approx(float(want), rel=1e-12), (k, c)


def test_utility_bends_down_when_false_positives_cost() -> None:
    # Three problems a good verifier settles, two where it accepts only a wrong sample.
    n = np.full(5, 10)
    b = np.array([5, 5, 5, 1, 1])
    t = np.array([5, 5, 5, 0, 0])
    ks = np.arange(1, 11)
    u = utility_curve(n, b, t, ks, 2.0)
    star = best_k(ks, u)
    assert 1 < star < 10 and u[star - 1] > u[0] and u[star - 1] > u[-1] + 0.3
    # By hand at k = 3: (3 * (1 - C(5,3)/C(10,3)) - 2 * 2 * 3/10) / 5.
    assert u[2] == pytest.approx((3 * (1 - comb(5, 3) / comb(10, 3)) - 4 * 0.3) / 5)
    acc = utility_curve(n, b, t, ks, 0.0)
    assert (np.diff(acc) >= -1e-15).all()  # without a cost, more samples never hurt


def test_bad_counts_and_cost_ratios_are_refused() -> None:
    with pytest.raises(ValueError, match="t <= b <= n"):
        utility_curve([4], [2], [3], [1], 0.0)
    with pytest.raises(ValueError, match="cost ratio"):
        utility_curve([4], [2], [1], [1], -1.0)
    with pytest.raises(ValueError, match=r"k must be in 1\.\.4"):
        utility_curve([4], [2], [1], [5], 0.0)


def test_counts_from_two_verifiers_and_the_table() -> None:
    ids = ["a", "b"]
    problem = np.array([0, 0, 0, 0, 1, 1, 1, 1], np.int32)
    index = np.array([0, 1, 2, 3, 0, 1, 2, 3])
    strong = np.array([1, 0, 0, 0, 0, 0, 0, 0], bool)
    weak = np.array([1, 1, 0, 0, 1, 0, 0, 0], bool)

    def cols(ok: np.ndarray) -> VerdictColumns:
        return VerdictColumns(ids, problem, index, ok, np.full(8, np.nan), np.full(8, -1, np.int64))

    counts = weak_strong_counts(cols(strong), cols(weak).take(np.arange(7)))  # one unjudged
    assert counts.n.tolist() == [4, 3] and counts.b.tolist() == [2, 1]
    assert counts.t.tolist() == [1, 0] and counts.false_positives.tolist() == [1, 1]
    result = imperfect_table(counts, [1, 2, 3], [0.0, 2.0])
    assert list(result.table.columns) == [
        "k",
        "accuracy",
        "utility_c0",
        "utility_c2",
        "weak_coverage",
        "strong_coverage",
    ]
    np.testing.assert_allclose(
        result.table["utility_c2"], utility_curves(counts.n, counts.b, counts.t, [1, 2, 3], [2])[0]
    )
    assert result.k_star[2.0] == 0  # both problems lose more to false positives than they win
    assert result.table["weak_coverage"].iloc[0] == pytest.approx((2 / 4 + 1 / 3) / 2)
