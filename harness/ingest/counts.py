"""``--format counts``: per-problem counts of correct samples (flat rows, or a results
release of several configurations; read by ``harness.ingest.count_files``) become runs.

Only counts are known, not which samples were right: each problem's ``c`` correct
verdicts go to sample indices drawn without replacement by a generator seeded from the
problem id, so an import is the same every time and the first ``m`` samples are a fair
subsample (the backtest fits on the first N/10). Token counts become ``samples.jsonl``
lines with empty texts, so compute (FLOPs, dollars) can be counted for a known model.
Everything is checked before anything is written.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from harness.core.errors import UsageError
from harness.core.records import Sample, Status, Verdict
from harness.ingest.count_files import CountsRun, read_flat, read_release
from harness.ingest.dumps import DumpImport, RunWriter, write_judged_run
from harness.ingest.formats import is_release, json_document
from harness.ingest.meta import ImportMeta


def correct_positions(problem_id: str, n: int, c: int) -> np.ndarray:
    """Which of a problem's ``n`` sample indices hold its ``c`` correct verdicts: drawn
    without replacement by a generator seeded from the problem id (the same every time)."""
    seed = int.from_bytes(hashlib.sha256(problem_id.encode()).digest()[:8], "little")
    flags = np.zeros(n, dtype=bool)
    flags[np.random.default_rng(seed).choice(n, size=c, replace=False)] = True
    return flags


def _spread(mean: float, n: int) -> list[int]:
    """``n`` whole token counts whose sum is ``round(mean * n)`` (as even as can be)."""
    total = round(mean * n)
    base, extra = divmod(total, n)
    return [base + (i < extra) for i in range(n)]


def _fill(run: CountsRun, w: RunWriter) -> None:
    for i, p in enumerate(run.problems):
        n, c = run.n[i], run.c[i]
        flags = correct_positions(p.id, n, c)
        w.problems[p.id] = p
        w.counts[p.id] = n
        samples = []
        if run.tokens:
            prompt = round(run.tokens["prompt_tokens"][i]) if "prompt_tokens" in run.tokens else 0
            mean = run.tokens["completion_tokens"][i] if "completion_tokens" in run.tokens else 0
            completion = _spread(mean, n)
            samples = [
                Sample(p.id, j, "", prompt_tokens=prompt, completion_tokens=completion[j])
                for j in range(n)
            ]
        verdicts = [
            Verdict(p.id, j, bool(ok), Status.PASSED if ok else Status.FAILED)
            for j, ok in enumerate(flags)
        ]
        w.add(samples, verdicts)


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "configuration"


@dataclass(frozen=True)
class CountsImport:
    """The runs an import of counts wrote (one, or one per configuration of a release)."""

    runs: list[DumpImport]
    release: bool


def import_counts(
    path: Path | str,
    out: Path | str,
    task: str,
    meta: ImportMeta | None = None,
    name_pattern: str | None = None,
) -> CountsImport:
    """Import a counts file: flat rows into the run ``out``, a release into one run per
    configuration under ``out`` (``out/<configuration name>``).

    Args:
        path: The file.
        out: A new run directory (flat) or a folder holding no runs yet (release).
        task: Task name recorded in the manifests (a label).
        meta: What the user states of the samples (defaults of a release's configurations).
        name_pattern: A regular expression with named groups ``model``, ``temperature``
            or ``seed`` that reads them from each configuration name of a release.

    Raises:
        UsageError: any bad row or count (nothing is written then), or a target that
            already holds a run.
    """
    path, out = Path(path), Path(out)
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    defaults = (meta or ImportMeta()).check()
    doc = json_document(path)
    if not is_release(doc):
        if name_pattern is not None:
            raise UsageError("--name-pattern reads configuration names of a release file")
        run = read_flat(path, defaults)
        one = write_judged_run(out, path, "counts", task, run.meta, partial(_fill, run))
        return CountsImport([one], False)
    runs = read_release(path, doc, defaults, name_pattern)
    targets = [out / _slug(r.name or "") for r in runs]
    if len(set(targets)) != len(targets):
        raise UsageError(f"{path}: two configuration names make the same folder name")
    taken = [t for t in targets if t.exists() and any(t.iterdir())]
    if taken:
        raise UsageError(f"{taken[0]} already exists; import the release into a new --out")
    created = not out.exists()
    done: list[DumpImport] = []
    try:
        for run, target in zip(runs, targets, strict=True):
            done.append(
                write_judged_run(
                    target,
                    path,
                    "counts",
                    task,
                    run.meta,
                    partial(_fill, run),
                    run.options,
                )
            )
    except BaseException:
        for d in done:
            shutil.rmtree(d.store.root, ignore_errors=True)
        if created:
            shutil.rmtree(out, ignore_errors=True)
        raise
    return CountsImport(done, True)
