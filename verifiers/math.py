"""``math``: the final answer must be mathematically equivalent to the reference answer.

The final answer of each sample is extracted (``\\boxed{}``, "The answer is", ``####``,
last number), normalised, and each distinct answer of a problem is judged once against
the reference with math-verify. Verdicts carry the extracted answer and its equivalence
class id, so majority vote and analysis never re-parse text.

Options (``--verifier-opt``): ``timeout`` — seconds math-verify may spend on one parse or
comparison (main thread only; 0 disables it; default 5).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from harness.core.answers import extract_answer
from harness.core.options import as_dict, option
from harness.core.records import Problem, Sample, Status, Verdict
from harness.core.verifier import Verifier
from verifiers._equivalence import DEFAULT_TIMEOUT_S


@dataclass(frozen=True)
class MathOptions:
    timeout: int = option(
        DEFAULT_TIMEOUT_S, "seconds math-verify may spend on one comparison (0: no limit)", min=0
    )


class MathVerifier(Verifier):
    """Final-answer equivalence with the reference, through math-verify, clustered."""

    name: ClassVar[str] = "math"
    description: ClassVar[str] = "final answer equivalent to the reference (math-verify)"
    # Class ids are numbered over the whole problem, so the driver passes all samples.
    needs_context: ClassVar[bool] = True

    Options: ClassVar[type] = MathOptions
    live: ClassVar[bool] = True  # string checks first; math-verify once per distinct answer

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(options)
        self.timeout_s: int | None = self.options.timeout or None

    def verify(self, problem: Problem, samples: Sequence[Sample]) -> list[Verdict]:
        # sympy takes seconds to import: only when there is something to judge, so that
        # checking the options (before a run) stays instant.
        from verifiers._answer_classes import AnswerJudge

        judge = AnswerJudge(problem.reference, self.timeout_s)
        answers = [extract_answer(s.text) for s in samples]
        verdicts = []
        for sample, answer, (correct, class_id) in zip(
            samples, answers, judge.judge(answers), strict=True
        ):
            if class_id is None:
                status, answer = Status.NO_ANSWER, None
            elif problem.reference is None:
                status = Status.ERROR
            else:
                status = Status.PASSED if correct else Status.FAILED
            verdicts.append(
                Verdict(
                    sample.problem_id,
                    sample.sample_index,
                    correct,
                    status,
                    answer=answer,
                    class_id=class_id,
                    detail="problem has no reference answer" if status is Status.ERROR else None,
                )
            )
        return verdicts

    def describe(self) -> dict[str, Any]:
        return {
            "verifier": self.name,
            "options": as_dict(self.options),
            "extraction": "last \\boxed{}, else 'The answer is'/'Answer:'/'####', else last number",
            "equivalence": "normalised string, exact decimals, else math-verify",
            "timeout_s": self.timeout_s,
        }
