"""The Task plugin: a data source turned into ``Problem`` records, and its registry.

A task names its default verifier and declares its options as a dataclass (``Options``,
see ``harness.core.options``); values arrive as strings from ``--task-opt key=value``
and are checked and converted before any data is loaded. A task is one module of the
``tasks`` package named after it (``tasks/arith.py`` is ``arith``), or a plugin of an
installed package (entry-point group ``scaling_harness.tasks``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from harness.core.errors import UsageError
from harness.core.options import NoOptions, as_dict, build
from harness.core.records import Problem
from harness.core.registry import Registry


class Task(ABC):
    """Base class of tasks.

    Subclasses set ``name``, ``description``, ``default_verifier`` and ``Options`` (a
    frozen dataclass of their options) and implement ``load``. ``stop`` lists extra stop
    sequences for raw completion prompts (the few-shot format's next question).
    ``max_tokens`` is the task's default for ``--max-tokens`` when its answers are done
    well before the harness's default (None: the harness's).
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    default_verifier: ClassVar[str] = "exact"
    Options: ClassVar[type] = NoOptions
    stop: ClassVar[tuple[str, ...]] = ()
    max_tokens: ClassVar[int | None] = None

    def __init__(
        self,
        data_file: str | Path | None = None,
        seed: int = 0,
        options: Mapping[str, Any] | None = None,
    ) -> None:
        self.data_file = Path(data_file) if data_file is not None else None
        if self.data_file is not None and not self.data_file.is_file():
            raise UsageError(f"--data-file {self.data_file}: no such file")
        self.seed = seed
        self.options: Any = build(self.Options, options, f"task {self.name!r}")

    @abstractmethod
    def load(self) -> list[Problem]:
        """All problems of the task, in a fixed order."""

    def record(self) -> dict[str, Any]:
        """What to write into the manifest to identify this task's configuration."""
        return {
            "options": as_dict(self.options),
            "data_file": str(self.data_file) if self.data_file else None,
            "seed": self.seed,
        }


TASKS: Registry[Task] = Registry("task", "tasks")


def get_task(
    name: str,
    data_file: str | Path | None = None,
    seed: int = 0,
    options: Mapping[str, Any] | None = None,
) -> Task:
    """Instantiate the task registered as ``name``."""
    return TASKS.create(name, data_file=data_file, seed=seed, options=options)
