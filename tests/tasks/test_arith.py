"""The generated arithmetic task: deterministic, levelled, answers consistent with text."""

from __future__ import annotations

import re

import pytest

from harness.core.errors import UsageError
from harness.core.task import get_task
from tasks.arith import ArithTask


def recompute(question: str) -> int:
    """Re-derive the answer from the question's sentences (an independent reading)."""
    value = int(re.search(r"has (\d+)", question).group(1))  # type: ignore[union-attr]
    for sentence in question.split(". ")[1:]:
        if m := re.search(r"(?:gets|finds) (\d+) more", sentence):
            value += int(m.group(1))
        elif m := re.search(r"gives away (\d+)", sentence):
            value -= int(m.group(1))
        elif m := re.search(r"becomes (\d+) times", sentence):
            value *= int(m.group(1))
        elif m := re.search(r"among (\d+) boxes", sentence):
            assert value % int(m.group(1)) == 0
            value //= int(m.group(1))
    return value


def test_answers_match_the_words() -> None:
    problems = ArithTask(seed=3, options={"count": "200"}).load()
    for p in problems:
        question = p.prompt.rsplit("Q: ", 1)[1].removesuffix("\nA:")
        assert recompute(question) == int(p.reference or "x"), question
        assert int(p.reference or "-1") >= 0


def test_same_seed_same_problems_other_seed_other_problems() -> None:
    a = ArithTask(seed=1, options={"count": "20"}).load()
    assert a == ArithTask(seed=1, options={"count": "20"}).load()
    assert a != ArithTask(seed=2, options={"count": "20"}).load()
    assert [p.id for p in a] == [str(i) for i in range(20)]


def test_levels_and_shots() -> None:
    problems = get_task("arith", options={"count": "10", "level": "2,4", "shots": "0"}).load()
    assert {p.metadata["level"] for p in problems} == {2, 4}
    assert problems[0].prompt.startswith("Q: ")
    assert problems[0].messages is not None and len(problems[0].messages) == 1


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"level": "9"}, "level"),
        ({"level": "x"}, "level"),
        ({"count": "0"}, "count"),
        ({"shots": "5"}, "shots"),
        ({"colour": "red"}, "no option"),
    ],
)
def test_bad_options(options: dict[str, str], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        ArithTask(options=options).load()
