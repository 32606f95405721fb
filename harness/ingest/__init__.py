"""``harness import``: bring samples made elsewhere into a run directory.

One entry point, ``import_file``, tells the format of a file (``formats``) and hands it to
its reader: ``samples`` files become samples of a task's problems (``samples``), judged
dumps (``monkeys``, ``verdicts``) become a run whose correctness is already known
(``dumps``), and EvalPlus result files become a run judged by a weak and a strong
verifier (``evalplus``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.core.errors import UsageError
from harness.ingest.dumps import import_dump
from harness.ingest.evalplus import import_evalplus
from harness.ingest.formats import FORMATS, detect_format
from harness.ingest.samples import import_samples


@dataclass(frozen=True)
class ImportSummary:
    """What an import wrote.

    Attributes:
        correct: Samples judged correct by the file itself (judged formats only).
    """

    format: str
    out: Path
    samples: int
    problems: int
    correct: int | None = None
    skipped: int = 0


def import_file(
    path: Path | str,
    out: Path | str,
    task: str,
    fmt: str = "auto",
    data_file: Path | str | None = None,
    task_options: Mapping[str, Any] | None = None,
    model: str = "imported",
    append: bool = False,
) -> ImportSummary:
    """Import ``path`` into the run directory ``out``, in the format given or detected.

    Raises:
        UsageError: an unknown format, a file that fits none, or a bad row (nothing is
            written then).
    """
    if fmt not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    kind = detect_format(path) if fmt == "auto" else fmt
    out = Path(out)
    if kind == "samples":
        result = import_samples(
            path, task, out, data_file, dict(task_options or {}), model, append=append
        )
        return ImportSummary(kind, out, result.imported, result.problems, skipped=result.skipped)
    if kind == "evalplus":
        if append:
            raise UsageError("--append does not apply to --format evalplus")
        ev = import_evalplus(path, out, task, data_file, dict(task_options or {}), model)
        correct = ev.plus_correct if ev.plus_correct is not None else ev.base_correct
        return ImportSummary(kind, out, ev.samples, ev.problems, correct)
    if data_file is not None or task_options or append:
        raise UsageError(
            f"--data-file/--task-opt/--field/--append do not apply to --format {kind}: "
            "the problems come from the file"
        )
    dump = import_dump(path, out, kind, task=task, model=model)
    return ImportSummary(dump.format, out, dump.samples, dump.problems, dump.correct)
