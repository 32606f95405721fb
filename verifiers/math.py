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
from typing import Any, ClassVar

from harness.errors import UsageError
from harness.records import Problem, Sample, Verdict
from verifiers.answer_classes import AnswerJudge
from verifiers.answers import DEFAULT_TIMEOUT_S, extract_answer
from verifiers.base import Verifier


class MathVerifier(Verifier):
    """Final-answer equivalence with the reference, through math-verify, clustered."""

    name: ClassVar[str] = "math"
    description: ClassVar[str] = "final answer equivalent to the reference (math-verify)"
    # Class ids are numbered over the whole problem, so the driver passes all samples.
    needs_context: ClassVar[bool] = True

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(options)
        unknown = set(self.options) - {"timeout"}
        if unknown:
            raise UsageError(
                f"verifier 'math' has no option(s) {', '.join(sorted(unknown))} (known: timeout)"
            )
        raw = self.options.get("timeout", DEFAULT_TIMEOUT_S)
        try:
            timeout = int(raw)
        except (TypeError, ValueError):
            raise UsageError(f"verifier option timeout={raw!r} is not an integer") from None
        if timeout < 0:
            raise UsageError(f"verifier option timeout must be >= 0, got {timeout}")
        self.timeout_s: int | None = timeout or None

    def verify(self, problem: Problem, samples: Sequence[Sample]) -> list[Verdict]:
        judge = AnswerJudge(problem.reference, self.timeout_s)
        answers = [extract_answer(s.text) for s in samples]
        verdicts = []
        for sample, answer, (correct, class_id) in zip(
            samples, answers, judge.judge(answers), strict=True
        ):
            if class_id is None:
                status, answer = "no_answer", None
            elif problem.reference is None:
                status = "error"
            else:
                status = "passed" if correct else "failed"
            verdicts.append(
                Verdict(
                    sample.problem_id,
                    sample.sample_index,
                    correct,
                    status,
                    answer=answer,
                    class_id=class_id,
                    detail="problem has no reference answer" if status == "error" else None,
                )
            )
        return verdicts

    def describe(self) -> dict[str, Any]:
        return {
            "verifier": self.name,
            "options": self.options,
            "extraction": "last \\boxed{}, else 'The answer is'/'Answer:'/'####', else last number",
            "equivalence": "normalised string, exact decimals, else math-verify",
            "timeout_s": self.timeout_s,
        }
