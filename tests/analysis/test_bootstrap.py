"""pass@k and the problem bootstrap against exact enumeration on small cases."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from analysis.passk import (
    bootstrap_coverage,
    bootstrap_replicates,
    coverage_by_group,
    coverage_curve,
    log_spaced_ks,
    pass_at_k,
    pass_at_k_curve,
    per_problem_rates,
)


def enumerate_pass_at_k(n: int, c: int, k: int) -> float:
    """Fraction of all size-k subsets of n samples (c correct) holding a correct one."""
    samples = [True] * c + [False] * (n - c)
    subsets = list(itertools.combinations(range(n), k))
    return sum(any(samples[i] for i in s) for s in subsets) / len(subsets)


@pytest.mark.parametrize("n", [1, 2, 5, 8, 10])
def test_pass_at_k_equals_subset_enumeration(n: int) -> None:
    for c in range(n + 1):
        curve = pass_at_k_curve([n], [c])[0]
        for k in range(1, n + 1):
            want = enumerate_pass_at_k(n, c, k)
            assert pass_at_k(n, c, k) == pytest.approx(want, abs=1e-14)
            assert curve[k - 1] == pytest.approx(want, abs=1e-14)


def test_curve_of_ragged_problems_is_nan_past_each_n() -> None:
    curve = pass_at_k_curve([3, 5], [1, 2], [1, 3, 4, 5])
    assert np.isnan(curve[0, 2:]).all()
    assert curve[1, 3] == 1.0
    assert curve[0, 1] == pytest.approx(1.0)  # k = 3 = n with a correct sample


def test_long_curve_matches_log_gamma_form() -> None:
    rng = np.random.default_rng(3)
    n = np.full(50, 4000)
    c = rng.integers(0, 40, size=50)
    ks = np.arange(1, 4001)
    np.testing.assert_allclose(
        pass_at_k_curve(n, c), pass_at_k(n[:, None], c[:, None], ks[None, :]), atol=1e-11
    )


def exact_bootstrap(n: np.ndarray, c: np.ndarray, k: int) -> np.ndarray:
    """Coverage at k of every one of the P^P equally likely resamples of P problems."""
    per = np.array([enumerate_pass_at_k(int(a), int(b), k) for a, b in zip(n, c, strict=True)])
    size = len(n)
    return np.array([per[list(idx)].mean() for idx in itertools.product(range(size), repeat=size)])


def test_bootstrap_distribution_matches_exact_enumeration() -> None:
    n, c = np.array([6, 6, 6, 6]), np.array([0, 1, 3, 6])
    ks = np.array([1, 2, 4])
    reps = bootstrap_replicates(n, c, ks, n_boot=40_000, seed=11)
    for j, k in enumerate(ks):
        exact = exact_bootstrap(n, c, int(k))
        atoms = np.unique(exact.round(12))
        got = reps[:, j].round(12)
        # Every replicate is one of the exactly enumerable resample means ...
        assert np.isin(got, atoms).all()
        # ... with the exact probabilities (CDF within Monte Carlo error) ...
        cdf_exact = np.array([(exact.round(12) <= a).mean() for a in atoms])
        cdf_boot = np.array([(got <= a).mean() for a in atoms])
        assert np.max(np.abs(cdf_exact - cdf_boot)) < 0.01
        # ... the exact mean, and variance = population variance / P.
        assert reps[:, j].mean() == pytest.approx(exact.mean(), abs=2e-3)
        assert reps[:, j].std() == pytest.approx(exact.std(), rel=0.03)


def test_bootstrap_is_seeded_and_recorded() -> None:
    rng = np.random.default_rng(0)
    n = np.full(30, 20)
    c = rng.integers(0, 21, size=30)
    a = bootstrap_coverage(n, c, n_boot=200, seed=5)
    b = bootstrap_coverage(n, c, n_boot=200, seed=5)
    other = bootstrap_coverage(n, c, n_boot=200, seed=6)
    np.testing.assert_array_equal(a.lo, b.lo)
    assert not np.array_equal(a.lo, other.lo)
    assert (a.seed, a.n_boot, a.level) == (5, 200, 0.95)
    assert (a.lo <= a.coverage + 1e-12).all() and (a.coverage <= a.hi + 1e-12).all()
    np.testing.assert_allclose(a.coverage, coverage_curve(n, c))
    assert list(a.frame().columns) == ["k", "coverage", "lo", "hi", "std"]


def test_percentile_band_covers_truth_at_nominal_rate() -> None:
    """Across many simulated datasets the 90% band at k=1 holds the true mean ~90%."""
    rng = np.random.default_rng(1)
    p = rng.beta(0.5, 1.5, size=100_000)
    truth = p.mean()
    hits = 0
    trials = 200
    for t in range(trials):
        sub = rng.choice(p, size=80)
        c = rng.binomial(1, sub)
        ci = bootstrap_coverage(np.ones(80, int), c, [1], n_boot=400, seed=t, level=0.9)
        hits += int(ci.lo[0] <= truth <= ci.hi[0])
    assert 0.82 <= hits / trials <= 0.96


def test_per_problem_rates_and_jeffreys_interval() -> None:
    from scipy.stats import beta

    table = per_problem_rates([10, 10, 4], [0, 10, 1])
    assert table["rate"].tolist() == [0.0, 1.0, 0.25]
    assert table["lo"][0] == 0.0 and table["hi"][1] == 1.0
    assert table["lo"][2] == pytest.approx(beta.ppf(0.025, 1.5, 3.5))
    assert table["hi"][2] == pytest.approx(beta.ppf(0.975, 1.5, 3.5))


def test_coverage_by_group_is_mean_within_group() -> None:
    n = np.array([5, 5, 5, 5])
    c = np.array([0, 5, 1, 2])
    frame = coverage_by_group(n, c, ["Level 10", "Level 2", "Level 10", "Level 2"], [1, 3])
    assert frame["group"].drop_duplicates().tolist() == ["Level 2", "Level 10"]
    lvl2 = frame[frame["group"] == "Level 2"]
    want = (pass_at_k(5, 5, 3) + pass_at_k(5, 2, 3)) / 2
    assert float(lvl2[lvl2["k"] == 3]["coverage"].iloc[0]) == pytest.approx(float(want))
    assert isinstance(frame, pd.DataFrame) and set(frame["problems"]) == {2}


def test_log_spaced_ks_spans_both_ends() -> None:
    ks = log_spaced_ks(10_000, 40)
    assert ks[0] == 1 and ks[-1] == 10_000
    assert np.all(np.diff(ks) > 0) and 30 <= len(ks) <= 41
    assert log_spaced_ks(3, 40).tolist() == [1, 2, 3]
