"""The allocation search after the greedy: local search on exact coverage, never worse than
its start, and the mixes it finds against a brute force over every mix."""

from __future__ import annotations

import itertools
from math import comb

import numpy as np
import pytest

from analysis.allocation import (
    ConfigRun,
    allocate_split,
    expected_coverage,
    greedy_mix,
    local_search,
    log_fail_table,
    problem_coverage,
    random_split,
)


def random_configs(seed: int) -> tuple[list[np.ndarray], np.ndarray, float]:
    rng = np.random.default_rng(seed)
    width, size, n = int(rng.integers(2, 5)), int(rng.integers(5, 40)), int(rng.integers(4, 20))
    rates = rng.beta(0.3, 1.0, size=(width, size)) * (rng.random((width, size)) < 0.6)
    tables = [log_fail_table(np.full(size, n), rng.binomial(n, rates[j])) for j in range(width)]
    cost = np.ones(width) if seed % 2 == 0 else rng.integers(1, 4, size=width).astype(float)
    return tables, cost, float(rng.integers(1, 3 * n))


def brute_best(tables: list[np.ndarray], cost: np.ndarray, budget: float) -> float:
    """The best expected coverage of any mix within the budget, every mix evaluated."""
    ranges = [
        np.arange(min(t.shape[1] - 1, int(budget // c)) + 1)
        for t, c in zip(tables, cost, strict=True)
    ]
    grid = np.stack([g.ravel() for g in np.meshgrid(*ranges, indexing="ij")], axis=1)
    grid = grid[grid @ cost <= budget + 1e-9]
    log_fail = sum(t[:, grid[:, j]] for j, t in enumerate(tables))
    return float(np.max(np.mean(-np.expm1(log_fail), axis=0)))


def test_local_search_never_scores_below_the_greedy_on_training_problems() -> None:
    improved = optimal = 0
    cases = 120
    for seed in range(cases):
        tables, cost, budget = random_configs(seed)
        greedy = greedy_mix(tables, cost, budget)
        mix = local_search(tables, cost, budget, greedy)
        assert float(mix @ cost) <= budget + 1e-9
        assert (mix >= 0).all()
        before, after = expected_coverage(tables, greedy), expected_coverage(tables, mix)
        assert after >= before - 1e-12, seed
        improved += after > before + 1e-9
        optimal += after >= brute_best(tables, cost, budget) - 1e-9
    # The search does something: it lifts some greedy mixes, and ends at the best mix
    # nearly always (measured: 118 of 120 optimal, 13 improved, at this commit).
    assert improved >= 5
    assert optimal >= 0.95 * cases


def test_local_search_leaves_a_single_sample_swap_nothing_to_gain() -> None:
    tables, cost, budget = random_configs(4)  # unit costs
    mix = local_search(tables, cost, budget, greedy_mix(tables, cost, budget))
    best = expected_coverage(tables, mix)
    for i, j in itertools.permutations(range(len(tables)), 2):
        if mix[i] and mix[j] < tables[j].shape[1] - 1:
            moved = mix.copy()
            moved[i] -= 1
            moved[j] += 1
            assert expected_coverage(tables, moved) <= best + 1e-12


def test_local_search_climbs_out_of_a_bad_start() -> None:
    # Two specialists, each solving half the problems surely with one sample: all the
    # budget on one of them is the worst start, one each the best mix.
    n = np.full(10, 8)
    a = log_fail_table(n, np.where(np.arange(10) < 5, 8, 0))
    b = log_fail_table(n, np.where(np.arange(10) >= 5, 8, 0))
    mix = local_search([a, b], [1.0, 1.0], 2.0, [2, 0])
    assert list(mix) == [1, 1]
    assert expected_coverage([a, b], mix) == pytest.approx(1.0)


def test_problem_coverage_is_exact_without_replacement() -> None:
    tables = [log_fail_table([10], [3]), log_fail_table([6], [1])]
    got = problem_coverage(tables, [2, 3])[0]
    want = 1 - comb(7, 2) / comb(10, 2) * comb(5, 3) / comb(6, 3)
    assert got == pytest.approx(want, abs=1e-12)


def test_mix_is_never_below_the_best_single_or_the_greedy_on_training_problems() -> None:
    rng = np.random.default_rng(7)
    size = 60
    configs = {
        name: ConfigRun(np.full(size, 16), rng.binomial(16, rng.beta(0.3, 1.2, size)), cost)
        for name, cost in (("cheap", 1.0), ("mid", 2.5), ("dear", 7.0))
    }
    tr, te = random_split(size, 3, 0.5)
    table = allocate_split(configs, [1, 3, 8, 20, 60], tr, te)
    assert (table["mix_train"] >= table["single_train"] - 1e-12).all()
    assert (table["mix_train"] >= table["greedy_train"] - 1e-12).all()
    spent = sum(table[f"k:{m}"] * c.cost for m, c in configs.items())
    assert (spent <= table["budget"] + 1e-9).all()
    assert table["gain_test"].to_numpy() == pytest.approx(
        (table["mix_test"] - table["single_test"]).to_numpy()
    )
