"""The knockout tournament against theory: a scripted judge that prefers the correct
candidate with probability p, N = 2..64.

Theory, computed here from the bracket's rule alone (a uniformly random order; each round
pairs (0,1), (2,3), ...; the last entrant of an odd round has a bye): a match whose
subtrees hold j1 and j2 correct candidates is won by a correct one with probability
f1*f2 + p*(f1*(1-f2) + (1-f1)*f2), f the subtrees' own rates, and the correct candidates
of a node split between its subtrees hypergeometrically.
"""

from __future__ import annotations

import math
import random
from functools import cache

import pytest

from verifiers.pairwise import Bracket, knockout


def bracket_tree(n: int) -> tuple[object, ...]:
    """The bracket's shape: nested pairs of leaf positions, by the rule in the docstring."""
    nodes: list[object] = list(range(n))
    while len(nodes) > 1:
        merged: list[object] = [(nodes[i], nodes[i + 1]) for i in range(0, len(nodes) - 1, 2)]
        if len(nodes) % 2:
            merged.append(nodes[-1])
        nodes = merged
    return (nodes[0],)


def leaves(node: object) -> int:
    return 1 if isinstance(node, int) else sum(leaves(c) for c in node)  # type: ignore[attr-defined]


def theory(n: int, m: int, p: float) -> float:
    """P(the winner is correct) with m correct of n candidates in a random order."""

    @cache
    def rate(node: object, j: int) -> float:
        if isinstance(node, int):
            return float(j)
        left, right = node  # type: ignore[misc]
        s1, s2 = leaves(left), leaves(right)
        total = 0.0
        for j1 in range(max(0, j - s2), min(j, s1) + 1):
            weight = math.comb(s1, j1) * math.comb(s2, j - j1) / math.comb(s1 + s2, j)
            f1, f2 = rate(left, j1), rate(right, j - j1)
            total += weight * (f1 * f2 + p * (f1 * (1 - f2) + (1 - f1) * f2))
        return total

    return rate(bracket_tree(n)[0], m)


def scripted_judge(correct: set[int], p: float, rng: random.Random):  # type: ignore[no-untyped-def]
    def judge(a: int, b: int) -> int:
        if (a in correct) == (b in correct):
            return a if rng.random() < 0.5 else b
        good, bad = (a, b) if a in correct else (b, a)
        return good if rng.random() < p else bad

    return judge


def test_theory_is_right_where_it_is_known() -> None:
    assert theory(2, 1, 0.7) == pytest.approx(0.7)
    assert theory(8, 8, 0.3) == pytest.approx(1.0) and theory(8, 0, 0.9) == 0.0
    # A fair judge picks a uniformly random candidate: m / n, whatever the bracket.
    for n in (3, 5, 12, 33):
        assert theory(n, 2, 0.5) == pytest.approx(2 / n)
    # A perfect judge finds one correct candidate among any number.
    assert theory(64, 1, 1.0) == pytest.approx(1.0)


RUNS = 400


@pytest.mark.parametrize("p", [0.6, 0.9])
def test_winner_is_correct_at_the_theoretical_rate(p: float) -> None:
    z_squares = []
    for n in range(2, 65):
        m = max(1, n // 4)
        correct = set(range(m))
        rng = random.Random(f"judge/{n}/{p}")
        wins = 0
        for run in range(RUNS):
            winner, matches = knockout(range(n), scripted_judge(correct, p, rng), seed=run)
            assert len(matches) == n - 1
            wins += winner in correct
        want = theory(n, m, p)
        sd = math.sqrt(max(want * (1 - want), 1e-12) / RUNS)
        z = (wins / RUNS - want) / sd
        assert abs(z) < 4.5, (n, m, p, wins / RUNS, want)
        z_squares.append(z * z)
    # Over all 63 sizes together: the squared errors are those of sampling noise
    # (chi-square, 63 degrees of freedom: 99.9% below 103).
    assert sum(z_squares) < 103, sum(z_squares)


@pytest.mark.parametrize("n", [1, 2, 3, 5, 7, 8, 9, 16, 31, 33, 64, 100])
def test_exactly_n_minus_one_matches_in_ceil_log2_rounds(n: int) -> None:
    bracket = Bracket(list(range(n)), seed=3)
    while not bracket.done:
        bracket.advance([min(pair) for pair in bracket.pairs()])
    assert len(bracket.matches) == n - 1
    assert bracket.rounds == (math.ceil(math.log2(n)) if n > 1 else 0)
    # Every candidate but the winner loses exactly once.
    losers = [a if w == b else b for a, b, w in bracket.matches]
    assert sorted([*losers, bracket.winner]) == list(range(n))


def test_same_seed_same_tournament_other_seed_other_bracket() -> None:
    def judge(a: int, b: int) -> int:
        return max(a, b) if (a * 7 + b) % 3 else min(a, b)

    cands = [4, 9, 15, 16, 23, 42, 8]
    first = knockout(cands, judge, seed=11)
    assert knockout(cands, judge, seed=11) == first
    brackets = {tuple(knockout(cands, judge, seed=s)[1]) for s in range(10)}
    assert len(brackets) > 1


def test_a_judge_that_names_neither_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot be"):
        knockout([1, 2], lambda a, b: 7, seed=0)
    with pytest.raises(ValueError, match="at least one"):
        knockout([], lambda a, b: a, seed=0)
