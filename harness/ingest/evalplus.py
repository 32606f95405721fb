"""Import EvalPlus result files: a weak and a strong verifier on the same samples.

``evalplus.evaluate`` writes ``eval_results.json``: ``{"date", "hash", "eval": {task_id:
[{"task_id", "solution", "base_status", "plus_status", "base_fail_tests",
"plus_fail_tests"}, ...]}}``, one entry per sample in completion order. ``base_status``
judges a sample on the benchmark's original tests, ``plus_status`` on EvalPlus's extra
tests; EvalPlus counts a sample right on HumanEval+/MBPP+ when both pass. So the file is
exactly two verifiers of one set of samples:

* ``evalplus_base``: passed when ``base_status`` is ``pass`` (the weak verifier);
* ``evalplus_plus``: passed when both are ``pass`` (the strong one, the run's verifier).

The task's own problems (``--task humaneval`` or ``mbpp``) become the run's problems, so
the samples can also be judged again with ``harness verify --verifier unit_tests``.
EvalPlus names MBPP problems ``Mbpp/<id>``; a task id the task does not know is an
error naming it, and nothing is written.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.core.errors import UsageError
from harness.core.manifest import new_manifest
from harness.core.records import Sample, Status, Verdict
from harness.core.store import RunStore
from harness.core.task import get_task
from harness.ingest.meta import ImportMeta
from harness.ingest.samples import resolve_problem_id

BASE = "evalplus_base"
PLUS = "evalplus_plus"
_STATUS = {"pass": Status.PASSED, "fail": Status.FAILED, "timeout": Status.TIMEOUT}


def read_results(path: Path) -> dict[str, list[dict[str, Any]]]:
    """The ``eval`` part of an EvalPlus result file, checked.

    Raises:
        UsageError: not JSON, no ``eval`` object, or entries without a solution or
            ``base_status`` (EvalPlus before 0.2 wrote other fields).
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise UsageError(f"{path}: not an EvalPlus result file ({e})") from None
    results = data.get("eval") if isinstance(data, dict) else None
    if not isinstance(results, dict) or not results:
        raise UsageError(f"{path}: an EvalPlus result file needs a non-empty 'eval' object")
    for task_id, entries in results.items():
        if not isinstance(entries, list):
            raise UsageError(
                f"{path}: eval[{task_id!r}] is not a list of samples (EvalPlus before 0.2 "
                "wrote 'base'/'plus' lists; evaluate the samples again with a newer EvalPlus)"
            )
        for i, entry in enumerate(entries):
            if (
                not isinstance(entry, dict)
                or not isinstance(entry.get("solution"), str)
                or "base_status" not in entry
            ):
                raise UsageError(
                    f"{path}: eval[{task_id!r}][{i}] needs 'solution' and 'base_status'"
                )
    return results


def _status(value: Any, where: str) -> Status:
    if value not in _STATUS:
        raise UsageError(f"{where}: unknown EvalPlus status {value!r} (pass, fail, timeout)")
    return _STATUS[value]


@dataclass(frozen=True)
class EvalPlusImport:
    """What an import wrote."""

    store: RunStore
    samples: int
    problems: int
    base_correct: int
    plus_correct: int | None


def import_evalplus(
    path: Path | str,
    out: Path | str,
    task: str,
    data_file: Path | str | None = None,
    task_options: Mapping[str, Any] | None = None,
    meta: ImportMeta | None = None,
) -> EvalPlusImport:
    """Turn an EvalPlus result file into a run with samples and two verdict files.

    Args:
        path: ``eval_results.json`` from ``evalplus.evaluate``.
        out: A directory that holds no run yet.
        task: The task whose problems the samples answer (``humaneval`` or ``mbpp``).
        data_file: The task's data file, where it needs one.
        task_options: The task's options.
        meta: What is known of the samples (model, temperature, seed, label, cost).

    Raises:
        UsageError: a bad file, a task id the task does not know, or ``out`` already a
            run; nothing is written then.
    """
    path = Path(path)
    results = read_results(path)
    source = get_task(task, data_file=data_file, options=task_options)
    problems = source.load()
    by_id = {p.id: p for p in problems}
    samples: list[Sample] = []
    base: list[Verdict] = []
    plus: list[Verdict] = []
    counts: dict[str, int] = {}
    for task_id, entries in results.items():
        pid = resolve_problem_id(task_id, task, by_id)
        if pid not in by_id:
            raise UsageError(f"{path}: unknown task id {task_id!r} for task {task!r}")
        counts[pid] = len(entries)
        for i, entry in enumerate(entries):
            where = f"{path}: eval[{task_id!r}][{i}]"
            b = _status(entry["base_status"], where)
            samples.append(Sample(pid, i, entry["solution"]))
            base.append(Verdict(pid, i, b is Status.PASSED, b, detail={"base": b.value}))
            if entry.get("plus_status") is None:
                continue
            p = _status(entry["plus_status"], where)
            both = b if b is not Status.PASSED else p
            plus.append(Verdict(pid, i, both is Status.PASSED, both, detail={"plus": p.value}))
    if plus and len(plus) != len(base):
        raise UsageError(f"{path}: some samples have a plus_status and some do not")
    store = RunStore(out)
    if store.exists():
        raise UsageError(f"{out} already holds a run; import into a new --out")
    used = [p for p in problems if p.id in counts]
    verifier = PLUS if plus else BASE
    manifest = new_manifest(
        store.root,
        task=task,
        backend="import",
        n=min(counts.values()),
        problems=used,
        verifier=verifier,
        **(meta or ImportMeta()).check().manifest_fields(),
        task_options={**source.record(), "source": str(path)},
        source="import",
    )
    with store:
        store.write_problems(used)
        with store.sample_appender() as w:
            w.write_batch(samples)
        for name, verdicts, tests in (
            (BASE, base, "EvalPlus base tests (the benchmark's original tests)"),
            (PLUS, plus, "EvalPlus base + plus tests (both must pass)"),
        ):
            if not verdicts:
                continue
            with store.verdict_appender(name) as w:
                w.write_batch(verdicts)
            info: dict[str, Any] = {"verifier": name, "source": str(path), "tests": tests}
            if name == BASE and plus:
                info["weak_of"] = PLUS
            (store.root / "verdicts" / f"{name}.meta.json").write_text(
                json.dumps(info, indent=2) + "\n"
            )
        store.write_manifest(manifest)  # last: a directory without it is no run
    return EvalPlusImport(
        store,
        len(samples),
        len(used),
        sum(v.correct for v in base),
        sum(v.correct for v in plus) if plus else None,
    )
