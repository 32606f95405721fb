"""The Backend protocol: turns generation requests into completions.

The driver hands a backend a list of ``GenRequest`` (one prompt, the sample indices to
fill) and the backend yields a ``GenResult`` whenever a request finishes, so the driver
can write each result to the run store as soon as it exists. Backends are registered by
name; heavy imports (vllm, ray, openai) happen inside the backend's module only.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from harness.records import Problem, SamplingConfig
from harness.registry import Registry


@dataclass(frozen=True, slots=True)
class GenRequest:
    """Ask for ``len(sample_indices)`` samples of one problem's prompt."""

    problem: Problem
    sample_indices: tuple[int, ...]

    @property
    def n(self) -> int:
        return len(self.sample_indices)


@dataclass(frozen=True, slots=True)
class Completion:
    text: str
    completion_tokens: int
    finish_reason: str


@dataclass(frozen=True, slots=True)
class GenResult:
    """The completions for one request, in the order of its ``sample_indices``."""

    request: GenRequest
    completions: Sequence[Completion]
    prompt_tokens: int
    seed: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Backend(Protocol):
    """A text generator."""

    name: str

    def describe(self) -> dict[str, Any]:
        """Facts about the backend worth writing into the manifest (versions, dtype...)."""
        ...

    def generate(self, requests: Iterable[GenRequest]) -> Iterator[GenResult]:
        """Yield one result per request, in any order, as soon as each is done."""
        ...

    def close(self) -> None:
        """Release the model / engine."""
        ...


@dataclass(frozen=True, slots=True)
class BackendConfig:
    """What every backend is built from."""

    model: str
    sampling: SamplingConfig
    chat: bool | None = None  # None: use the chat template when the model has one
    options: dict[str, Any] = field(default_factory=dict)
    # Extra stop sequences for raw completion prompts (no chat template): the task's
    # few-shot format, e.g. "\n\nQ:", so a base-style prompt does not run on.
    completion_stop: tuple[str, ...] = ()


BACKENDS: Registry[Backend] = Registry(
    "backend",
    {
        "scripted": "harness.backends.scripted:ScriptedBackend",
        "openai": "harness.backends.openai_server:OpenAIServerBackend",
        "vllm": "harness.backends.vllm_offline:VLLMBackend",
        "ray": "harness.backends.ray_cluster:RayBackend",
    },
)
