"""A columnar copy of a run-store JSONL file, so re-analysing a run does not parse it again.

``harness.core.columns`` turns a JSONL file into a few flat arrays; ``read_columns``
keeps those arrays beside the file as Parquet (``verdicts/.x.jsonl.verdicts.parquet``,
hidden) with what they were made from: the byte length of the JSONL's complete lines,
its size, modification time and inode, and a fingerprint of sampled blocks of it.

The JSONL stays the truth. The copy is used as it is only when the file's size,
modification time, inode and sampled blocks are those recorded; a file that grew past
the recorded length with the recorded blocks unchanged (lines appended) has only its
new lines parsed and the copy extended; anything else (a file that shrank, was
rewritten or replaced, an unreadable or foreign copy) is parsed whole again. As git
does for its index, a copy made while the file's modification time was too recent to
tell a later same-size rewrite apart ("racy") is never trusted: the next read parses
the file again. A copy that cannot be written (read-only run directory) is not kept.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from harness.core.store import valid_prefix_length

Arrays = dict[str, np.ndarray]
Codes = dict[str, dict[str, int]]

FORMAT = "scaling-harness columns 1"
SAMPLED_BLOCKS = 16
BLOCK = 4096
_SMALL = {"problem", "status", "class_id", "correct", "truncated", "judged_with"}
RACY_NS = 100_000_000  # modern file systems: the kernel stamps times at a tick (<= 10 ms)
COARSE_RACY_NS = 2_000_000_000  # whole-second (or 2 s) stamps: FAT, HFS+, some mounts


def cache_path(path: Path, kind: str) -> Path:
    """Where the columnar copy of ``path`` lives (a hidden file beside it)."""
    return path.with_name(f".{path.name}.{kind}.parquet")


def fingerprint(path: Path, length: int) -> str:
    """A hash of ``SAMPLED_BLOCKS`` blocks spread evenly over the first ``length`` bytes
    (the last block always included) and of ``length`` itself."""
    h = hashlib.sha256(str(length).encode())
    if length:
        with path.open("rb") as f:
            starts = {
                min(length - 1, i * length // SAMPLED_BLOCKS) for i in range(SAMPLED_BLOCKS)
            } | {max(0, length - BLOCK)}
            for start in sorted(starts):
                f.seek(start)
                h.update(f.read(min(BLOCK, length - start)))
    return h.hexdigest()


@dataclass(frozen=True)
class Source:
    """What a columnar copy was made from."""

    length: int  # bytes of complete lines the copy covers
    size: int
    mtime_ns: int
    inode: int
    fingerprint: str
    racy: bool = False  # the file was modified too shortly before the copy was made

    @classmethod
    def of(cls, path: Path, length: int) -> Source:
        """The file as it is now (taken before it is parsed)."""
        now = time.time_ns()
        st = path.stat()
        window = COARSE_RACY_NS if st.st_mtime_ns % 1_000_000_000 == 0 else RACY_NS
        racy = now - st.st_mtime_ns < window
        return cls(length, st.st_size, st.st_mtime_ns, st.st_ino, fingerprint(path, length), racy)

    def unchanged(self, path: Path) -> bool:
        """The file is what the copy was made from: same size, modification time and
        inode (as git's index trusts an unchanged stat), same sampled blocks, not racy."""
        st = path.stat()
        same = (st.st_size, st.st_mtime_ns, st.st_ino) == (self.size, self.mtime_ns, self.inode)
        return same and not self.racy and fingerprint(path, self.length) == self.fingerprint

    def extended_by(self, path: Path, length: int) -> bool:
        """The file holds the copied lines unchanged and more complete lines after them."""
        return (
            not self.racy
            and length > self.length
            and fingerprint(path, self.length) == self.fingerprint
        )


@dataclass(frozen=True)
class Cached:
    """A columnar copy read back: its arrays (Arrow), code tables, source, and the facts
    worked out about its rows when it was made (e.g. that no row repeats another)."""

    table: pa.Table
    codes: dict[str, list[str]]
    source: Source
    facts: dict[str, Any]


def load(path: Path, kind: str) -> Cached | None:
    """The copy of ``path`` if there is a readable one of this ``kind``, else None."""
    where = cache_path(path, kind)
    if not where.is_file():
        return None
    try:
        pf = pq.ParquetFile(where, memory_map=True)
        meta = json.loads((pf.schema_arrow.metadata or {})[b"harness"])
        if meta.get("format") != FORMAT or meta.get("kind") != kind:
            return None
        table = pf.read(use_threads=True)
        return Cached(table, meta["codes"], Source(**meta["source"]), meta.get("facts", {}))
    except (OSError, ValueError, KeyError, TypeError, pa.ArrowException):
        return None  # a torn or foreign copy is no copy: the JSONL is read instead


def save(
    path: Path,
    kind: str,
    columns: dict[str, Any],
    codes: dict[str, list[str]],
    source: Source,
    facts: dict[str, Any] | None = None,
) -> None:
    """Write the copy atomically (temporary file, then rename); failures are ignored."""
    where = cache_path(path, kind)
    meta = {
        "format": FORMAT,
        "kind": kind,
        "codes": codes,
        "source": source.__dict__,
        "facts": facts or {},
    }
    table = pa.table(columns).replace_schema_metadata({"harness": json.dumps(meta)})
    tmp = where.with_name(f"{where.name}.{os.getpid()}.tmp")
    try:
        # Few distinct values (problem and status codes, classes): dictionaries; sample
        # indices count up: deltas. Half the bytes of plain encoding, and faster to read.
        coded = [c for c in table.column_names if c != "sample_index" and c in _SMALL]
        encoding = (
            {"sample_index": "DELTA_BINARY_PACKED"}
            if "sample_index" in table.column_names
            else None
        )
        pq.write_table(
            table, tmp, compression="lz4", use_dictionary=coded, column_encoding=encoding
        )
        os.replace(tmp, where)
    except OSError:
        tmp.unlink(missing_ok=True)


def read_columns(
    path: Path,
    kind: str,
    blocks: Callable[[int, int], Iterator[pa.Table]],
    convert: Callable[[pa.Table, Codes], Arrays],
    coded: tuple[str, ...],
    cache: bool = True,
    facts: Callable[[Arrays, dict[str, list[str]]], dict[str, Any]] | None = None,
) -> tuple[Arrays, dict[str, list[str]], dict[str, Any]]:
    """Flat arrays of a JSONL file, through its columnar copy when that is current.

    Args:
        path: The JSONL file.
        kind: Name of this set of arrays (one copy per kind).
        blocks: (start byte, end byte) -> parsed tables of the lines in that range.
        convert: One parsed table -> its arrays; strings are coded into the code tables.
        coded: The names of the code tables ``convert`` fills.
        cache: Use and keep the columnar copy (False: parse the whole file).
        facts: Works out facts about all the rows (kept with the copy, so a current copy
            answers them without looking at the rows again).

    Returns:
        The arrays (concatenated over blocks), each code table in code order, and the
        facts.
    """
    keep = valid_prefix_length(path)
    codes: Codes = {name: {} for name in coded}
    parts: dict[str, list[np.ndarray]] = {}
    start = 0
    copy = load(path, kind) if cache else None
    if copy is not None and set(copy.codes) == set(coded):
        current = copy.source.unchanged(path)
        if current or copy.source.extended_by(path, keep):
            for name, table in copy.codes.items():
                codes[name] = {value: i for i, value in enumerate(table)}
            for name in copy.table.column_names:
                parts[name] = [copy.table.column(name).to_numpy()]
            if current:
                return _joined(parts), {k: list(v) for k, v in codes.items()}, copy.facts
            start = copy.source.length
    source = Source.of(path, keep) if cache else None
    for table in blocks(start, keep):
        for name, values in convert(table, codes).items():
            parts.setdefault(name, []).append(values)
    arrays = _joined(parts)
    tables = {k: list(v) for k, v in codes.items()}
    found = facts(arrays, tables) if facts is not None and arrays else {}
    if source is not None and arrays:
        save(path, kind, arrays, tables, source, found)
    return arrays, tables, found


def _joined(parts: dict[str, list[np.ndarray]]) -> Arrays:
    return {k: np.concatenate(v) if len(v) > 1 else np.asarray(v[0]) for k, v in parts.items()}
