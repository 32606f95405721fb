"""The exact-number verifier."""

from __future__ import annotations

import pytest

from harness.core.records import Problem, Sample
from verifiers.exact import ExactNumberVerifier, extract_final_number


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("2 + 3 = 5. The answer is 5.", "5"),
        ("The answer is 1,000.", "1000"),
        ("The answer is: 12.0", "12"),
        ("7 apples then 9", "9"),
        ("The answer is 4. Then 10 more words 11", "4"),
        ("no number here", None),
        ("The answer is -3.", "-3"),
        ("0.50", "0.5"),
    ],
)
def test_extraction(text: str, answer: str | None) -> None:
    assert extract_final_number(text) == answer


def test_verdicts_classes_and_statuses() -> None:
    problem = Problem("p", "Q", reference="12")
    texts = ["The answer is 12.", "The answer is 13.", "nothing", "so 12.0", "The answer is 13"]
    samples = [Sample("p", i, t) for i, t in enumerate(texts)]
    verdicts = ExactNumberVerifier().verify(problem, samples)
    assert [v.correct for v in verdicts] == [True, False, False, True, False]
    assert [v.status for v in verdicts] == ["passed", "failed", "no_answer", "passed", "failed"]
    assert [v.class_id for v in verdicts] == [0, 1, None, 0, 1]
    assert [v.sample_index for v in verdicts] == list(range(5))
