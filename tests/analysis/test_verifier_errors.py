"""False positives and negatives of an imperfect verifier against a ground truth."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from analysis.verifier_errors import verifier_errors
from harness.core.coltypes import VerdictColumns


def make(correct: list[bool], problems: list[int]) -> VerdictColumns:
    index = np.array([problems[:i].count(p) for i, p in enumerate(problems)])
    return VerdictColumns(
        [f"q{p}" for p in sorted(set(problems))],
        np.asarray(problems, np.int32),
        index,
        np.asarray(correct),
        np.full(len(problems), np.nan),
        np.full(len(problems), -1),
    )


def test_confusion_counts_and_rates() -> None:
    problems = [0, 0, 0, 0, 1, 1, 1, 1]
    truth = make([True, False, False, True, False, False, False, False], problems)
    other = make([True, True, False, False, False, True, True, False], problems)
    errs = verifier_errors(truth, other, [1, 2, 4], names=("tests", "judge"))
    d = errs.confusion.to_dict()
    assert (d["true_positive"], d["false_positive"], d["false_negative"], d["true_negative"]) == (
        1,
        3,
        1,
        3,
    )
    assert d["precision"] == pytest.approx(0.25) and d["recall"] == pytest.approx(0.5)
    assert d["false_positive_rate"] == pytest.approx(0.5)
    assert errs.per_problem["false_positives"].tolist() == [1, 2]
    curves = errs.curves.set_index("k")
    assert curves.loc[4, "true_coverage"] == pytest.approx(0.5)
    assert curves.loc[4, "claimed_coverage"] == pytest.approx(1.0)
    # accept@4 = submit a random accepted sample: problem 0 -> 1/2, problem 1 -> 0.
    assert curves.loc[4, "accept_at_k"] == pytest.approx(0.25)
    # accept@1 is just the truth rate of a random sample.
    assert curves.loc[1, "accept_at_k"] == pytest.approx(2 / 8)


def test_accept_at_k_matches_enumeration() -> None:
    right = [True, False, True, False, False, False]
    said = [True, True, False, False, True, False]
    errs = verifier_errors(make(right, [0] * 6), make(said, [0] * 6), [2, 3])
    for k in (2, 3):
        total = 0.0
        subsets = list(itertools.combinations(range(6), k))
        for s in subsets:
            accepted = [i for i in s if said[i]] or list(s)
            total += sum(right[i] for i in accepted) / len(accepted)
        got = errs.curves.set_index("k").loc[k, "accept_at_k"]
        assert got == pytest.approx(total / len(subsets), abs=1e-12)


def test_no_shared_sample_is_an_error() -> None:
    with pytest.raises(ValueError):
        verifier_errors(
            make([True], [0]),
            VerdictColumns(
                ["zz"],
                np.zeros(1, np.int32),
                np.zeros(1, np.int64),
                np.ones(1, bool),
                np.ones(1),
                np.zeros(1, np.int64),
            ),
            [1],
        )
