"""The Backend plugin: turns generation requests into completions, and its registry.

The generate stage hands a backend a list of ``GenRequest`` (one prompt, the sample
indices to fill). A backend's ``stream`` yields a ``GenResult`` for the samples that have
just finished (a part of a request: its ``request`` names only those samples), so each
sample reaches the run store the moment it exists; ``generate`` yields whole requests.
A backend may define ``generate`` alone (``stream_of`` then falls back to it), or
``stream`` alone and get ``generate`` from ``gather``. A backend declares its options as
a dataclass (``Options``, see ``harness.core.options``) and is one module of
``harness.backends`` named after it (``harness/backends/vllm.py`` is ``vllm``), or a plugin
of an installed package (entry-point group ``scaling_harness.backends``). Heavy imports
(vllm, ray, httpx) happen inside the backend only when it is built.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
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

    def part(self, indices: Iterable[int]) -> GenRequest:
        """The same prompt for some of this request's samples (in this request's order)."""
        wanted = set(indices)
        return replace(self, sample_indices=tuple(i for i in self.sample_indices if i in wanted))


@dataclass(frozen=True, slots=True)
class Completion:
    """One sample of a request.

    Attributes:
        seed: The seed the sample was drawn with, where the backend seeds each sample.
        mean_logprob: Mean log-probability of the generated tokens, where the backend
            reports token log-probabilities.
        top_logprobs: Token text -> log-probability for the most likely first tokens,
            when the request asked for them (``GenRequest.top_logprobs``).
    """

    text: str
    completion_tokens: int
    finish_reason: str
    seed: int | None = None
    mean_logprob: float | None = None
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

    # Optional: ``stream(requests) -> Iterator[GenResult]`` yields each sample (or the
    # samples of one request finished together) as soon as it is done; see ``stream_of``.

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


Stream = Callable[[Iterable[GenRequest]], Iterator[GenResult]]


def stream_of(backend: Backend) -> Stream:
    """The backend's per-sample ``stream`` where it has one, else its ``generate``.

    Of the two, the one defined last down the class hierarchy wins: a subclass that
    overrides ``generate`` alone has changed what its backend yields.
    """
    stream: Stream | None = getattr(backend, "stream", None)
    if stream is None:
        return backend.generate
    for cls in type(backend).__mro__:
        if "stream" in vars(cls):
            break
        if "generate" in vars(cls):
            return backend.generate
    return stream


def merge(request: GenRequest, parts: Sequence[GenResult]) -> GenResult:
    """One result for ``request`` from results that together hold each of its samples once.

    The merged result's seed is the seed of the request's first sample.
    """
    by_index: dict[int, tuple[Completion, int | None]] = {}
    for part in parts:
        for idx, comp, seed in zip(
            part.request.sample_indices, part.completions, part.sample_seeds(), strict=True
        ):
            by_index[idx] = (comp, seed)
    missing = [i for i in request.sample_indices if i not in by_index]
    if missing:
        raise ValueError(f"problem {request.problem.id}: samples {missing} are missing")
    ordered = [by_index[i] for i in request.sample_indices]
    completions = [c if c.seed is not None or s is None else replace(c, seed=s) for c, s in ordered]
    prompt_tokens = parts[0].prompt_tokens if parts else 0
    return GenResult(request, completions, prompt_tokens, seed=ordered[0][1])


def gather(stream: Stream, requests: Iterable[GenRequest]) -> Iterator[GenResult]:
    """Whole-request results from a per-sample ``stream``: each request is yielded when
    its last sample arrives. Requests are read lazily, as ``stream`` reads them."""
    owner: dict[tuple[str, int], GenRequest] = {}
    parts: dict[int, list[GenResult]] = {}  # id(request) -> its results so far
    left: dict[int, int] = {}

    def tracked() -> Iterator[GenRequest]:
        for req in requests:
            if not req.n:
                continue
            for idx in req.sample_indices:
                owner[(req.problem.id, idx)] = req
            parts[id(req)], left[id(req)] = [], req.n
            yield req

    for part in stream(tracked()):
        if not part.request.sample_indices:
            continue
        req = owner[(part.request.problem.id, part.request.sample_indices[0])]
        parts[id(req)].append(part)
        left[id(req)] -= part.request.n
        if left[id(req)] == 0:
            del left[id(req)]
            for idx in req.sample_indices:
                del owner[(req.problem.id, idx)]
            yield merge(req, parts.pop(id(req)))


BACKENDS: Registry[Backend] = Registry("backend", "harness.backends")
