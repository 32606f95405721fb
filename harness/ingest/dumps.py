"""Import published sample dumps whose correctness is already judged, to analyse them
without generating anything.

Formats:

``monkeys``
    The Large Language Monkeys release (``ScalingIntelligence/monkey_business``): one row
    per problem with ``question``, ``samples`` (list of texts), ``is_corrects`` (list of
    booleans), optional ``gt_answer`` and any scalar metadata (level, subject, ...).
    Parquet or JSONL. Rows hold ~10^4 samples each, so the file is streamed a few rows at
    a time and never held whole.
``verdicts``
    JSONL (or Parquet) rows that already carry ``correct``: ``problem_id``, ``correct``
    and optionally ``sample_index``, ``text``, ``score``, ``answer``, ``class_id``,
    ``prompt``/``question``, ``reference``/``gt_answer``.

Correctness becomes ``verdicts/imported.jsonl`` (verifier ``imported``), texts become
``samples.jsonl``, problems ``problems.jsonl``. Everything is written into a temporary
folder inside the run directory and moved into place only when the whole file has been
read without error, so a bad row leaves no partial run behind.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.core.errors import UsageError
from harness.core.manifest import RunManifest, new_manifest
from harness.core.records import Problem, Sample, Status, Verdict
from harness.core.store import JsonlAppender, RunStore
from harness.ingest.formats import (
    MONKEY_LISTS,
    PROMPT_KEYS,
    REFERENCE_KEYS,
    as_bool,
    columns_and_first,
    detect_format,
    first,
    is_parquet,
    iter_rows,
    token_counts,
)
from harness.ingest.meta import ImportMeta

IMPORTED_VERIFIER = "imported"
_ID_KEYS = ("problem_id", "id", "orig_dset_idx", "idx", "task_id", "unique_id")


@dataclass(frozen=True)
class DumpImport:
    """What an import wrote."""

    store: RunStore
    format: str
    problems: int
    samples: int
    correct: int


class RunWriter:
    """Problems, samples and verdicts written into a temporary folder, moved in at the end."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.tmp = out / f".import-{os.getpid()}"
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.tmp.mkdir(parents=True)
        self.samples = JsonlAppender(self.tmp / "samples.jsonl", fsync=False)
        self.verdicts = JsonlAppender(
            self.tmp / "verdicts" / f"{IMPORTED_VERIFIER}.jsonl", fsync=False
        )
        self.problems: dict[str, Problem] = {}
        self.counts: dict[str, int] = {}
        self.total = 0
        self.correct = 0
        self.texts = 0

    def add(self, samples: list[Sample], verdicts: list[Verdict]) -> None:
        if samples:
            self.samples.write_batch(samples)
            self.texts += len(samples)
        self.verdicts.write_batch(verdicts)
        self.total += len(verdicts)
        self.correct += sum(v.correct for v in verdicts)

    def finish(self, manifest: RunManifest, source: Path, fmt: str) -> RunStore:
        self.samples.close()
        self.verdicts.close()
        if not self.texts:
            (self.tmp / "samples.jsonl").unlink()
        store = RunStore(self.tmp)
        store.write_problems(list(self.problems.values()))
        (self.tmp / "verdicts" / f"{IMPORTED_VERIFIER}.meta.json").write_text(
            json.dumps(
                {"verifier": IMPORTED_VERIFIER, "source": str(source), "format": fmt}, indent=2
            )
            + "\n"
        )
        store.write_manifest(manifest)
        # The manifest moves last: a run directory without it is not a run.
        names = ["problems.jsonl", "verdicts", "samples.jsonl", "manifest.json"]
        for name in names:
            if (self.tmp / name).exists():
                os.replace(self.tmp / name, self.out / name)
        shutil.rmtree(self.tmp)
        return RunStore(self.out)

    def abort(self) -> None:
        self.samples.close()
        self.verdicts.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


def _monkey_row(path: Path, number: int, index: int, row: dict[str, Any], w: RunWriter) -> None:
    where = f"{path}: row {index + 1}" if is_parquet(path) else f"{path}:{number}"
    if "is_corrects" not in row:
        raise UsageError(f"{where}: missing 'is_corrects' (the per-sample correctness list)")
    flags = row["is_corrects"]
    if not isinstance(flags, list):
        raise UsageError(f"{where}: 'is_corrects' must be a list")
    texts = row.get("samples")
    if texts is not None and (not isinstance(texts, list) or len(texts) != len(flags)):
        raise UsageError(f"{where}: 'samples' and 'is_corrects' differ in length")
    pid = first(row, _ID_KEYS)
    pid = str(index if pid is None else pid)
    if pid in w.problems:
        raise UsageError(f"{where}: duplicate problem id {pid!r}")
    meta = {
        k: v
        for k, v in row.items()
        if k not in MONKEY_LISTS
        and k not in PROMPT_KEYS + REFERENCE_KEYS
        and isinstance(v, str | int | float | bool)
        and not (isinstance(v, str) and len(v) > 200)
    }
    prompt = first(row, PROMPT_KEYS)
    reference = first(row, REFERENCE_KEYS)
    w.problems[pid] = Problem(
        pid,
        "" if prompt is None else str(prompt),
        None if reference is None else str(reference),
        metadata=meta,
    )
    ok = [as_bool(v, where) for v in flags]
    w.counts[pid] = len(ok)
    samples = [Sample(pid, i, str(t)) for i, t in enumerate(texts)] if texts else []
    w.add(
        samples,
        [Verdict(pid, i, v, Status.PASSED if v else Status.FAILED) for i, v in enumerate(ok)],
    )


def _verdict_rows(path: Path, rows: Iterator[tuple[int, dict[str, Any]]], w: RunWriter) -> None:
    seen: dict[str, set[int]] = {}
    batch_s: list[Sample] = []
    batch_v: list[Verdict] = []
    for number, row in rows:
        where = f"{path}:{number}"
        if "problem_id" not in row or "correct" not in row:
            raise UsageError(f"{where}: needs fields 'problem_id' and 'correct'")
        pid = str(row["problem_id"])
        idx_raw = row.get("sample_index")
        have = seen.setdefault(pid, set())
        if idx_raw is None:
            idx = w.counts.get(pid, 0)
            while idx in have:
                idx += 1
        else:
            try:
                idx = int(idx_raw)
            except (TypeError, ValueError):
                raise UsageError(f"{where}: 'sample_index' must be an integer") from None
            if idx < 0:
                raise UsageError(f"{where}: 'sample_index' must be >= 0")
        if idx in have:
            raise UsageError(f"{where}: duplicate sample ({pid!r}, {idx})")
        have.add(idx)
        w.counts[pid] = max(w.counts.get(pid, 0), idx + 1)
        if pid not in w.problems:
            prompt, reference = first(row, PROMPT_KEYS), first(row, REFERENCE_KEYS[:2])
            w.problems[pid] = Problem(
                pid,
                "" if prompt is None else str(prompt),
                None if reference is None else str(reference),
                metadata=dict(row.get("metadata") or {}),
            )
        ok = as_bool(row["correct"], where)
        score = row.get("score")
        cls = row.get("class_id")
        batch_v.append(
            Verdict(
                pid,
                idx,
                ok,
                Status.PASSED if ok else Status.FAILED,
                answer=None if row.get("answer") is None else str(row["answer"]),
                class_id=None if cls is None else int(cls),
                score=None if score is None else float(score),
            )
        )
        prompt_tokens, completion_tokens = token_counts(row, where)
        # Token counts are kept (compute accounting) even where the row has no text.
        if isinstance(row.get("text"), str) or prompt_tokens or completion_tokens:
            batch_s.append(
                Sample(
                    pid,
                    idx,
                    str(row.get("text") or ""),
                    prompt_tokens=prompt_tokens,
                    completion_tokens=completion_tokens,
                    finish_reason=str(row.get("finish_reason") or "unknown"),
                )
            )
        if len(batch_v) >= 10_000:
            w.add(batch_s, batch_v)
            batch_s, batch_v = [], []
    w.add(batch_s, batch_v)
    for pid, have in seen.items():
        w.counts[pid] = len(have)


def import_dump(
    path: Path | str,
    out: Path | str,
    fmt: str = "auto",
    task: str = "imported",
    model: str = "imported",
    meta: ImportMeta | None = None,
) -> DumpImport:
    """Turn a ``monkeys`` or ``verdicts`` file into a run directory ready for analysis.

    Args:
        path: The dump (Parquet or JSONL).
        out: A run directory that does not hold a run yet.
        fmt: ``monkeys``, ``verdicts`` or ``auto`` (decided from the columns).
        task: Task name recorded in the manifest (a label; problems come from the file).
        model: Name of the model that made the samples (for compute accounting).
        meta: What else is known of the samples (temperature, seed, label, cost); its
            model, when set, wins over ``model``.

    Raises:
        UsageError: bad file, a required column missing, or ``out`` already a run.
    """
    path = Path(path)
    kind = detect_format(path) if fmt == "auto" else fmt
    if kind not in ("monkeys", "verdicts"):
        raise UsageError(f"--format {fmt!r}: import_dump handles monkeys and verdicts")
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    cols, _ = columns_and_first(path)
    if kind == "monkeys" and "is_corrects" not in cols:
        raise UsageError(
            f"{path}: monkeys format needs the column 'is_corrects' (found: {', '.join(cols)})"
        )
    stated = (meta or ImportMeta()).with_defaults(ImportMeta(model=model)).check()

    def fill(w: RunWriter) -> None:
        if kind == "monkeys":
            for index, (number, row) in enumerate(iter_rows(path)):
                _monkey_row(path, number, index, row, w)
        else:
            _verdict_rows(path, iter_rows(path, batch_rows=4096), w)

    return write_judged_run(Path(out), path, kind, task, stated, fill)


def write_judged_run(
    out: Path,
    path: Path,
    kind: str,
    task: str,
    meta: ImportMeta,
    fill: Callable[[RunWriter], None],
    options: dict[str, Any] | None = None,
) -> DumpImport:
    """Make ``out`` a run whose problems, samples and verdicts ``fill`` adds to a writer.

    Nothing is left behind when ``fill`` fails: the files are moved into ``out`` only
    once it has returned, and ``out`` is removed if this made it.

    Raises:
        UsageError: ``out`` already holds a run, the file has no samples, or what
            ``fill`` raises.
    """
    store = RunStore(out)
    if store.exists():
        raise UsageError(f"{out} already holds a run; import into a new --out")
    created = not out.exists()
    try:
        with store:
            w = RunWriter(out)
            try:
                fill(w)
                if not w.total:
                    raise UsageError(f"{path}: no samples in file")
            except BaseException:
                w.abort()
                raise
            problems = list(w.problems.values())
            manifest = new_manifest(
                out,
                task=task,
                backend="import",
                n=min(w.counts.values()),
                problems=problems,
                verifier=IMPORTED_VERIFIER,
                task_options={"source": str(path), "format": kind, **(options or {})},
                source="import",
                **meta.manifest_fields(),
            )
            w.finish(manifest, path, kind)
    except BaseException:
        if created:
            shutil.rmtree(out, ignore_errors=True)
        raise
    return DumpImport(RunStore(out), kind, len(problems), w.total, w.correct)
