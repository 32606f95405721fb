"""The Verifier protocol and the verifier registry.

A verifier judges the samples of one problem and returns one ``Verdict`` per sample.
Verifiers that gain from seeing many problems at once (a sandbox pool, a reward model
batch) override ``verify_many``; the driver always calls ``verify_many``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, ClassVar

from harness.records import Problem, Sample, Verdict
from harness.registry import Registry


class Verifier(ABC):
    """Base class of verifiers."""

    name: ClassVar[str]
    description: ClassVar[str] = ""
    # True: ``verify`` gets all samples of a problem in sample order (verdicts already on
    # disk are discarded by the caller), so per-problem answer-class numbering stays the
    # same across calls. False: only the samples not judged yet.
    needs_context: ClassVar[bool] = False

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        self.options = dict(options or {})

    @abstractmethod
    def verify(self, problem: Problem, samples: Sequence[Sample]) -> list[Verdict]:
        """One verdict per sample, in the order of ``samples``."""

    def verify_many(
        self, items: Iterable[tuple[Problem, Sequence[Sample]]]
    ) -> Iterator[list[Verdict]]:
        """Verdicts for each (problem, samples) item; may run items concurrently."""
        for problem, samples in items:
            yield self.verify(problem, samples)

    def describe(self) -> dict[str, Any]:
        """Facts about the verifier worth recording next to its verdicts."""
        return {"verifier": self.name, "options": self.options}

    def close(self) -> None:  # noqa: B027 - optional hook, most verifiers hold nothing
        """Release workers or models."""


VERIFIERS: Registry[Verifier] = Registry(
    "verifier",
    {
        "exact": "verifiers.exact:ExactNumberVerifier",
        "math": "verifiers.math:MathVerifier",
        "unit_tests": "verifiers.unit_tests:UnitTestVerifier",
    },
)


def assign_class_ids(answers: Sequence[str | None]) -> list[int | None]:
    """Per-problem ids of distinct answers, numbered in order of first appearance."""
    ids: dict[str, int] = {}
    out: list[int | None] = []
    for a in answers:
        out.append(None if a is None else ids.setdefault(a, len(ids)))
    return out
