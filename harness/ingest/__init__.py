"""``harness import``: bring samples made elsewhere into a run directory.

One entry point, ``import_file``, tells the format of a file (``formats``) and hands it to
that format's reader in ``READERS``: ``samples`` files become samples of a task's problems
(``samples``), judged dumps (``monkeys``, ``verdicts``) become a run whose correctness is
already known (``dumps``), EvalPlus result files a run judged by a weak and a strong
verifier (``evalplus``), and ``counts`` (per-problem counts, or a results release of
several configurations) one run per configuration (``counts``). A new format is an entry
in ``formats.FORMATS``/``FORMAT_FIELDS`` and one reader here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.core.errors import UsageError
from harness.ingest.formats import FORMATS, detect_format
from harness.ingest.meta import ImportMeta

__all__ = ["READERS", "ImportMeta", "ImportRequest", "ImportSummary", "import_file"]


@dataclass(frozen=True)
class ImportSummary:
    """What an import wrote.

    Attributes:
        correct: Samples judged correct by the file itself (judged formats only).
        runs: Every run directory written (several for a results release).
    """

    format: str
    out: Path
    samples: int
    problems: int
    correct: int | None = None
    skipped: int = 0
    runs: tuple[Path, ...] = ()


@dataclass(frozen=True)
class ImportRequest:
    """Everything an import was asked to do; each reader takes what applies to it."""

    path: Path
    out: Path
    task: str
    data_file: Path | str | None = None
    task_options: Mapping[str, Any] = field(default_factory=dict)
    meta: ImportMeta = field(default_factory=ImportMeta)
    append: bool = False
    name_pattern: str | None = None


# The readers import their modules when called: the CLI reads the formats' fields from
# this package, and `harness --help` must not wait for numpy.
def _read_samples(req: ImportRequest, kind: str) -> ImportSummary:
    from harness.ingest.samples import import_samples

    result = import_samples(
        req.path,
        req.task,
        req.out,
        req.data_file,
        dict(req.task_options),
        seed=req.meta.seed or 0,
        append=req.append,
        meta=req.meta,
    )
    return ImportSummary(
        kind, req.out, result.imported, result.problems, skipped=result.skipped, runs=(req.out,)
    )


def _read_dump(req: ImportRequest, kind: str) -> ImportSummary:
    from harness.ingest.dumps import import_dump

    dump = import_dump(req.path, req.out, kind, task=req.task, meta=req.meta)
    return ImportSummary(
        dump.format, req.out, dump.samples, dump.problems, dump.correct, runs=(req.out,)
    )


def _read_counts(req: ImportRequest, kind: str) -> ImportSummary:
    from harness.ingest.counts import import_counts

    done = import_counts(req.path, req.out, req.task, req.meta, req.name_pattern)
    return ImportSummary(
        kind,
        req.out,
        sum(r.samples for r in done.runs),
        max(r.problems for r in done.runs),
        sum(r.correct for r in done.runs),
        runs=tuple(r.store.root for r in done.runs),
    )


def _read_evalplus(req: ImportRequest, kind: str) -> ImportSummary:
    from harness.ingest.evalplus import import_evalplus

    ev = import_evalplus(req.path, req.out, req.task, req.data_file, req.task_options, req.meta)
    correct = ev.plus_correct if ev.plus_correct is not None else ev.base_correct
    return ImportSummary(kind, req.out, ev.samples, ev.problems, correct, runs=(req.out,))


# One reader per format; each receives the whole request and the format's name.
READERS: dict[str, Callable[[ImportRequest, str], ImportSummary]] = {
    "samples": _read_samples,
    "monkeys": _read_dump,
    "verdicts": _read_dump,
    "counts": _read_counts,
    "evalplus": _read_evalplus,
}
# What only some formats use: the flag that sets it, and the formats that take it.
_ONLY_FOR = {
    "data_file": ("--data-file/--task-opt/--field", ("samples", "evalplus")),
    "task_options": ("--data-file/--task-opt/--field", ("samples", "evalplus")),
    "append": ("--append", ("samples",)),
    "name_pattern": ("--name-pattern", ("counts",)),
}


def import_file(
    path: Path | str,
    out: Path | str,
    task: str,
    fmt: str = "auto",
    data_file: Path | str | None = None,
    task_options: Mapping[str, Any] | None = None,
    meta: ImportMeta | None = None,
    append: bool = False,
    name_pattern: str | None = None,
) -> ImportSummary:
    """Import ``path`` into the run directory ``out``, in the format given or detected.

    Args:
        meta: What is known of the samples (model, temperature, seed, label, cost per
            sample), written into every manifest the import makes.
        name_pattern: For a results release: a regular expression with named groups
            (``model``, ``temperature``, ``seed``) read from each configuration's name.

    Raises:
        UsageError: an unknown format, a file that fits none, an option the format does
            not take, or a bad row (nothing is written then).
    """
    if fmt not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    kind = detect_format(path) if fmt == "auto" else fmt
    req = ImportRequest(
        Path(path),
        Path(out),
        task,
        data_file,
        dict(task_options or {}),
        (meta or ImportMeta()).check(),
        append,
        name_pattern,
    )
    for name, (flag, formats) in _ONLY_FOR.items():
        if getattr(req, name) and kind not in formats:
            raise UsageError(
                f"{flag} does not apply to --format {kind} (only {', '.join(formats)})"
            )
    return READERS[kind](req, kind)
