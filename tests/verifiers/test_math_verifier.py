"""The ``math`` verifier: verdict fields, options, and the gold solutions of GSM8K and MATH-500."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from harness.core.answers import _BOXED, _match_braces
from harness.core.errors import UsageError
from harness.core.records import Problem, Sample
from harness.core.verifier import VERIFIERS
from tasks.gsm8k import reference_answer
from verifiers.math import MathVerifier

FIXTURES = Path(__file__).parent / "fixtures"


def _samples(pid: str, texts: list[str]) -> list[Sample]:
    return [Sample(pid, i, t) for i, t in enumerate(texts)]


def test_verdicts_carry_answer_class_and_status() -> None:
    verifier = VERIFIERS.create("math")
    problem = Problem("p", "prompt", reference="\\frac{1}{2}")
    texts = ["so \\boxed{0.5}", "The answer is 1/3.", "nothing", "#### 1/2", "The answer is 1/3"]
    verdicts = verifier.verify(problem, _samples("p", texts))
    assert [v.correct for v in verdicts] == [True, False, False, True, False]
    assert [v.status for v in verdicts] == ["passed", "failed", "no_answer", "passed", "failed"]
    assert [v.answer for v in verdicts] == ["0.5", "1/3", None, "1/2", "1/3"]
    assert [v.class_id for v in verdicts] == [0, 1, None, 0, 1]
    assert [v.sample_index for v in verdicts] == [0, 1, 2, 3, 4]


def test_problem_without_reference_is_an_error_verdict() -> None:
    verdicts = MathVerifier().verify(Problem("p", "x"), _samples("p", ["\\boxed{2}"]))
    assert verdicts[0].status == "error" and not verdicts[0].correct
    assert verdicts[0].class_id == 0


@pytest.mark.parametrize("options", [{"timeout": "soon"}, {"timeout": "-1"}, {"colour": "red"}])
def test_bad_options_are_usage_errors(options: dict[str, str]) -> None:
    with pytest.raises(UsageError):
        MathVerifier(options)


def test_timeout_zero_disables_the_signal_timeout() -> None:
    assert MathVerifier({"timeout": "0"}).timeout_s is None


# -- gold solutions -------------------------------------------------------------------------


def _replace_last_boxed(text: str, new: str) -> str:
    for m in reversed(list(_BOXED.finditer(text))):
        start = text.index("{", m.end())
        end = _match_braces(text, start)
        if end is not None:
            return text[: start + 1] + new + text[end - 1 :]
    raise AssertionError("no \\boxed{} in the solution")


def _altered(answer: str) -> str:
    """A different answer: the first integer in it plus one, else the answer plus one."""
    m = re.search(r"\d+", answer)
    if m:
        return answer[: m.start()] + str(int(m.group()) + 1) + answer[m.end() :]
    return answer + "+1"


def _rows(path: Path) -> list[dict[str, str]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_gsm8k_gold_solutions_are_correct_and_altered_ones_wrong(shared_data: Path) -> None:
    rows = _rows(shared_data / "gsm8k" / "test.jsonl")
    assert len(rows) == 1319
    verifier = MathVerifier()
    wrong, fooled = [], []
    for i, row in enumerate(rows):
        reference = reference_answer(row["answer"])
        problem = Problem(str(i), row["question"], reference=reference)
        altered = re.sub(r"####.*", f"#### {int(float(reference or 0)) + 1}", row["answer"])
        gold, bad = verifier.verify(problem, _samples(str(i), [row["answer"], altered]))
        if not gold.correct:
            wrong.append(i)
        if bad.correct:
            fooled.append(i)
    assert wrong == []
    assert fooled == []


def test_math500_gold_solutions_match_the_known_misses(shared_data: Path) -> None:
    rows = _rows(shared_data / "math500" / "test.jsonl")
    assert len(rows) == 500
    known = {
        m["unique_id"]: m["reason"]
        for m in json.loads((FIXTURES / "math500_gold_misses.json").read_text())["misses"]
    }
    verifier = MathVerifier()
    misses, fooled = [], []
    for row in rows:
        problem = Problem(row["unique_id"], row["problem"], reference=row["answer"])
        altered = _replace_last_boxed(row["solution"], _altered(row["answer"]))
        gold, bad = verifier.verify(problem, _samples(problem.id, [row["solution"], altered]))
        if not gold.correct:
            misses.append(row["unique_id"])
        if bad.correct:
            fooled.append((row["unique_id"], row["answer"], _altered(row["answer"])))
    assert len(misses) <= 2, "fewer than 99.6% of the MATH-500 gold solutions judged correct"
    assert sorted(misses) == sorted(known), "update fixtures/math500_gold_misses.json"
    assert fooled == []
