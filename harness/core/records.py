"""The one schema: every stage reads and writes these records.

Problem flows from tasks to the driver, Sample from the driver to the run store,
Verdict from verifiers to the run store (``harness.core.manifest`` describes a whole run
directory). Records are frozen dataclasses with ``to_dict``/``from_dict`` so they
serialise to one JSON line each; nothing passes loose dicts across a package boundary.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

SCHEMA_VERSION = 1


class RecordError(ValueError):
    """A record on disk or from a user does not fit the schema."""


class Status(StrEnum):
    """How a verdict ended.

    ``passed``/``failed``: judged; ``timeout``: the program ran out of time; ``error``:
    it could not be judged (crash, sandbox error, no reference); ``no_answer``: no final
    answer in the text; ``unparsed``: a judge's answer could not be read; ``scored``: a
    selector's score, which claims nothing about correctness.
    """

    PASSED = "passed"
    FAILED = "failed"
    TIMEOUT = "timeout"
    ERROR = "error"
    NO_ANSWER = "no_answer"
    UNPARSED = "unparsed"
    SCORED = "scored"

    @classmethod
    def parse(cls, value: Any) -> Status:
        try:
            return cls(value)
        except ValueError:
            known = ", ".join(s.value for s in cls)
            raise RecordError(f"unknown verdict status {value!r} (known: {known})") from None


def check_fields(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    """The entries of ``data`` that are fields of the dataclass ``cls``.

    Raises:
        RecordError: a required field is missing.
    """
    names = {f.name for f in dataclasses.fields(cls)}
    required = {
        f.name
        for f in dataclasses.fields(cls)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    }
    missing = required - data.keys()
    if missing:
        raise RecordError(f"{cls.__name__} is missing field(s): {', '.join(sorted(missing))}")
    return {k: v for k, v in data.items() if k in names}


@dataclass(frozen=True, slots=True)
class CodeTests:
    """The tests of a code problem (``Problem.tests``), written into ``problems.jsonl``.

    Attributes:
        format: ``humaneval`` (``test_code`` defines ``check(candidate)``), ``mbpp``
            (``asserts`` call the entry point by name) or ``stdio`` (whole programs
            judged on ``io_tests``).
        entry_point: The function under test (empty for ``stdio``).
        test_code: The original test code.
        cases: Cases parsed from the asserts (``harness.core.codetests``), JSON data.
        complete: Whether ``cases`` cover every test (else the original code is run).
        prompt_code: Code a completion continues (HumanEval's prompt), also giving the
            tests their helper functions.
        setup: Imports the tests need.
        asserts: The individual assert statements (MBPP).
        io_tests: Standard-input tests (format ``stdio``): each ``{"input": str,
            "output": str, "set": "public" | "private" | "generated"}``; the program runs
            once per test with ``input`` on stdin, and its stdout is compared with
            ``output`` outside the sandbox.
        time_limit_s: The problem's own time limit per test (stdio), if it states one.
        visible: How many of the tests, counted from the first, a weak verifier sees
            (``--task-opt visible_tests=``); None: no split.
    """

    format: str
    entry_point: str
    test_code: str = ""
    cases: tuple[dict[str, Any], ...] = ()
    complete: bool = False
    prompt_code: str = ""
    setup: str = ""
    asserts: tuple[str, ...] | None = None
    io_tests: tuple[dict[str, Any], ...] = ()
    time_limit_s: float | None = None
    visible: int | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "format": self.format,
            "entry_point": self.entry_point,
            "prompt_code": self.prompt_code,
            "setup": self.setup,
            "test_code": self.test_code,
            "asserts": list(self.asserts) if self.asserts is not None else None,
            "cases": [dict(c) for c in self.cases],
            "complete": self.complete,
        }
        # Absent when unused: the dataset hashes of function tasks stay as they were.
        if self.io_tests:
            d["io_tests"] = [dict(t) for t in self.io_tests]
        if self.time_limit_s is not None:
            d["time_limit_s"] = self.time_limit_s
        if self.visible is not None:
            d["visible"] = self.visible
        return d

    def test_count(self) -> int:
        """How many tests a verifier runs: the parsed cases when they cover every test,
        else the asserts (MBPP), else the one ``check(candidate)`` call."""
        if self.complete and self.cases:
            return len(self.cases)
        if self.asserts is not None:
            return len(self.asserts)
        return 1

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CodeTests:
        d = check_fields(cls, data)
        d["cases"] = tuple(dict(c) for c in d.get("cases") or ())
        if d.get("asserts") is not None:
            d["asserts"] = tuple(str(a) for a in d["asserts"])
        for key in ("test_code", "prompt_code", "setup"):
            d[key] = str(d.get(key) or "")
        d["complete"] = bool(d.get("complete"))
        d["io_tests"] = tuple(dict(t) for t in d.get("io_tests") or ())
        if d.get("time_limit_s") is not None:
            d["time_limit_s"] = float(d["time_limit_s"])
        return cls(**d)


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem of a task.

    Attributes:
        id: The dataset's own id where it has one, else the 0-based row index as a string.
        prompt: Completion-style prompt text (few-shot examples included).
        reference: The reference answer (math) or canonical solution (code), if any.
        messages: Chat-style prompt, used instead of ``prompt`` when a chat template applies.
        tests: The tests of a code problem.
        metadata: Anything else worth keeping (difficulty level, subject, ...).
    """

    id: str
    prompt: str
    reference: str | None = None
    messages: tuple[dict[str, str], ...] | None = None
    tests: CodeTests | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "prompt": self.prompt,
            "reference": self.reference,
            "messages": [dict(m) for m in self.messages] if self.messages is not None else None,
            "tests": self.tests.to_dict() if self.tests is not None else None,
            "metadata": dict(self.metadata),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Problem:
        d = check_fields(cls, data)
        if d.get("messages") is not None:
            d["messages"] = tuple(dict(m) for m in d["messages"])
        if d.get("tests") is not None:
            d["tests"] = CodeTests.from_dict(d["tests"])
        d["id"] = str(d["id"])
        return cls(**d)


@dataclass(frozen=True, slots=True)
class Sample:
    """One generated candidate: one line of ``samples.jsonl``.

    Attributes:
        seed: The seed this sample was drawn with (None where the backend has none).
        mean_logprob: Mean log-probability of the sample's tokens under the model (None
            where the backend does not report it, as in runs made before it was stored).
    """

    problem_id: str
    sample_index: int
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str = "unknown"
    seed: int | None = None
    mean_logprob: float | None = None

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        if d["mean_logprob"] is None:
            del d["mean_logprob"]  # lines stay as they were where it is unknown
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Sample:
        d = check_fields(cls, data)
        d["problem_id"] = str(d["problem_id"])
        d["sample_index"] = int(d["sample_index"])
        return cls(**d)


@dataclass(frozen=True, slots=True)
class Verdict:
    """A verifier's judgement of one sample: one line of ``verdicts/<verifier>.jsonl``.

    Attributes:
        correct: Whether the sample is judged right.
        status: How the judgement ended (``Status``).
        answer: The extracted final answer (math) so later stages never re-parse text.
        class_id: Equivalence-class id of ``answer`` within its problem (for voting).
        score: A verifier's real-valued score (reward models), if any.
        detail: Per-test detail or an explanation.
        judged_with: The sample whose run judged this one, when a verifier runs each
            distinct program once (its own index for the sample that ran; another's for
            a duplicate); None where the verifier does not share runs.
    """

    problem_id: str
    sample_index: int
    correct: bool
    status: Status
    answer: str | None = None
    class_id: int | None = None
    score: float | None = None
    detail: Any = None
    judged_with: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.status, Status):
            object.__setattr__(self, "status", Status.parse(self.status))

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["status"] = self.status.value
        if self.judged_with is None:
            del d["judged_with"]  # (verifiers that never share runs keep their lines as they were)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Verdict:
        d = check_fields(cls, data)
        d["problem_id"] = str(d["problem_id"])
        d["sample_index"] = int(d["sample_index"])
        d["correct"] = bool(d["correct"])
        return cls(**d)


@dataclass(frozen=True, slots=True)
class SamplingConfig:
    """Sampling parameters; any change to them makes a different run."""

    temperature: float = 0.8
    top_p: float = 1.0
    min_p: float = 0.0
    max_tokens: int = 512
    stop: tuple[str, ...] = ()
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["stop"] = list(self.stop)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SamplingConfig:
        d = check_fields(cls, data)
        d["stop"] = tuple(d.get("stop") or ())
        return cls(**d)
