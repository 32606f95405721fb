"""Loading task data: local JSONL / JSON / parquet files and Hugging Face hub datasets.

Local files are first read row by row so a malformed row is one error naming the file
and line (bad JSON, a row that is not an object, a required field missing); the rows are
then loaded through Hugging Face ``datasets`` so a local copy takes the same code path
as the hub dataset. Without network access the hub path fails fast with one line that
tells the user to pass ``--data-file`` (a TCP probe avoids datasets' long retry loop).
"""

from __future__ import annotations

import gzip
import json
import os
import socket
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from harness.core.errors import UsageError
from harness.core.options import TRUE
from harness.core.records import Problem

PARQUET_SUFFIXES = (".parquet", ".pq")


class HubUnavailable(UsageError):
    """A hub dataset cannot be loaded; ``reason`` says why without the usage hint."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Row:
    """One data row and where it came from (for error messages)."""

    where: str
    data: dict[str, Any]


def _is_parquet(path: Path) -> bool:
    if path.suffix.lower() in PARQUET_SUFFIXES:
        return True
    with path.open("rb") as f:
        return f.read(4) == b"PAR1"


def _open_text(path: Path) -> list[str]:
    try:
        if path.suffix.lower() == ".gz":
            with gzip.open(path, "rt", encoding="utf-8") as f:
                return f.readlines()
        with path.open(encoding="utf-8") as f:
            return f.readlines()
    except (UnicodeDecodeError, OSError) as e:
        raise UsageError(f"{path}: cannot read as UTF-8 JSON lines ({e})") from None


def _json_rows(path: Path) -> list[Row]:
    lines = _open_text(path)
    first = next((line for line in lines if line.strip()), "")
    if first.lstrip().startswith("["):  # one JSON array of objects
        try:
            data = json.loads("".join(lines))
        except json.JSONDecodeError as e:
            raise UsageError(f"{path}:{e.lineno}: not valid JSON ({e.msg})") from None
        if not isinstance(data, list):
            raise UsageError(f"{path}: expected a JSON array of objects")
        rows = [Row(f"{path}: item {i}", r) for i, r in enumerate(data)]
    else:
        rows = []
        for lineno, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                rows.append(Row(f"{path}:{lineno}", json.loads(line)))
            except json.JSONDecodeError as e:
                raise UsageError(f"{path}:{lineno}: not a valid JSON line ({e.msg})") from None
    for row in rows:
        if not isinstance(row.data, dict):
            raise UsageError(f"{row.where}: expected a JSON object, got {type(row.data).__name__}")
    return rows


def read_rows(path: Path | str) -> list[Row]:
    """All rows of a JSONL (optionally .gz), JSON array or parquet file, validated as objects.

    Raises:
        UsageError: the file is missing or a row is malformed (names the file and line).
    """
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    if _is_parquet(path):
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(path)
        except Exception as e:  # pyarrow raises several unrelated types
            raise UsageError(f"{path}: not a readable parquet file ({e})") from None
        return [Row(f"{path}: row {i}", r) for i, r in enumerate(table.to_pylist())]
    return _json_rows(path)


def require_fields(rows: Sequence[Row], fields: Sequence[str], what: str) -> None:
    """Every row has every field, not null or empty (UsageError naming the first bad row)."""
    for row in rows:
        for name in fields:
            value = row.data.get(name)
            if value is None or (isinstance(value, str) and not value.strip()):
                state = "missing" if name not in row.data else "empty"
                raise UsageError(f"{row.where}: field {name!r} is {state} ({what})")


def check_unique_ids(
    problems: Sequence[Problem], rows: Sequence[Row], field: str = "problem id"
) -> list[Problem]:
    """``problems`` unchanged, or a UsageError naming the row that repeats an id."""
    seen: set[str] = set()
    for p, row in zip(problems, rows, strict=True):
        if p.id in seen:
            raise UsageError(f"{row.where}: duplicate {field} {p.id!r}")
        seen.add(p.id)
    return list(problems)


@contextmanager
def _quiet_datasets() -> Iterator[None]:
    import datasets

    was_enabled = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    try:
        yield
    finally:
        if was_enabled:
            datasets.enable_progress_bars()


def _one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0][:200] if text else ''}".rstrip(": ")


def load_local(path: Path | str, fields: Sequence[str], what: str) -> list[Row]:
    """Rows of a local data file, validated line by line, loaded through ``datasets``.

    Args:
        path: JSONL / JSON / parquet file.
        fields: Fields every row must have.
        what: Task name, for messages.
    """
    import datasets

    path = Path(path)
    rows = read_rows(path)
    if not rows:
        raise UsageError(f"{path}: no rows")
    require_fields(rows, fields, what)
    builder = "parquet" if _is_parquet(path) else "json"
    try:
        with _quiet_datasets():
            ds = datasets.load_dataset(builder, data_files=str(path.resolve()), split="train")
    except Exception as e:  # arrow type clashes between rows and similar
        raise UsageError(f"{path}: datasets could not load it ({_one_line(e)})") from None
    if len(ds) != len(rows):
        raise UsageError(f"{path}: datasets read {len(ds)} rows, the file has {len(rows)}")
    # datasets fills fields a row lacks with None; keep each row's own fields only.
    return [
        Row(row.where, {k: v for k, v in loaded.items() if k in row.data})
        for row, loaded in zip(rows, ds, strict=True)
    ]


def _offline() -> bool:
    flags = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")
    return any(os.environ.get(v, "").strip().lower() in TRUE for v in flags)


def hub_reachable(timeout_s: float = 3.0) -> tuple[bool, str]:
    """Whether the Hugging Face hub endpoint accepts a TCP connection, and why not."""
    url = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    host = url.hostname or "huggingface.co"
    port = url.port or (80 if url.scheme == "http" else 443)
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True, ""
    except OSError as e:
        return False, f"{host}:{port} unreachable: {e.strerror or e}"


def load_hub(repo: str, config: str | None, split: str, what: str) -> list[Row]:
    """Rows of a hub dataset split (or the local cache when ``HF_HUB_OFFLINE`` is set).

    Raises:
        UsageError: the hub cannot be reached or the dataset cannot be loaded; the message
            tells the user to pass ``--data-file``.
    """
    hint = "pass --data-file PATH with a local JSONL or parquet copy"
    if not _offline():
        ok, why = hub_reachable()
        if not ok:
            raise HubUnavailable(
                f"{what}: cannot download {repo} from the Hugging Face hub ({why}); {hint}", why
            )
    import datasets

    try:
        with _quiet_datasets():
            ds = datasets.load_dataset(repo, config, split=split)
    except Exception as e:
        why = _one_line(e)
        raise HubUnavailable(f"{what}: cannot load {repo} ({why}); {hint}", why) from None
    return [Row(f"{repo} {split} row {i}", dict(r)) for i, r in enumerate(ds)]
