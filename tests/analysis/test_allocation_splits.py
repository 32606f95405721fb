"""Allocation over repeated splits: the spread and the interval of the gain, and splits
named by the problems."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from analysis.allocation import ConfigRun, allocate_split, random_split
from analysis.allocation_splits import (
    bootstrap_gain,
    corrected_interval,
    labelled_split,
    repeated_splits,
    summarize_splits,
)


def configs(seed: int = 0, size: int = 40) -> dict[str, ConfigRun]:
    rng = np.random.default_rng(seed)
    return {
        f"c{j}": ConfigRun(np.full(size, 12), rng.binomial(12, rng.beta(0.4, 1.0, size)), 1.0)
        for j in range(3)
    }


def test_summary_spread_is_the_spread_of_the_per_split_rows() -> None:
    cfg = configs()
    seeds = list(range(6))
    per_split = repeated_splits(cfg, [2, 5], seeds, train=0.6)
    summary = summarize_splits(per_split, list(cfg))
    for budget, row in zip([2, 5], summary.itertuples(), strict=True):
        gains = []
        for seed in seeds:
            tr, te = random_split(40, seed, 0.6)
            gains.append(float(allocate_split(cfg, [budget], tr, te)["gain_test"].iloc[0]))
        assert row.gain == pytest.approx(np.mean(gains), abs=1e-12)
        assert row.gain_std == pytest.approx(np.std(gains, ddof=1), abs=1e-12)
        assert row.splits == len(seeds)
        assert row.gain_lo < row.gain < row.gain_hi


def test_corrected_interval_is_wider_than_the_naive_one() -> None:
    values = np.array([0.02, 0.05, 0.01, 0.04, 0.03])
    lo, hi = corrected_interval(values, train=30, test=20)
    half = stats.t.ppf(0.975, 4) * np.sqrt((1 / 5 + 20 / 30) * values.var(ddof=1))
    assert (lo, hi) == pytest.approx((values.mean() - half, values.mean() + half))
    naive = stats.t.ppf(0.975, 4) * values.std(ddof=1) / np.sqrt(5)
    assert hi - lo > 2 * naive
    assert np.isnan(corrected_interval([0.1], 10, 10)[0])


def test_labelled_split_reads_train_test_and_both() -> None:
    tr, te = labelled_split(["train", "Test", "both", "train"])
    assert list(tr) == [0, 2, 3] and list(te) == [1, 2]
    with pytest.raises(ValueError, match="train, test or both"):
        labelled_split(["train", "dev"])
    with pytest.raises(ValueError, match="needs both"):
        labelled_split(["train", "train"])


def test_bootstrap_gain_brackets_the_gain_of_one_split() -> None:
    cfg = configs(1, size=60)
    tr, te = random_split(60, 0, 0.5)
    table = bootstrap_gain(cfg, allocate_split(cfg, [1, 4, 10], tr, te), te, resamples=400)
    assert (table["gain_lo"] <= table["gain_test"] + 1e-12).all()
    assert (table["gain_test"] <= table["gain_hi"] + 1e-12).all()
    assert (table["gain_hi"] > table["gain_lo"]).any()
