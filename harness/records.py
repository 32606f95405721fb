"""The one schema: every stage reads and writes these records.

Problem flows from tasks to the driver, Sample from the driver to the run store,
Verdict from verifiers to the run store, and RunManifest describes a whole run
directory. Records are plain frozen dataclasses with ``to_dict``/``from_dict`` so
they serialise to one JSON line each; nothing passes loose dicts across a package
boundary.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

SCHEMA_VERSION = 1

FinishReason = Literal["stop", "length", "abort", "unknown"]
VerdictStatus = Literal["passed", "failed", "timeout", "error", "no_answer"]

T = TypeVar("T")


class RecordError(ValueError):
    """A record on disk or from a user does not fit the schema."""


def _check_fields(cls: type, data: dict[str, Any]) -> dict[str, Any]:
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
class Problem:
    """One problem of a task.

    Attributes:
        id: The dataset's own id where it has one, else the 0-based row index as a string.
        prompt: Completion-style prompt text (few-shot examples included).
        reference: The reference answer (math) or canonical solution (code), if any.
        messages: Chat-style prompt, used instead of ``prompt`` when a chat template applies.
        tests: Structured tests for code tasks (entry point, cases, original test code).
        metadata: Anything else worth keeping (difficulty level, subject, ...).
    """

    id: str
    prompt: str
    reference: str | None = None
    messages: tuple[dict[str, str], ...] | None = None
    tests: dict[str, Any] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["messages"] = list(self.messages) if self.messages is not None else None
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Problem:
        d = _check_fields(cls, data)
        if d.get("messages") is not None:
            d["messages"] = tuple(dict(m) for m in d["messages"])
        d["id"] = str(d["id"])
        return cls(**d)


@dataclass(frozen=True, slots=True)
class Sample:
    """One generated candidate: one line of ``samples.jsonl``."""

    problem_id: str
    sample_index: int
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str = "unknown"
    seed: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Sample:
        d = _check_fields(cls, data)
        d["problem_id"] = str(d["problem_id"])
        d["sample_index"] = int(d["sample_index"])
        return cls(**d)


@dataclass(frozen=True, slots=True)
class Verdict:
    """A verifier's judgement of one sample: one line of ``verdicts/<verifier>.jsonl``.

    Attributes:
        correct: Whether the sample is judged right.
        status: passed / failed / timeout / error / no_answer.
        answer: The extracted final answer (math) so later stages never re-parse text.
        class_id: Equivalence-class id of ``answer`` within its problem (for voting).
        score: A verifier's real-valued score (reward models), if any.
        detail: Per-test detail or an explanation.
    """

    problem_id: str
    sample_index: int
    correct: bool
    status: str
    answer: str | None = None
    class_id: int | None = None
    score: float | None = None
    detail: Any = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Verdict:
        d = _check_fields(cls, data)
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
        d = _check_fields(cls, data)
        d["stop"] = tuple(d.get("stop") or ())
        return cls(**d)


@dataclass(frozen=True, slots=True)
class RunManifest:
    """What produced a run directory: written once as ``manifest.json``, updated on top-up.

    The identity fields (``identity()``) must match for a directory to be resumed;
    ``n`` and ``limit`` may grow (top-up) and ``versions`` records the last writer.
    """

    task: str
    model: str
    backend: str
    n: int
    sampling: SamplingConfig
    dataset_hash: str
    num_problems: int
    limit: int | None = None
    task_options: dict[str, Any] = field(default_factory=dict)
    backend_options: dict[str, Any] = field(default_factory=dict)
    chat: bool | None = None
    verifier: str | None = None
    sandbox: str | None = None
    created: str = ""
    run_id: str = ""
    versions: dict[str, str] = field(default_factory=dict)
    source: str = "generated"
    schema_version: int = SCHEMA_VERSION

    def identity(self) -> dict[str, Any]:
        """The fields that define the run: a resume must not change any of them."""
        return {
            "task": self.task,
            "task_options": self.task_options,
            "model": self.model,
            "sampling": self.sampling.to_dict(),
            "chat": self.chat,
            "source": self.source,
        }

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["sampling"] = self.sampling.to_dict()
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunManifest:
        d = _check_fields(cls, data)
        d["sampling"] = SamplingConfig.from_dict(d["sampling"])
        return cls(**d)

    def replace(self, **changes: Any) -> RunManifest:
        return dataclasses.replace(self, **changes)


def dataset_hash(problems: Iterable[Problem]) -> str:
    """Content hash of a task's problems (ids, prompts, references, tests), order included."""
    h = hashlib.sha256()
    for p in problems:
        payload = [p.id, p.prompt, p.reference, p.to_dict()["messages"], p.tests]
        h.update(json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str).encode())
        h.update(b"\n")
    return "sha256:" + h.hexdigest()[:32]
