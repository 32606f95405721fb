"""Clustering answers into equivalence classes, each distinct answer judged once."""

from __future__ import annotations

import pytest

import verifiers._answer_classes as classes
from verifiers._answer_classes import AnswerJudge, judge_answers


def test_classes_are_equivalence_classes_in_order_of_first_appearance() -> None:
    answers = ["1/2", "0.5", "\\frac12", "3", "3.0", "x+1", "1+x", None, "7", "2", "2.00", "x+2"]
    result = judge_answers(answers, "2")
    assert [c for _, c in result] == [0, 0, 0, 1, 1, 2, 2, None, 3, 4, 4, 5]
    assert [ok for ok, _ in result] == [False] * 9 + [True, True, False]


def test_all_correct_answers_share_one_class() -> None:
    result = judge_answers(["0.5", "1/2", "\\dfrac{1}{2}", "\\frac{2}{4}", "2"], "\\frac{1}{2}")
    assert result == [(True, 0)] * 4 + [(False, 1)]


def test_numbering_is_prefix_stable() -> None:
    answers = ["5", "\\sqrt{2}", "4", "5.0", "(1,2)", "\\frac{\\sqrt{2}}{1}", "(1, 2)", "9"]
    full = judge_answers(answers, "4")
    for cut in range(1, len(answers)):
        assert judge_answers(answers[:cut], "4") == full[:cut]


def test_wrong_answers_group_by_value_not_string() -> None:
    result = judge_answers(["\\sqrt{8}", "2\\sqrt{2}", "2.8284271", "[0,1)", "[0, 1)"], "3")
    ids = [c for _, c in result]
    assert ids[0] == ids[1] == ids[2] and ids[3] == ids[4] and ids[0] != ids[3]


def test_base_numerals_are_not_merged_with_their_digits() -> None:
    result = judge_answers(["52_8", "52", "52_{8}"], "52_8")
    assert result == [(True, 0), (False, 1), (True, 0)]


def test_each_distinct_answer_is_judged_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real = classes.keys_equivalent

    def counting(candidate: str, reference: str, timeout_s: int | None = 5) -> bool:
        calls.append(candidate)
        return real(candidate, reference, timeout_s)

    monkeypatch.setattr(classes, "keys_equivalent", counting)
    answers = ["\\frac{1}{2}", "0.5", "$\\frac{1}{2}$", "0.50", "3"] * 200
    judge = AnswerJudge("1/2")
    verdicts = judge.judge(answers)
    assert sorted(calls) == sorted({"\\frac{1}{2}", "0.5", "3"})
    assert sum(ok for ok, _ in verdicts) == 800


def test_no_reference_still_groups() -> None:
    assert judge_answers(["1", "1.0", "2", None], None) == [
        (False, 0),
        (False, 0),
        (False, 1),
        (False, None),
    ]
