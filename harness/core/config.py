"""Run configuration: what the CLI parses its flags into, and the Python API takes."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.core.errors import UsageError
from harness.core.records import SamplingConfig

if TYPE_CHECKING:
    from harness.core.manifest import RunManifest

DEFAULT_MODEL = "smollm2-135m"
DEFAULT_BACKEND = "vllm"
DEFAULT_CHUNK = 256  # samples per engine request: bounds memory, sets how often we write
RESULTS = Path("results")  # where runs without --out go (relative to the working directory)


@dataclass(frozen=True)
class RunConfig:
    """Everything ``harness generate`` / ``harness run`` needs.

    Attributes:
        task: Registered task name.
        model: Model alias, HF id or local path.
        backend: Registered backend name.
        n: Samples per problem.
        limit: Use only the first ``limit`` problems (None: all).
        out: Run directory (None: ``results/<task>-<model>-<timestamp>``).
        sampling: Sampling parameters (seed included).
        data_file: Local data file for tasks that load datasets.
        task_options: Task options (``--task-opt key=value``).
        backend_options: Backend options (``--backend-opt key=value``).
        chat: Force the chat template on/off (None: use it when the model has one).
        verifier: Verifier name (None: the task's default).
        verifier_options: Verifier options (``--verifier-opt key=value``).
        chunk: Samples per engine request.
        new: Start a new run directory even when a compatible one could be resumed.
    """

    task: str
    model: str = DEFAULT_MODEL
    backend: str = DEFAULT_BACKEND
    n: int = 16
    limit: int | None = None
    out: Path | None = None
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    data_file: Path | None = None
    task_options: dict[str, Any] = field(default_factory=dict)
    backend_options: dict[str, Any] = field(default_factory=dict)
    chat: bool | None = None
    verifier: str | None = None
    verifier_options: dict[str, Any] = field(default_factory=dict)
    chunk: int = DEFAULT_CHUNK
    new: bool = False

    def validate(self) -> None:
        """Reject values no run can use (raises UsageError)."""
        if self.n < 1:
            raise UsageError(f"-n/--samples must be at least 1, got {self.n}")
        if self.limit is not None and self.limit < 1:
            raise UsageError(f"--limit must be at least 1, got {self.limit}")
        if self.chunk < 1:
            raise UsageError(f"--chunk must be at least 1, got {self.chunk}")
        s = self.sampling
        if s.temperature < 0:
            raise UsageError(f"--temperature must be >= 0, got {s.temperature}")
        if not 0 < s.top_p <= 1:
            raise UsageError(f"--top-p must be in (0, 1], got {s.top_p}")
        if not 0 <= s.min_p <= 1:
            raise UsageError(f"--min-p must be in [0, 1], got {s.min_p}")
        if s.max_tokens < 1:
            raise UsageError(f"--max-tokens must be at least 1, got {s.max_tokens}")

    def run_dir(self) -> Path:
        """The run directory: ``out`` or a fresh ``results/<task>-<model>-<timestamp>[-i]``."""
        if self.out is not None:
            return self.out
        model = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(self.model).name or self.model)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        base = RESULTS / f"{self.task}-{model}-{stamp}"
        # Two runs started in the same second get distinct directories.
        path, extra = base, 1
        while path.exists():
            extra += 1
            path = base.with_name(f"{base.name}-{extra}")
        return path


def config_of(manifest: RunManifest, root: Path) -> RunConfig:
    """The configuration that made the run in ``root`` (to resume it by its path alone)."""
    record = manifest.task_options
    data_file = record.get("data_file")
    return RunConfig(
        task=manifest.task,
        model=manifest.model,
        backend=DEFAULT_BACKEND if manifest.backend == "import" else manifest.backend,
        n=manifest.n,
        limit=manifest.limit,
        out=root,
        sampling=manifest.sampling,
        data_file=Path(data_file) if data_file else None,
        task_options=dict(record.get("options") or {}),
        backend_options=dict(manifest.backend_options),
        chat=manifest.chat,
        verifier=manifest.verifier,
    )
