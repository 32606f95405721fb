"""Selection@k curves against brute-force enumeration of subsets."""

from __future__ import annotations

import itertools
import random

import numpy as np
import pytest

from analysis.selection import (
    align,
    best_of_k_curve,
    best_of_k_weights,
    selection_curves,
)
from harness.core.coltypes import VerdictColumns


def brute_best_of_k(scores: list[float], correct: list[bool], k: int) -> float:
    """Mean over all k-subsets of the correctness of the top-scored sample (ties split)."""
    total = 0.0
    subsets = list(itertools.combinations(range(len(scores)), k))
    for s in subsets:
        top = max(scores[i] for i in s)
        tied = [i for i in s if scores[i] == top]
        total += sum(correct[i] for i in tied) / len(tied)
    return total / len(subsets)


def cols(
    problem: list[int],
    correct: list[bool],
    score: list[float] | None = None,
    class_id: list[int] | None = None,
) -> VerdictColumns:
    size = max(problem) + 1
    index = np.zeros(len(problem), dtype=np.int64)
    seen: dict[int, int] = {}
    for i, p in enumerate(problem):
        index[i] = seen.get(p, 0)
        seen[p] = index[i] + 1
    return VerdictColumns(
        problem_ids=[f"p{i}" for i in range(size)],
        problem=np.asarray(problem, dtype=np.int32),
        sample_index=index,
        correct=np.asarray(correct, dtype=bool),
        score=np.asarray(score if score is not None else [np.nan] * len(problem), float),
        class_id=np.asarray(class_id if class_id is not None else [-1] * len(problem)),
    )


def test_weights_are_a_distribution_over_ranks() -> None:
    w = best_of_k_weights(9, [1, 3, 9])
    np.testing.assert_allclose(w.sum(axis=0), 1.0, atol=1e-12)
    assert w[0, 2] == pytest.approx(1.0) and w[:, 0] == pytest.approx(np.full(9, 1 / 9))


@pytest.mark.parametrize("seed", range(5))
def test_best_of_k_matches_enumeration_with_ties(seed: int) -> None:
    rng = random.Random(seed)
    problems, scores, correct = [], [], []
    for p in range(3):
        n = 8
        problems += [p] * n
        scores += [float(rng.choice([0.1, 0.5, 0.5, 0.9, rng.random()])) for _ in range(n)]
        correct += [rng.random() < 0.4 for _ in range(n)]
    ks = [1, 2, 3, 5, 8]
    got = best_of_k_curve(np.array(problems), np.array(scores), np.array(correct), ks)
    for j, k in enumerate(ks):
        want = np.mean(
            [
                brute_best_of_k(scores[p * 8 : (p + 1) * 8], correct[p * 8 : (p + 1) * 8], k)
                for p in range(3)
            ]
        )
        assert got[j] == pytest.approx(want, abs=1e-12)


def test_missing_scores_rank_last() -> None:
    got = best_of_k_curve(
        np.zeros(3, int), np.array([np.nan, 0.2, np.nan]), np.array([True, False, True]), [3]
    )
    assert got[0] == 0.0


def test_selection_curves_with_scores_and_majority() -> None:
    truth = cols(
        [0, 0, 0, 1, 1, 1], [True, False, False, False, True, True], class_id=[0, 1, 1, 0, 1, 1]
    )
    reward = cols([0, 0, 0, 1, 1, 1], [False] * 6, score=[0.9, 0.1, 0.2, 0.3, 0.8, 0.1])
    frame = selection_curves(truth, {"truth": truth, "rm": reward}, [1, 2, 3])
    assert "best_of_k:rm" in frame and "best_of_k:truth" not in frame  # truth has no scores
    assert frame["best_of_k:rm"].iloc[-1] == pytest.approx(1.0)  # top score is right in both
    assert frame["coverage"].iloc[-1] == pytest.approx(1.0)
    # Problem 0: class 1 (wrong) holds 2 of 3; problem 1: class 1 (right) holds 2 of 3.
    assert frame["majority"].iloc[-1] == pytest.approx(0.5)


def test_align_matches_pairs_across_problem_orders() -> None:
    a = cols([0, 0, 1], [True, False, True])
    b = VerdictColumns(
        ["p1", "p0"],
        np.array([0, 1], np.int32),
        np.array([0, 1]),
        np.array([True, True]),
        np.array([1.0, 2.0]),
        np.array([-1, -1]),
    )
    pos_a, pos_b = align(a, b)
    pairs = {(a.problem_ids[a.problem[i]], int(a.sample_index[i])) for i in pos_a}
    assert pairs == {("p1", 0), ("p0", 1)}
    assert [b.problem_ids[b.problem[j]] for j in pos_b] == [
        a.problem_ids[a.problem[i]] for i in pos_a
    ]
