"""``harness import``: bring samples made elsewhere into a run directory.

Each input line holds ``problem_id``, ``text`` and optionally ``sample_index``. The
samples files of human-eval and EvalPlus are read as they are: ``task_id`` stands for
``problem_id`` (EvalPlus's ``Mbpp/11`` for the mbpp task's ``11``), and ``completion``
(the code that follows the prompt) or ``solution`` (a whole program) for ``text``. The
whole file is checked before anything is written, so a bad line (unknown problem id,
missing field, broken JSON) is one error naming the line and leaves the directory
untouched.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.core.errors import UsageError
from harness.core.manifest import check_compatible, new_manifest
from harness.core.records import Sample
from harness.core.store import RunStore, iter_json_objects
from harness.core.task import get_task
from harness.ingest.formats import ID_FIELDS, TEXT_FIELDS, token_counts
from harness.ingest.meta import ImportMeta


@dataclass(frozen=True)
class ImportResult:
    """What an import did.

    Attributes:
        imported: New samples written.
        problems: Problems the run holds samples of.
        skipped: Samples of the file already in the run (same problem, index and text).
    """

    store: RunStore
    imported: int
    problems: int
    skipped: int = 0


def _read_lines(path: Path) -> list[tuple[int, dict[str, Any]]]:
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    rows = list(iter_json_objects(path))
    if not rows:
        raise UsageError(f"{path}: no samples in file")
    return rows


def resolve_problem_id(raw: Any, task: str, by_id: dict[str, Any]) -> str:
    """A row's problem id; ``<task>/<id>`` is read as ``<id>`` where only that is known
    (EvalPlus names MBPP problems ``Mbpp/11`` where the mbpp task says ``11``)."""
    pid = str(raw)
    prefix, _, rest = pid.partition("/")
    if pid not in by_id and rest in by_id and prefix.lower() == task.lower():
        return rest
    return pid


def import_samples(
    path: Path | str,
    task: str,
    out: Path | str,
    data_file: Path | str | None = None,
    task_options: dict[str, Any] | None = None,
    model: str = "imported",
    seed: int = 0,
    append: bool = False,
    meta: ImportMeta | None = None,
) -> ImportResult:
    """Validate ``path`` fully, then add its samples to the run directory ``out``.

    A line's sample index is its ``sample_index``, else its place among the file's lines of
    that problem (0, 1, ...), so importing a file twice finds the same (problem, index)
    pairs: those already in the run with the same text are skipped and counted; with
    another text they are refused. With ``append``, lines without an index are added after
    the samples the run holds instead.

    ``seed`` is the task's (generated tasks make their problems from it); ``meta`` says
    what is known of the samples (model, temperature, seed, label, cost; its model wins
    over ``model``).

    Raises:
        UsageError: a bad line, or a sample that conflicts with one in the run; nothing
            is written then.
    """
    path = Path(path)
    stated = (meta or ImportMeta()).with_defaults(ImportMeta(model=model)).check()
    t = get_task(task, data_file=data_file, seed=seed, options=task_options)
    problems = t.load()
    by_id = {p.id: p for p in problems}
    store = RunStore(out)
    manifest = new_manifest(
        store.root,
        task=task,
        backend="import",
        n=0,
        problems=problems,
        verifier=t.default_verifier,
        task_options=t.record(),
        source="import",
        **stated.manifest_fields(),
    )
    with store:
        present: dict[tuple[str, int], str] = {}
        if store.exists():
            existing = store.read_manifest()
            check_compatible(existing, manifest, store.root)
            present = {(s.problem_id, s.sample_index): s.text for s in store.iter_samples()}
            manifest = manifest.replace(created=existing.created, run_id=existing.run_id)
        have: dict[str, set[int]] = defaultdict(set)
        for pid, idx in present:
            have[pid].add(idx)
        samples: list[Sample] = []
        skipped = 0
        next_index: dict[str, int] = defaultdict(int)
        if append:
            for pid, indices in have.items():
                next_index[pid] = max(indices) + 1
        in_file: set[tuple[str, int]] = set()
        for lineno, row in _read_lines(path):
            id_field = next((f for f in ID_FIELDS if f in row), None)
            text_field = next((f for f in TEXT_FIELDS if f in row), None)
            if id_field is None or text_field is None:
                raise UsageError(
                    f"{path}:{lineno}: needs fields 'problem_id' (or 'task_id') and 'text' "
                    "(or 'completion' / 'solution')"
                )
            pid = resolve_problem_id(row[id_field], task, by_id)
            if pid not in by_id:
                raise UsageError(f"{path}:{lineno}: unknown problem id {pid!r} for task {task!r}")
            text = row[text_field]
            if not isinstance(text, str):
                raise UsageError(f"{path}:{lineno}: {text_field!r} must be a string")
            if row.get("sample_index") is None:
                idx = next_index[pid]
            else:
                try:
                    idx = int(row["sample_index"])
                except (TypeError, ValueError):
                    raise UsageError(
                        f"{path}:{lineno}: 'sample_index' must be an integer"
                    ) from None
                if idx < 0:
                    raise UsageError(f"{path}:{lineno}: 'sample_index' must be >= 0")
            if (pid, idx) in in_file:
                raise UsageError(f"{path}:{lineno}: duplicate sample ({pid!r}, {idx})")
            in_file.add((pid, idx))
            next_index[pid] = max(next_index[pid], idx + 1)
            if (pid, idx) in present:
                if present[(pid, idx)] != text:
                    raise UsageError(
                        f"{path}:{lineno}: sample ({pid!r}, {idx}) is already in {store.root} "
                        "with another text; pass --append to add the file's samples after "
                        "those present"
                    )
                skipped += 1
                continue
            have[pid].add(idx)
            prompt_tokens, completion_tokens = token_counts(row, f"{path}:{lineno}")
            samples.append(
                Sample(
                    pid,
                    idx,
                    text,
                    prompt_tokens=prompt_tokens,
                    completion_tokens=completion_tokens,
                    finish_reason=str(row.get("finish_reason") or "unknown"),
                )
            )
        used = [p for p in problems if have.get(p.id)]
        n = min(len(have[p.id]) for p in used)
        store.write_manifest(manifest.replace(n=n, num_problems=len(used)))
        store.write_problems(used)
        if samples:
            with store.sample_appender() as w:
                w.write_batch(samples)
    return ImportResult(store, len(samples), len(used), skipped)
