"""The run directory is the database: manifest + append-only JSONL files.

Layout of a run directory::

    manifest.json            RunManifest (config, versions, dataset hash, seed, model)
    problems.jsonl           the problems the run was made on (for re-verification offline)
    samples.jsonl            one Sample per line
    verdicts/<verifier>.jsonl  one Verdict per line
    analysis/                CSV / JSON written by ``harness analyze``
    plots/ report.html       written by ``harness report``

Writes are appended and flushed per batch (fsynced per batch, or for samples at most
once a second), so a killed process loses at most the batch in flight. A torn last line
(kill -9 mid-write) is detected on open, reported with a warning and cut off before
anything new is appended; it is never parsed as data. An exclusive lock keeps two
processes from writing one directory at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import time
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from harness.core.errors import UsageError
from harness.core.interrupts import deferred

if TYPE_CHECKING:
    import pandas as pd
from harness.core.manifest import RunManifest
from harness.core.records import Problem, Sample, Verdict

MANIFEST = "manifest.json"
PROBLEMS = "problems.jsonl"
SAMPLES = "samples.jsonl"
VERDICTS_DIR = "verdicts"
ANALYSIS_DIR = "analysis"
LOCK = ".lock"


class TornLineWarning(UserWarning):
    """A JSONL file ended in a partial line (the writer was killed mid-write)."""


class DuplicateWarning(UserWarning):
    """A run file holds the same (problem, sample index) more than once; one is used."""


def warn_duplicates(path: Path, count: int, kept: str) -> None:
    """Say that ``path`` holds ``count`` repeated (problem, index) lines and which is used."""
    if count:
        warnings.warn(
            f"{path}: {count:,} line(s) repeat a (problem, sample index) already there; "
            f"the {kept} of each is used",
            DuplicateWarning,
            stacklevel=3,
        )


def valid_prefix_length(path: Path) -> int:
    """Byte length of the file up to and including its last complete, parseable line."""
    size = path.stat().st_size
    if size == 0:
        return 0
    with path.open("rb") as f:
        # Read only the tail: a torn line is at most one line long.
        back = min(size, 1 << 16)
        while True:
            f.seek(size - back)
            tail = f.read(back)
            body = tail[:-1] if tail.endswith(b"\n") else tail
            cut = body.rfind(b"\n")
            if cut >= 0 or back == size:
                break
            back = min(size, back * 2)
    last = tail[cut + 1 :]
    if last.endswith(b"\n"):
        try:
            json.loads(last)
            return size
        except ValueError:
            pass
    return size - back + cut + 1


def repair_jsonl(path: Path) -> int:
    """Cut a torn last line off ``path``; returns the number of bytes dropped."""
    if not path.exists():
        return 0
    size = path.stat().st_size
    keep = valid_prefix_length(path)
    if keep < size:
        warnings.warn(
            f"{path}: dropped a torn last line ({size - keep} bytes) left by an interrupted write",
            TornLineWarning,
            stacklevel=2,
        )
        with path.open("r+b") as f:
            f.truncate(keep)
    return size - keep


def iter_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """Yield the complete records of a JSONL file, skipping a torn last line (with a warning)."""
    if not path.exists():
        return
    keep = valid_prefix_length(path)
    if keep < path.stat().st_size:
        warnings.warn(f"{path}: ignoring a torn last line", TornLineWarning, stacklevel=2)
    with path.open("rb") as f:
        read = 0
        for lineno, line in enumerate(f, 1):
            read += len(line)
            if read > keep:
                break
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except ValueError:
                raise UsageError(f"{path}:{lineno}: not a valid JSON line") from None


def iter_json_objects(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) of a user's JSONL file, read strictly: a line that is not a
    JSON object is a UsageError naming the file and line (no torn-line forgiveness)."""
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError:
                raise UsageError(f"{path}:{lineno}: not a valid JSON line") from None
            if not isinstance(row, dict):
                raise UsageError(f"{path}:{lineno}: expected a JSON object")
            yield lineno, row


class JsonlAppender:
    """Appends records to a JSONL file, flushing once per batch.

    A flushed batch survives the process being killed. ``fsync_s`` spaces out the fsyncs
    that make it survive a machine crash too: 0 fsyncs every batch; more than 0 at most
    that often and at close (for one-sample batches streamed from an engine).
    """

    def __init__(self, path: Path, fsync: bool = True, fsync_s: float = 0.0) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        repair_jsonl(path)
        self.path = path
        self._fsync = fsync
        self._fsync_s = fsync_s
        self._synced = time.monotonic()
        self._f: IO[str] = path.open("a", encoding="utf-8")

    def write_batch(self, records: Iterable[Any]) -> int:
        lines = [json.dumps(r.to_dict(), ensure_ascii=False) + "\n" for r in records]
        # One write call per batch keeps the window for a torn line small, and a Ctrl-C
        # that arrives meanwhile is raised only once the batch is on disk.
        with deferred():
            self._f.write("".join(lines))
            self._f.flush()
            if self._fsync and time.monotonic() - self._synced >= self._fsync_s:
                os.fsync(self._f.fileno())
                self._synced = time.monotonic()
        return len(lines)

    def close(self) -> None:
        if self._fsync and self._fsync_s and not self._f.closed:
            self._f.flush()
            os.fsync(self._f.fileno())
        self._f.close()

    def __enter__(self) -> JsonlAppender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class RunStore:
    """One run directory."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self._lock_fd: int | None = None
        self._created = False  # whether lock() made the directory

    # -- paths ---------------------------------------------------------------
    @property
    def manifest_path(self) -> Path:
        return self.root / MANIFEST

    @property
    def samples_path(self) -> Path:
        return self.root / SAMPLES

    @property
    def problems_path(self) -> Path:
        return self.root / PROBLEMS

    @property
    def analysis_dir(self) -> Path:
        return self.root / ANALYSIS_DIR

    def verdicts_path(self, verifier: str) -> Path:
        return self.root / VERDICTS_DIR / f"{verifier}.jsonl"

    def verifiers(self) -> list[str]:
        """Names of the verifiers that have written verdicts here."""
        d = self.root / VERDICTS_DIR
        return sorted(p.stem for p in d.glob("*.jsonl")) if d.is_dir() else []

    # -- lifecycle ------------------------------------------------------------
    def exists(self) -> bool:
        return self.manifest_path.exists()

    def lock(self) -> None:
        """Take the directory's exclusive lock (released on ``unlock`` or process exit)."""
        try:
            self._created = not self.root.exists()
            self.root.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.root / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise UsageError(f"{self.root}: cannot write there ({e.strerror})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise UsageError(f"{self.root} is in use by another harness process") from None
        self._lock_fd = fd

    def unlock(self) -> None:
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> RunStore:
        self.lock()
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self.unlock()
        if exc_type is not None and self._created:
            self._discard_if_empty()

    def _discard_if_empty(self) -> None:
        # A command that failed before writing anything into the directory it made
        # (bad input, refused options) leaves no empty run directory behind.
        with contextlib.suppress(OSError):
            if {p.name for p in self.root.iterdir()} <= {LOCK}:
                (self.root / LOCK).unlink(missing_ok=True)
                self.root.rmdir()

    # -- manifest & problems ------------------------------------------------
    def read_manifest(self) -> RunManifest:
        try:
            return RunManifest.from_dict(json.loads(self.manifest_path.read_text()))
        except FileNotFoundError:
            raise UsageError(f"{self.root} is not a run directory (no {MANIFEST})") from None
        except (ValueError, TypeError) as e:
            raise UsageError(f"{self.manifest_path}: unreadable manifest ({e})") from None

    def write_manifest(self, manifest: RunManifest) -> None:
        """Write atomically (temp file + rename) so a crash never leaves half a manifest."""
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.manifest_path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(manifest.to_dict(), indent=2, ensure_ascii=False) + "\n")
        os.replace(tmp, self.manifest_path)

    def write_problems(self, problems: list[Problem]) -> None:
        tmp = self.problems_path.with_suffix(".jsonl.tmp")
        with tmp.open("w", encoding="utf-8") as f:
            for p in problems:
                f.write(json.dumps(p.to_dict(), ensure_ascii=False, default=str) + "\n")
        os.replace(tmp, self.problems_path)

    def read_problems(self) -> list[Problem]:
        return [Problem.from_dict(d) for d in iter_jsonl(self.problems_path)]

    # -- samples ------------------------------------------------------------
    def iter_samples(self) -> Iterator[Sample]:
        """Every sample once: a repeated (problem, index) line is skipped with a warning."""
        seen: set[tuple[str, int]] = set()
        repeated = 0
        for d in iter_jsonl(self.samples_path):
            sample = Sample.from_dict(d)
            key = (sample.problem_id, sample.sample_index)
            if key in seen:
                repeated += 1
                continue
            seen.add(key)
            yield sample
        warn_duplicates(self.samples_path, repeated, "first")

    def sample_indices(self) -> dict[str, set[int]]:
        """problem_id -> the sample indices already on disk."""
        have: dict[str, set[int]] = {}
        repeated = 0
        for d in iter_jsonl(self.samples_path):
            indices = have.setdefault(str(d["problem_id"]), set())
            index = int(d["sample_index"])
            repeated += index in indices
            indices.add(index)
        warn_duplicates(self.samples_path, repeated, "first")
        return have

    def sample_count(self) -> int:
        """Distinct samples on disk."""
        return sum(len(v) for v in self.sample_indices().values())

    def sample_appender(self) -> JsonlAppender:
        # Samples arrive one by one from an engine: flushed each, fsynced once a second.
        return JsonlAppender(self.samples_path, fsync_s=1.0)

    # -- verdicts -------------------------------------------------------------
    def iter_verdicts(self, verifier: str) -> Iterator[Verdict]:
        for d in iter_jsonl(self.verdicts_path(verifier)):
            yield Verdict.from_dict(d)

    def verdict_keys(self, verifier: str) -> set[tuple[str, int]]:
        return {
            (str(d["problem_id"]), int(d["sample_index"]))
            for d in iter_jsonl(self.verdicts_path(verifier))
        }

    def verdict_appender(self, verifier: str) -> JsonlAppender:
        return JsonlAppender(self.verdicts_path(verifier))

    def read_verdicts_table(self, verifier: str, columns: list[str] | None = None) -> pd.DataFrame:
        """Verdicts as columns (pyarrow's JSON reader; no per-record Python objects)."""
        path = self.verdicts_path(verifier)
        if not path.exists():
            raise UsageError(f"{self.root} has no verdicts from verifier {verifier!r}")
        return read_jsonl_table(path, columns)


def read_jsonl_table(path: Path, columns: list[str] | None = None) -> pd.DataFrame:
    """Read a JSONL file into a DataFrame column-wise, ignoring a torn last line."""
    import io

    import pandas as pd
    import pyarrow.json as pj

    keep = valid_prefix_length(path)
    if keep == 0:
        return pd.DataFrame(columns=columns or [])
    with path.open("rb") as f:
        data = f.read(keep)
    table = pj.read_json(
        io.BytesIO(data),
        parse_options=pj.ParseOptions(newlines_in_values=False),
        read_options=pj.ReadOptions(block_size=1 << 24),
    )
    if columns is not None:
        table = table.select([c for c in columns if c in table.column_names])
    df = table.to_pandas()
    if "problem_id" in df.columns:
        df["problem_id"] = df["problem_id"].astype(str)
    return df


def write_json(path: Path, data: Any) -> Path:
    """Write ``data`` as indented JSON; numpy scalars become numbers, NaN and infinities null."""

    def clean(x: Any) -> Any:
        if isinstance(x, dict):
            return {k: clean(v) for k, v in x.items()}
        if isinstance(x, list | tuple):
            return [clean(v) for v in x]
        if hasattr(x, "item") and callable(x.item) and not isinstance(x, str | bytes):
            x = x.item()
        if isinstance(x, float) and not math.isfinite(x):
            return None
        return x

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(clean(data), indent=2) + "\n")
    return path
