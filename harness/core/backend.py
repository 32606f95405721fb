"""The Backend plugin: turns generation requests into completions, and its registry.

The generate stage hands a backend a list of ``GenRequest`` (one prompt, the sample
indices to fill) and the backend yields a ``GenResult`` whenever a request finishes, so
each result reaches the run store as soon as it exists. A backend declares its options as
a dataclass (``Options``, see ``harness.core.options``) and is one module of
``harness.backends`` named after it (``harness/backends/vllm.py`` is ``vllm``), or a plugin
of an installed package (entry-point group ``scaling_harness.backends``). Heavy imports
(vllm, ray, httpx) happen inside the backend only when it is built.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from harness.core.records import Problem, SamplingConfig
from harness.core.registry import Registry


@dataclass(frozen=True, slots=True)
class GenRequest:
    """Ask for ``len(sample_indices)`` samples of one problem's prompt.

    Attributes:
        sampling: Sampling for this request instead of the backend's own (a judge asks
            the same engine with its own temperature, length and seed).
        top_logprobs: Return the top this-many log-probabilities of each sample's first
            generated token (``Completion.top_logprobs``); 0: none.
    """

    problem: Problem
    sample_indices: tuple[int, ...]
    sampling: SamplingConfig | None = None
    top_logprobs: int = 0

    @property
    def n(self) -> int:
        return len(self.sample_indices)


@dataclass(frozen=True, slots=True)
class Completion:
    """One sample of a request.

    Attributes:
        seed: The seed the sample was drawn with, where the backend seeds each sample.
        top_logprobs: Token text -> log-probability for the most likely first tokens,
            when the request asked for them (``GenRequest.top_logprobs``).
    """

    text: str
    completion_tokens: int
    finish_reason: str
    seed: int | None = None
    top_logprobs: Mapping[str, float] | None = None


@dataclass(frozen=True, slots=True)
class GenResult:
    """The completions for one request, in the order of its ``sample_indices``.

    Attributes:
        seed: The request's seed, for completions that carry none of their own.
    """

    request: GenRequest
    completions: Sequence[Completion]
    prompt_tokens: int
    seed: int | None = None

    def sample_seeds(self) -> list[int | None]:
        """The seed of each completion (its own, else the request's)."""
        return [c.seed if c.seed is not None else self.seed for c in self.completions]


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


BACKENDS: Registry[Backend] = Registry("backend", "harness.backends")
