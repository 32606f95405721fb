"""The Task protocol and the task registry.

A task turns a data source into ``Problem`` records (prompt format included) and names
its default verifier. Tasks take their options as strings from the CLI
(``--task-opt key=value``); each task declares its options with defaults, and values are
coerced to the default's type, so an unknown option or a bad value is one clear error.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from harness.errors import UsageError
from harness.records import Problem
from harness.registry import Registry


def _coerce(name: str, value: Any, default: Any) -> Any:
    if not isinstance(value, str) or isinstance(default, str) or default is None:
        return value
    try:
        if isinstance(default, bool):
            low = value.lower()
            if low not in {"1", "0", "true", "false", "yes", "no"}:
                raise ValueError(value)
            return low in {"1", "true", "yes"}
        return type(default)(value)
    except ValueError:
        raise UsageError(
            f"task option {name}={value!r} is not a valid {type(default).__name__}"
        ) from None


class Task(ABC):
    """Base class of tasks.

    Subclasses set ``name``, ``description``, ``default_verifier`` and ``OPTIONS`` (option
    name -> default value) and implement ``load``.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    default_verifier: ClassVar[str] = "exact"
    OPTIONS: ClassVar[dict[str, Any]] = {}

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
        given = dict(options or {})
        unknown = set(given) - set(self.OPTIONS)
        if unknown:
            known = ", ".join(sorted(self.OPTIONS)) or "none"
            raise UsageError(
                f"task {self.name!r} has no option(s) {', '.join(sorted(unknown))} (known: {known})"
            )
        self.options: dict[str, Any] = {
            k: _coerce(k, given.get(k, d), d) for k, d in self.OPTIONS.items()
        }

    @abstractmethod
    def load(self) -> list[Problem]:
        """All problems of the task, in a fixed order."""

    def record(self) -> dict[str, Any]:
        """What to write into the manifest to identify this task's configuration."""
        return {
            "options": self.options,
            "data_file": str(self.data_file) if self.data_file else None,
            "seed": self.seed,
        }


TASKS: Registry[Task] = Registry(
    "task",
    {
        "arith": "tasks.arith:ArithTask",
        "gsm8k": "tasks.gsm8k:GSM8KTask",
        "humaneval": "tasks.humaneval:HumanEvalTask",
        "jsonl": "tasks.jsonl:JsonlTask",
        "math500": "tasks.math500:Math500Task",
        "mbpp": "tasks.mbpp:MBPPTask",
    },
)


def get_task(
    name: str,
    data_file: str | Path | None = None,
    seed: int = 0,
    options: Mapping[str, Any] | None = None,
) -> Task:
    """Instantiate the task registered as ``name``."""
    return TASKS.create(name, data_file=data_file, seed=seed, options=options)
