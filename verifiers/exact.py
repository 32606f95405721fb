"""``exact``: the final number of a sample must equal the reference number exactly.

Used by tasks whose answers are plain numbers (``arith``). The final answer is the
number after the last "answer is", else the last number in the text; thousands
separators and a trailing ``.0`` are normalised away, nothing else is forgiven.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import ClassVar

from harness.core.answers import normalise_number
from harness.core.records import Problem, Sample, Status, Verdict
from harness.core.verifier import Verifier, assign_class_ids

_NUMBER = r"-?\d[\d,]*(?:\.\d+)?"
_ANSWER_IS = re.compile(r"answer is[:\s]*\$?\s*(" + _NUMBER + ")", re.IGNORECASE)
_ANY_NUMBER = re.compile(_NUMBER)


def extract_final_number(text: str) -> str | None:
    """The sample's final numeric answer, normalised, or None when it has no number."""
    found = _ANSWER_IS.findall(text)
    candidates = found or _ANY_NUMBER.findall(text)
    for raw in reversed(candidates):
        value = normalise_number(raw.rstrip(","))
        if value is not None:
            return value
    return None


class ExactNumberVerifier(Verifier):
    """Exact numeric match of the extracted final answer against the reference."""

    name: ClassVar[str] = "exact"
    description: ClassVar[str] = "final number equals the reference exactly"
    # Answer classes are numbered per problem: see every sample so numbering is stable.
    needs_context: ClassVar[bool] = True
    live: ClassVar[bool] = True  # a regular expression per sample

    def verify(self, problem: Problem, samples: Sequence[Sample]) -> list[Verdict]:
        reference = normalise_number(problem.reference or "")
        answers = [extract_final_number(s.text) for s in samples]
        class_ids = assign_class_ids(answers)
        verdicts = []
        for s, answer, cid in zip(samples, answers, class_ids, strict=True):
            correct = answer is not None and answer == reference
            status = (
                Status.NO_ANSWER
                if answer is None
                else (Status.PASSED if correct else Status.FAILED)
            )
            verdicts.append(
                Verdict(s.problem_id, s.sample_index, correct, status, answer=answer, class_id=cid)
            )
        return verdicts
