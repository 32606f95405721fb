"""pass@k against the closed form 1 - C(n-c,k)/C(n,k) computed with exact fractions."""

from __future__ import annotations

from fractions import Fraction
from math import comb

import numpy as np
import pytest

from analysis.passk import coverage_curve, pass_at_k, pass_at_k_curve


def exact(n: int, c: int, k: int) -> Fraction:
    return 1 - Fraction(comb(n - c, k), comb(n, k))


def random_cases(seed: int, count: int, n_max: int) -> list[tuple[int, int, int]]:
    rng = np.random.default_rng(seed)
    cases = []
    for _ in range(count):
        n = int(rng.integers(1, n_max + 1))
        c = int(rng.integers(0, n + 1))
        k = int(rng.integers(1, n + 1))
        cases.append((n, c, k))
    # Edges: no correct sample, all correct, k = n, k = 1.
    cases += [(10, 0, 3), (10, 10, 3), (10, 4, 10), (7, 0, 7), (7, 7, 7), (5, 2, 1), (1, 0, 1)]
    return cases


@pytest.mark.parametrize("n_max", [20, 500, 5000])
def test_matches_closed_form(n_max: int) -> None:
    cases = random_cases(n_max, 300, n_max)
    n, c, k = (np.array(x) for x in zip(*cases, strict=True))
    got = pass_at_k(n, c, k)
    want = np.array([float(exact(*case)) for case in cases])
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


def test_curve_matches_closed_form_for_every_k() -> None:
    rng = np.random.default_rng(1)
    n = rng.integers(1, 60, size=25)
    c = np.array([rng.integers(0, x + 1) for x in n])
    curve = pass_at_k_curve(n, c)
    for i in range(len(n)):
        for k in range(1, int(n.max()) + 1):
            if k > n[i]:
                assert np.isnan(curve[i, k - 1])
            else:
                assert curve[i, k - 1] == pytest.approx(float(exact(n[i], c[i], k)), abs=1e-13)


def test_edges_are_exact() -> None:
    assert pass_at_k(10, 0, 10) == 0.0
    assert pass_at_k(10, 10, 1) == 1.0
    assert pass_at_k(10, 1, 10) == 1.0
    assert pass_at_k(4, 1, 1) == pytest.approx(0.25)


def test_coverage_is_mean_over_problems() -> None:
    n, c = np.array([4, 4]), np.array([0, 2])
    got = coverage_curve(n, c)
    want = [float((exact(4, 0, k) + exact(4, 2, k)) / 2) for k in range(1, 5)]
    np.testing.assert_allclose(got, want, atol=1e-15)


def test_rejects_impossible_counts() -> None:
    with pytest.raises(ValueError):
        pass_at_k(5, 6, 1)
    with pytest.raises(ValueError):
        pass_at_k(5, 1, 6)
    with pytest.raises(ValueError):
        pass_at_k(5, 1, 0)
