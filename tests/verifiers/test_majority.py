"""Majority vote over classes and majority@k (exact and sampled)."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from analysis import majority
from analysis.majority import majority_at_k, majority_curve, majority_vote, majority_votes


def _brute_force(ids: list[int | None], ok: list[bool], k: int) -> float:
    subsets = list(itertools.combinations(range(len(ids)), k))
    wins = sum(majority_vote([ids[i] for i in s], [ok[i] for i in s]).correct for s in subsets)
    return wins / len(subsets)


def test_plurality_over_classes_with_recorded_tie_break() -> None:
    vote = majority_vote([2, 0, 1, 1, 2, None, None, None], [False, True, False, False] * 2)
    assert (vote.class_id, vote.votes, vote.tied) == (1, 2, (2,))
    assert not vote.correct
    assert majority_vote([None, None], [False, False]).class_id is None
    assert majority_vote([0, 1, 1], [True, False, False]) == majority.Vote(1, 2, False)


def test_exact_majority_at_k_matches_enumerating_all_subsets() -> None:
    rng = np.random.default_rng(7)
    for _ in range(40):
        n = int(rng.integers(1, 10))
        classes = int(rng.integers(1, 5))
        ids = [None if rng.random() < 0.15 else int(rng.integers(classes)) for _ in range(n)]
        good = set(rng.choice(classes, size=min(classes, int(rng.integers(0, 3))), replace=False))
        ok = [c is not None and c in good for c in ids]
        expected = [_brute_force(ids, ok, k) for k in range(1, n + 1)]
        np.testing.assert_allclose(majority_at_k(ids, ok), expected, atol=1e-12)


def test_sampled_estimate_is_seeded_and_close_to_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(3)
    ids = [int(c) for c in rng.choice(5, size=60, p=[0.35, 0.3, 0.2, 0.1, 0.05])]
    ok = [c == 1 for c in ids]
    exact = majority_at_k(ids, ok)
    monkeypatch.setattr(majority, "EXACT_MAX_N", 0)  # force the sampled path
    sampled = majority_at_k(ids, ok, num_subsets=4000, seed=5)
    assert np.abs(sampled - exact).max() < 0.05
    assert sampled[0] == pytest.approx(ok.count(True) / 60, abs=0.03)
    np.testing.assert_array_equal(sampled, majority_at_k(ids, ok, num_subsets=4000, seed=5))
    assert not np.array_equal(sampled, majority_at_k(ids, ok, num_subsets=4000, seed=6))
    # k = n is a single subset: the sampled value is exact there.
    assert sampled[-1] == exact[-1] == float(majority_vote(ids, ok).correct)


def test_k_one_is_the_fraction_correct_and_k_n_the_full_vote() -> None:
    ids = [0, 1, 1, 2, None, 1, 0]
    ok = [True, False, False, False, False, False, True]
    curve = majority_at_k(ids, ok)
    assert curve[0] == pytest.approx(2 / 7)
    assert curve[-1] == 0.0  # class 1 holds the plurality
    with pytest.raises(ValueError):
        majority_at_k(ids, ok, ks=[8])


def test_curve_and_votes_over_a_verdict_table() -> None:
    table = pd.DataFrame(
        {
            "problem_id": ["a"] * 4 + ["b"] * 4,
            "sample_index": [3, 2, 1, 0] * 2,
            "class_id": [0, 0, 1, 0, 0, 1, 1, None],
            "correct": [True, True, False, True, False, True, True, False],
        }
    )
    curve = majority_curve(table)
    assert list(curve["k"]) == [1, 2, 3, 4]
    # a: 3 of 4 correct in one class; b: class 1 (correct, 2 votes) vs class 0 (1 vote).
    a = majority_at_k([0, 1, 0, 0], [True, False, True, True])
    b = majority_at_k([None, 1, 1, 0], [False, True, True, False])
    np.testing.assert_allclose(curve["majority"], (a + b) / 2)
    votes = majority_votes(table).set_index("problem_id")
    assert votes.loc["a", "class_id"] == 0 and votes.loc["a", "votes"] == 3
    assert bool(votes.loc["b", "correct"]) and votes.loc["b", "tied"] == ""


def _draw_by_draw(
    labels: np.ndarray, good: np.ndarray, ks: np.ndarray, subsets: int, seed: int
) -> np.ndarray:
    """The plain simulation: draw a permutation's samples one by one, keep the leader."""
    rng = np.random.default_rng(seed)
    order = np.argsort(rng.random((subsets, len(labels))), axis=1)
    classes = len(good)
    hits = np.zeros(len(labels))
    for row in order:
        counts = [0] * classes
        leader, best = None, 0
        for step, sample in enumerate(row):
            c = int(labels[sample])
            if c < classes:
                counts[c] += 1
                if counts[c] > best or (counts[c] == best and leader is not None and c < leader):
                    leader, best = c, counts[c]
            hits[step] += leader is not None and bool(good[leader])
    return hits[ks - 1] / subsets


def test_sampled_curve_matches_a_draw_by_draw_simulation() -> None:
    r = np.random.default_rng(0)
    for trial in range(60):
        n = int(r.integers(1, 40))
        classes = int(r.integers(1, 6))
        labels = r.integers(0, classes + 1, n)  # label ``classes``: no answer
        good = r.random(classes) < 0.5
        ks = np.arange(1, n + 1) if trial % 2 else np.unique(r.integers(1, n + 1, 4))
        got = majority._sampled_curve(labels, good, ks, 20, np.random.default_rng(trial))
        np.testing.assert_allclose(got, _draw_by_draw(labels, good, ks, 20, trial), atol=1e-12)
