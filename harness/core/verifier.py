"""The Verifier plugin: the samples of one problem turned into ``Verdict`` records.

Verifiers that gain from seeing many problems at once (a sandbox pool, a reward model
batch) override ``verify_many``; the verify stage always calls ``verify_many``. A verifier
declares its options as a dataclass (``Options``, see ``harness.core.options``). It is one
module of the ``verifiers`` package named after it (``verifiers/math.py`` is ``math``), or
a plugin of an installed package (entry-point group ``scaling_harness.verifiers``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, ClassVar

from harness.core.backend import Backend, BackendConfig
from harness.core.judgements import JudgementLog
from harness.core.options import NoOptions, as_dict, build
from harness.core.records import Problem, Sample, Verdict
from harness.core.registry import Registry


class Verifier(ABC):
    """Base class of verifiers.

    Subclasses set ``name``, ``description`` and ``Options`` and implement ``verify``.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    Options: ClassVar[type] = NoOptions
    # True: ``verify`` gets all samples of a problem in sample order (verdicts already on
    # disk are discarded by the caller), so per-problem answer-class numbering stays the
    # same across calls. False: only the samples not judged yet.
    needs_context: ClassVar[bool] = False
    # True: judging one sample is cheap (no sandbox, no model), so the generate stage may
    # judge samples as they arrive to show the problems solved so far.
    live: ClassVar[bool] = False

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        self.options: Any = build(self.Options, options, f"verifier {self.name!r}")

    @abstractmethod
    def verify(self, problem: Problem, samples: Sequence[Sample]) -> list[Verdict]:
        """One verdict per sample, in the order of ``samples``."""

    def verify_many(
        self, items: Iterable[tuple[Problem, Sequence[Sample]]]
    ) -> Iterator[list[Verdict]]:
        """Verdicts for each (problem, samples) item; may run items concurrently."""
        for problem, samples in items:
            yield self.verify(problem, samples)

    def derived_names(self, problem: Problem) -> tuple[str, ...]:
        """Extra verdict files this verifier fills for ``problem`` from the same work
        (``verdicts/<name>_<derived>.jsonl``), e.g. ``unit_tests`` on a problem's visible
        tests alone beside all its tests; none by default."""
        return ()

    def derived(self, problem: Problem, verdicts: Sequence[Verdict]) -> dict[str, list[Verdict]]:
        """The verdicts of each derived file for ``verdicts`` (this verifier's own)."""
        return {}

    def describe_derived(self, derived: str) -> dict[str, Any]:
        """What a derived verdict file means (written to its ``.meta.json``)."""
        return {}

    # -- verifiers that ask a model (judge, pairwise) ------------------------------------------
    def backend_request(self) -> tuple[str, BackendConfig] | None:
        """The backend (name, config) this verifier asks, which the verify stage builds
        (or hands in shared) and passes to ``bind``; None: it needs none."""
        return None

    def judgement_config(self) -> dict[str, Any] | None:
        """What decides the answer of one of its calls (model, mode, prompt, sampling):
        the verify stage keeps its calls in ``judgements/<name>.jsonl`` under this
        configuration; None: it keeps none."""
        return None

    def bind(  # noqa: B027 - optional hook, most verifiers need nothing
        self, backend: Backend | None, log: JudgementLog | None
    ) -> None:
        """Receive the backend and the open judgement log before ``verify_many``."""

    def selector(self) -> tuple[str, ...]:
        """The selection methods its scores serve (``best_of_k``, ``weighted_vote``,
        ``verification``, ``tournament``): a selector's verdicts claim nothing about
        correctness. Empty for a verifier that judges correctness."""
        return ()

    def check(self) -> None:  # noqa: B027 - optional hook, most verifiers need nothing
        """Fail now, in one line, when the verifier cannot run here (before any work)."""

    def describe(self) -> dict[str, Any]:
        """Facts about the verifier worth recording next to its verdicts."""
        info: dict[str, Any] = {"verifier": self.name, "options": as_dict(self.options)}
        if self.selector():
            info["selection"] = list(self.selector())
        return info

    def close(self) -> None:  # noqa: B027 - optional hook, most verifiers hold nothing
        """Release workers or models."""


VERIFIERS: Registry[Verifier] = Registry("verifier", "verifiers")


def assign_class_ids(answers: Sequence[str | None]) -> list[int | None]:
    """Per-problem ids of distinct answers, numbered in order of first appearance."""
    ids: dict[str, int] = {}
    out: list[int | None] = []
    for a in answers:
        out.append(None if a is None else ids.setdefault(a, len(ids)))
    return out
