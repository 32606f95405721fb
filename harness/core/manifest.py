"""What produced a run directory: ``manifest.json``, built in one place.

``new_manifest`` is the only builder (generation, every import): it stamps the creation
time, the run id and the package versions. ``check_compatible`` refuses to add to a
directory made with another configuration, so two configurations never share a run.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.core.errors import UsageError
from harness.core.records import SCHEMA_VERSION, Problem, SamplingConfig, check_fields
from harness.core.versions import package_versions


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
    # What an import states about the samples it brings (a generated run knows all of it).
    label: str | None = None
    cost_per_sample: float | None = None
    cost_unit: str | None = None
    sampling_given: tuple[str, ...] | None = None

    def identity(self) -> dict[str, Any]:
        """The fields that define the run: a resume must not change any of them.

        A task option left unset (None) is the same as one the task did not have yet, so
        adding an option to a task keeps its older runs resumable.
        """
        options = self.task_options.get("options")
        task_options = self.task_options
        if isinstance(options, dict):
            given = {k: v for k, v in options.items() if v is not None}
            task_options = {**self.task_options, "options": given}
        return {
            "task": self.task,
            "task_options": task_options,
            "model": self.model,
            "sampling": self.sampling.to_dict(),
            "chat": self.chat,
            "source": self.source,
        }

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["sampling"] = self.sampling.to_dict()
        if self.sampling_given is not None:
            d["sampling_given"] = list(self.sampling_given)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunManifest:
        d = check_fields(cls, data)
        d["sampling"] = SamplingConfig.from_dict(d["sampling"])
        if d.get("sampling_given") is not None:
            d["sampling_given"] = tuple(d["sampling_given"])
        return cls(**d)

    def known_sampling(self) -> dict[str, Any]:
        """The sampling parameters known to have made the samples: all of a generated run's;
        of an imported run only those stated on import (``--temperature``, ``--seed``)."""
        values = self.sampling.to_dict()
        if self.source != "import":
            return values
        return {k: values[k] for k in self.sampling_given or () if k in values}

    def temperature_text(self) -> str:
        """``T=0.8``, or ``T unknown`` for an import that did not state it."""
        t = self.known_sampling().get("temperature")
        return "T unknown" if t is None else f"T={t}"

    def display_label(self) -> str:
        """How pages name the run: its label, else the model and (where known) temperature."""
        if self.label:
            return self.label
        t = self.known_sampling().get("temperature")
        return self.model if t is None else f"{self.model} T={t}"

    def replace(self, **changes: Any) -> RunManifest:
        return dataclasses.replace(self, **changes)


def new_manifest(
    root: Path,
    *,
    task: str,
    model: str,
    backend: str,
    n: int,
    problems: list[Problem],
    verifier: str,
    sampling: SamplingConfig | None = None,
    all_problems: list[Problem] | None = None,
    **fields: Any,
) -> RunManifest:
    """The manifest of a new run in ``root`` (every builder goes through here).

    Args:
        root: The run directory (its name is the run id).
        task: Task name (a label for imported runs).
        model: The model that made the samples.
        backend: How they were made (``vllm``, ``import``, ...).
        n: Samples per problem.
        problems: The problems of the run.
        verifier: The verifier that defines correctness for this run.
        sampling: Sampling parameters (seed included).
        all_problems: The task's whole problem list, when the run uses a prefix of it
            (the dataset hash covers the whole list).
        **fields: Any other ``RunManifest`` field (limit, task_options, chat, source...).
    """
    return RunManifest(
        task=task,
        model=model,
        backend=backend,
        n=n,
        sampling=sampling or SamplingConfig(),
        dataset_hash=dataset_hash(all_problems if all_problems is not None else problems),
        num_problems=len(problems),
        verifier=verifier,
        created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        run_id=root.name,
        versions=package_versions(),
        **fields,
    )


def check_compatible(existing: RunManifest, wanted: RunManifest, root: Path) -> None:
    """Refuse to add to a directory made with another configuration.

    Raises:
        UsageError: naming the first field that differs, with both values.
    """
    old, new = existing.identity(), wanted.identity()
    diffs = [k for k in new if old.get(k) != new[k]]
    if existing.dataset_hash != wanted.dataset_hash:
        diffs.append("dataset (content hash)")
    if diffs:
        first = diffs[0]
        detail = (
            f"{old.get(first)!r} there, {new.get(first)!r} now"
            if first in new
            else "the data changed"
        )
        raise UsageError(
            f"{root} holds a run with another configuration ({', '.join(diffs)}: {detail}); "
            "use a new --out"
        )


def dataset_hash(problems: Iterable[Problem]) -> str:
    """Content hash of a task's problems (ids, prompts, references, tests), order included."""
    h = hashlib.sha256()
    for p in problems:
        d = p.to_dict()
        payload = [p.id, p.prompt, p.reference, d["messages"], d["tests"]]
        h.update(json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str).encode())
        h.update(b"\n")
    return "sha256:" + h.hexdigest()[:32]
