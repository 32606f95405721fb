"""Scaling-law fits: recovery of known parameters, backtest, Beta model."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.stats import beta as beta_dist

from analysis.passk import bootstrap_replicates, coverage_curve, log_spaced_ks
from analysis.scaling import (
    backtest,
    bootstrap_fit,
    fit_beta_binomial,
    fit_power_law,
    fit_scaling_law,
)
from analysis.simulate import power_law_mixture, simulate_counts, simulate_verdicts


def test_mixture_has_the_requested_curve() -> None:
    mix = power_law_mixture(-1.33, -0.43, 10_000)
    ks = np.array([1, 10, 100, 1000, 10_000])
    np.testing.assert_allclose(np.log(mix.coverage(ks)), -1.33 * ks**-0.43, atol=1e-5)
    assert mix.weights.sum() == pytest.approx(1.0)


@pytest.mark.parametrize(("a", "b"), [(-1.33, -0.43), (-2.5, -0.3), (-0.5, -0.8)])
@pytest.mark.parametrize("seed", [0, 1])
def test_fit_recovers_known_parameters_within_5_percent(a: float, b: float, seed: int) -> None:
    mix = power_law_mixture(a, b, 10_000)
    p = mix.draw(2000, seed=seed)
    n, c = simulate_counts(p, 10_000, seed=seed)
    ks = np.arange(1, 10_001)
    got_a, got_b = fit_power_law(ks, coverage_curve(n, c, ks))
    assert isinstance(got_a, float) and isinstance(got_b, float)
    assert got_a == pytest.approx(a, rel=0.05)
    assert got_b == pytest.approx(b, rel=0.05)


def test_fit_is_exact_on_noiseless_curve_and_reports_residuals() -> None:
    ks = log_spaced_ks(5000)
    fit = fit_scaling_law(ks, np.exp(-0.9 * ks**-0.6))
    assert fit.a == pytest.approx(-0.9, abs=1e-8)
    assert fit.b == pytest.approx(-0.6, abs=1e-8)
    assert fit.rmse < 1e-9 and fit.residuals.shape == fit.ks.shape
    assert fit.predict(10) == pytest.approx(np.exp(-0.9 * 10**-0.6))


def test_fit_skips_zero_coverage_and_needs_two_points() -> None:
    fit = fit_scaling_law(
        [1, 2, 4, 8], [0.0, np.exp(-2 * 2**-0.5), np.exp(-2 * 4**-0.5), np.exp(-2 * 8**-0.5)]
    )
    assert fit.a == pytest.approx(-2, abs=1e-6) and fit.ks.tolist() == [2, 4, 8]
    with pytest.raises(ValueError):
        fit_scaling_law([1, 2], [0.0, 0.5])


def test_bootstrap_fit_interval_covers_truth() -> None:
    mix = power_law_mixture(-1.33, -0.43, 1000)
    n, c = simulate_counts(mix.draw(400, seed=2, stratified=False), 1000, seed=2)
    ks = log_spaced_ks(1000)
    fit = fit_scaling_law(ks, coverage_curve(n, c, ks))
    interval = bootstrap_fit(bootstrap_replicates(n, c, ks, 300, seed=0), ks)
    assert interval.a_ci[0] < fit.a < interval.a_ci[1]
    assert interval.a_ci[0] < -1.33 < interval.a_ci[1]
    assert interval.b_ci[0] < -0.43 < interval.b_ci[1]
    lo, hi = interval.band([1000, 10_000])
    assert (lo < hi).all() and lo[1] > lo[0]


def test_beta_binomial_recovers_parameters() -> None:
    rng = np.random.default_rng(0)
    p = rng.beta(0.6, 2.5, size=6000)
    n = np.full(6000, 60)
    c = rng.binomial(60, p)
    fit = fit_beta_binomial(n, c)
    assert fit.alpha == pytest.approx(0.6, rel=0.1)
    assert fit.beta == pytest.approx(2.5, rel=0.1)


def test_beta_prediction_is_the_expected_coverage() -> None:
    from analysis.scaling import BetaFit

    model = BetaFit(0.7, 3.0, 0.0)
    for k in (1, 7, 300):
        want = quad(lambda p, k=k: (1 - (1 - p) ** k) * beta_dist.pdf(p, 0.7, 3.0), 0, 1)[0]
        assert float(model.predict(k)) == pytest.approx(want, abs=1e-7)


def test_backtest_on_power_law_data_predicts_the_full_run() -> None:
    mix = power_law_mixture(-1.33, -0.43, 2000)
    p = mix.draw(800, seed=4)
    verdicts = simulate_verdicts(p, 2000, seed=4)
    head = verdicts[:, :200]
    n_full, c_full = np.full(800, 2000), verdicts.sum(axis=1)
    observed = float(coverage_curve(n_full, c_full, [2000])[0])
    result = backtest(np.full(800, 200), head.sum(axis=1), 2000, observed)
    assert result.head == 200 and result.target_k == 2000
    assert abs(result.power_law_error) < 0.03
    assert result.better in ("power_law", "beta")
    chosen = result.power_law_error if result.better == "power_law" else result.beta_error
    assert abs(chosen) <= min(abs(result.power_law_error), abs(result.beta_error))
    assert set(result.to_dict()) >= {"power_law_error", "beta_error", "better", "observed"}
    with pytest.raises(ValueError):
        backtest([3, 3], [1, 0], 30, 0.5)


def test_vectorised_profile_fit_matches_least_squares_per_row() -> None:
    from analysis.scaling import profile_fit

    rng = np.random.default_rng(5)
    ks = log_spaced_ks(3000)
    rows = []
    for a, b in [(-1.33, -0.43), (-3.0, -0.2), (-0.4, -1.1)]:
        noise = 1 + 0.01 * rng.standard_normal(ks.size)
        rows.append(np.minimum(np.exp(a * ks**b) * noise, 1.0))
    rows.append(np.r_[0.0, 0.0, np.exp(-2 * ks[2:] ** -0.5)])  # zero coverage left out
    got_a, got_b = profile_fit(ks, np.array(rows))
    for i, row in enumerate(rows):
        want = fit_scaling_law(ks, row, points=None)
        assert got_a[i] == pytest.approx(want.a, abs=1e-6)
        assert got_b[i] == pytest.approx(want.b, abs=1e-6)
