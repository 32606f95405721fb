"""Compute allocation: early stopping, OSCA greedy mixes, equal-budget comparisons."""

from __future__ import annotations

import itertools
from math import comb

import numpy as np
import pytest

from analysis.allocation import (
    ConfigRun,
    coverage_at_budget,
    early_stopping_table,
    equal_budget_table,
    expected_coverage,
    greedy_mix,
    log_fail_table,
    osca_table,
)
from analysis.passk import coverage_curve


def brute_expected_draws(n: int, c: int, cap: int) -> float:
    """E[samples drawn] stopping at the first correct one, over all orders of the n samples."""
    items = [1] * c + [0] * (n - c)
    orders = list(itertools.permutations(range(n)))
    total = 0
    for order in orders:
        drawn = 0
        for i in order[:cap]:
            drawn += 1
            if items[i]:
                break
        total += drawn
    return total / len(orders)


def test_early_stopping_matches_enumeration() -> None:
    n = np.array([6, 6, 6])
    c = np.array([0, 1, 3])
    curve = coverage_curve(n, c)
    table = early_stopping_table([1, 2, 4, 6], curve, 3)
    for row in table.itertuples():
        want = sum(brute_expected_draws(6, int(ci), int(row.k)) for ci in c)
        assert row.adaptive_samples == pytest.approx(want, abs=1e-9)
        assert row.uniform_samples == 3 * row.k
        assert row.coverage == pytest.approx(curve[row.k - 1])
    assert table["saved"].iloc[0] == 0.0 and table["saved"].iloc[-1] > 0


def test_log_fail_table_is_log_of_binomial_ratio() -> None:
    table = log_fail_table([7, 7], [2, 0])
    for k in range(8):
        want = comb(5, k) / comb(7, k)
        assert np.exp(table[0, k]) == pytest.approx(want, abs=1e-12)
        assert table[1, k] == pytest.approx(0.0)


def test_greedy_mix_respects_budget_and_beats_single_configs() -> None:
    rng = np.random.default_rng(0)
    size = 200
    # Config A solves easy problems, config B hard ones: a mix beats either alone.
    pa = np.where(np.arange(size) < 100, 0.5, 0.0)
    pb = np.where(np.arange(size) >= 100, 0.05, 0.0)
    n = np.full(size, 64)
    ca, cb = rng.binomial(64, pa), rng.binomial(64, pb)
    tables = [log_fail_table(n, ca), log_fail_table(n, cb)]
    mix = greedy_mix(tables, [1.0, 2.0], 40.0)
    assert mix[0] * 1.0 + mix[1] * 2.0 <= 40.0
    best_single = max(expected_coverage(tables, [40, 0]), expected_coverage(tables, [0, 20]))
    assert expected_coverage(tables, mix) > best_single + 0.05


def test_osca_table_scores_on_held_out_problems() -> None:
    rng = np.random.default_rng(1)
    size = 120
    n = np.full(size, 32)
    configs = {
        "small": ConfigRun(n, rng.binomial(32, np.where(np.arange(size) % 2, 0.4, 0.0)), 1.0),
        "big": ConfigRun(n, rng.binomial(32, np.where(np.arange(size) % 3 == 0, 0.3, 0.02)), 4.0),
    }
    table = osca_table(configs, [4, 16, 64], seed=3)
    assert list(table["budget"]) == [4, 16, 64]
    assert (table["train_problems"] + table["test_problems"] == size).all()
    assert (table["split_seed"] == 3).all()
    assert (table["mix_train"] >= table["single_train"] - 1e-12).all()
    assert table["mix"].str.len().min() > 0


def test_equal_budget_table_interpolates_in_k() -> None:
    flops_a = np.arange(1, 11) * 10.0  # 10 FLOPs per sample
    flops_b = np.arange(1, 4) * 40.0
    cov_a = np.linspace(0.1, 0.6, 10)
    cov_b = np.array([0.3, 0.5, 0.7])
    assert coverage_at_budget(flops_a, cov_a, 15.0) == pytest.approx((cov_a[0] + cov_a[1]) / 2)
    assert np.isnan(coverage_at_budget(flops_b, cov_b, 10.0))
    table = equal_budget_table({"a": (flops_a, cov_a), "b": (flops_b, cov_b)}, points=5)
    assert table["flops"].iloc[0] == 10.0 and table["flops"].iloc[-1] == 120.0
    assert table["best"].iloc[-1] == "b" and table["best"].iloc[0] == "a"
