"""Run-store JSONL files read as numpy columns, streamed in blocks.

The analysis layer never builds one Python object per verdict: a verdicts file is parsed
block by block (pyarrow's multi-threaded JSON reader, only the wanted fields materialised)
into a few flat arrays, with problem ids and statuses encoded as small integers. 10^7
verdicts take about 290 MB this way (problem code, sample index, correct, score, class
id, status).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from harness.core.errors import UsageError
from harness.core.store import valid_prefix_length, warn_duplicates

BLOCK_BYTES = 1 << 26  # 64 MiB of JSON text per parse: bounds memory, keeps both cores busy

IntArray = npt.NDArray[np.int64]
NOT_RECORDED, OWN_RUN, SHARED_RUN = 0, 1, 2

VERDICT_FIELDS: dict[str, pa.DataType] = {
    "problem_id": pa.string(),
    "sample_index": pa.int64(),
    "correct": pa.bool_(),
    "score": pa.float64(),
    "class_id": pa.int64(),
    "status": pa.string(),
    "judged_with": pa.int64(),
}
SAMPLE_FIELDS: dict[str, pa.DataType] = {
    "problem_id": pa.string(),
    "sample_index": pa.int64(),
    "prompt_tokens": pa.int64(),
    "completion_tokens": pa.int64(),
    "finish_reason": pa.string(),
}


def iter_jsonl_blocks(
    path: Path, fields: dict[str, pa.DataType], block_bytes: int = BLOCK_BYTES
) -> Iterator[pa.Table]:
    """Tables of ``fields`` for consecutive blocks of whole lines of a JSONL file.

    Fields absent from a line are null; other fields are skipped without being
    materialised. A torn last line (interrupted write) is left out, as the store does.

    Raises:
        UsageError: a line is not valid JSON or a field has the wrong type.
    """
    keep = valid_prefix_length(path)
    schema = pa.schema(list(fields.items()))
    parse = pj.ParseOptions(
        explicit_schema=schema, unexpected_field_behavior="ignore", newlines_in_values=False
    )
    opts = pj.ReadOptions(block_size=1 << 22, use_threads=True)
    read = 0
    carry = b""
    with path.open("rb") as f:
        while read < keep:
            chunk = f.read(min(block_bytes, keep - read))
            if not chunk:
                break
            read += len(chunk)
            data = carry + chunk
            cut = data.rfind(b"\n") + 1 if read < keep else len(data)
            carry = data[cut:]
            if cut == 0:
                continue
            try:
                yield pj.read_json(io.BytesIO(data[:cut]), read_options=opts, parse_options=parse)
            except pa.ArrowInvalid as e:
                msg = str(e).splitlines()[0]
                raise UsageError(f"{path}: unreadable JSON lines ({msg})") from None


@dataclass(frozen=True)
class VerdictColumns:
    """The verdicts of one verifier as flat arrays (one entry per verdict).

    Attributes:
        problem_ids: Distinct problem ids, in order of first appearance.
        problem: Index into ``problem_ids`` of each verdict.
        sample_index: Sample index of each verdict.
        correct: Judged correct.
        score: Verifier score (NaN where the verifier gave none).
        class_id: Answer class within its problem (-1 where none).
        statuses: Distinct verdict statuses (passed, failed, timeout, ...).
        status: Index into ``statuses`` of each verdict (empty when not read).
        run: How each verdict was judged: ``NOT_RECORDED`` (the verifier does not share
            runs), ``OWN_RUN`` or ``SHARED_RUN`` (with an identical program's run);
            empty when not read.
    """

    problem_ids: list[str]
    problem: npt.NDArray[np.int32]
    sample_index: IntArray
    correct: npt.NDArray[np.bool_]
    score: npt.NDArray[np.float64]
    class_id: IntArray
    statuses: list[str] = field(default_factory=list)
    status: npt.NDArray[np.int32] = field(default_factory=lambda: np.zeros(0, np.int32))
    run: npt.NDArray[np.int8] = field(default_factory=lambda: np.zeros(0, np.int8))

    def __len__(self) -> int:
        return int(self.problem.size)

    @property
    def has_scores(self) -> bool:
        return bool(self.score.size) and not bool(np.isnan(self.score).all())

    @property
    def has_classes(self) -> bool:
        return bool(self.class_id.size) and bool((self.class_id >= 0).any())

    def counts(self, max_index: int | None = None) -> tuple[IntArray, IntArray]:
        """Samples ``n`` and correct ``c`` per problem (in ``problem_ids`` order).

        Args:
            max_index: Count only samples with ``sample_index < max_index`` (the first
                samples drawn, as if the run had stopped there).
        """
        keep = slice(None) if max_index is None else self.sample_index < max_index
        prob = self.problem[keep]
        size = len(self.problem_ids)
        n = np.bincount(prob, minlength=size).astype(np.int64)
        c = np.bincount(prob, weights=self.correct[keep], minlength=size)
        return n, np.rint(c).astype(np.int64)

    def status_counts(self) -> dict[str, int]:
        """How many verdicts have each status (most common first)."""
        counts = np.bincount(self.status, minlength=len(self.statuses))
        order = np.argsort(-counts, kind="stable")
        return {self.statuses[i]: int(counts[i]) for i in order if counts[i]}

    def duplicates(self) -> dict[str, Any] | None:
        """Verdicts judged with another sample's run: counts and rate (None when the
        verifier records no ``judged_with``)."""
        recorded = int((self.run != NOT_RECORDED).sum()) if self.run.size else 0
        if not recorded:
            return None
        shared = int((self.run == SHARED_RUN).sum())
        return {
            "samples": recorded,
            "shared": shared,
            "runs": recorded - shared,
            "rate": shared / recorded,
        }

    def shared_by_problem(self) -> IntArray:
        """Verdicts judged with another sample's run, in each problem."""
        size = len(self.problem_ids)
        if not self.run.size:
            return np.zeros(size, np.int64)
        return np.bincount(self.problem[self.run == SHARED_RUN], minlength=size).astype(np.int64)

    def status_by_problem(self) -> dict[str, IntArray]:
        """Per status, its count in each problem (in ``problem_ids`` order)."""
        size = len(self.problem_ids)
        return {
            name: np.bincount(self.problem[self.status == code], minlength=size).astype(np.int64)
            for code, name in enumerate(self.statuses)
        }

    def take(self, index: npt.NDArray[np.intp] | npt.NDArray[np.bool_]) -> VerdictColumns:
        """The verdicts at ``index`` (positions or a mask), every per-verdict array alike."""
        return replace(
            self,
            problem=self.problem[index],
            sample_index=self.sample_index[index],
            correct=self.correct[index],
            score=self.score[index],
            class_id=self.class_id[index],
            status=self.status[index] if self.status.size else self.status,
            run=self.run[index] if self.run.size else self.run,
        )

    def sorted_by_problem(self) -> VerdictColumns:
        """The same verdicts ordered by (problem, sample_index)."""
        return self.take(np.lexsort((self.sample_index, self.problem)))


def unique_rows(
    problem: npt.NDArray[np.int32], sample_index: IntArray, groups: int, keep: str
) -> npt.NDArray[np.intp] | None:
    """Positions of one row per (problem, sample index): the first or the last of each.

    Returns None when there is no repeated pair (the usual case, decided cheaply).
    """
    if not problem.size:
        return None
    width = int(sample_index.max()) + 1
    key = problem.astype(np.int64) * width + sample_index
    # Dense keys: one bincount tells whether there is any duplicate at all.
    dense = groups * width <= 4 * problem.size + 1024
    if dense and int(np.bincount(key).max()) <= 1:
        return None
    if keep == "first":
        _, first = np.unique(key, return_index=True)
        return None if first.size == key.size else np.sort(first)
    _, first_in_reversed = np.unique(key[::-1], return_index=True)
    if first_in_reversed.size == key.size:
        return None
    return np.sort(key.size - 1 - first_in_reversed)


def _dedup_last(cols: VerdictColumns, path: Path) -> VerdictColumns:
    """Keep the last verdict of each (problem, sample) pair, saying so when there are two."""
    keep = unique_rows(cols.problem, cols.sample_index, len(cols.problem_ids), "last")
    if keep is None:
        return cols
    warn_duplicates(path, len(cols) - keep.size, "last")
    return cols.take(keep)


def read_verdict_columns(path: Path) -> VerdictColumns:
    """Read a ``verdicts/<verifier>.jsonl`` file as columns (see :class:`VerdictColumns`).

    Raises:
        UsageError: the file is missing, unreadable, or lacks ``problem_id`` / ``correct``.
    """
    if not path.is_file():
        raise UsageError(f"{path}: no such verdicts file")
    codes: dict[str, int] = {}
    status_codes: dict[str, int] = {}
    parts: dict[str, list[np.ndarray]] = {k: [] for k in VERDICT_FIELDS}
    for table in iter_jsonl_blocks(path, VERDICT_FIELDS):
        for name in ("problem_id", "sample_index", "correct"):
            if table.column(name).null_count:
                raise UsageError(f"{path}: some verdicts lack {name!r}")
        parts["problem_id"].append(_encode(table.column("problem_id"), codes))
        status = pc.fill_null(table.column("status"), "unknown")
        parts["status"].append(_encode(status, status_codes))
        parts["sample_index"].append(table.column("sample_index").to_numpy())
        parts["correct"].append(table.column("correct").to_numpy(zero_copy_only=False))
        score = table.column("score").to_numpy(zero_copy_only=False)
        parts["score"].append(np.asarray(score, dtype=np.float64))
        cls = pc.fill_null(table.column("class_id"), -1)
        parts["class_id"].append(cls.to_numpy())
        parts["judged_with"].append(_run_codes(table))

    def cat(name: str, dtype: npt.DTypeLike) -> np.ndarray:
        got = parts[name]
        return np.concatenate(got).astype(dtype, copy=False) if got else np.zeros(0, dtype)

    cols = VerdictColumns(
        problem_ids=list(codes),
        problem=cat("problem_id", np.int32),
        sample_index=cat("sample_index", np.int64),
        correct=cat("correct", np.bool_),
        score=cat("score", np.float64),
        class_id=cat("class_id", np.int64),
        statuses=list(status_codes),
        status=cat("status", np.int32),
        run=cat("judged_with", np.int8),
    )
    return _dedup_last(cols, path)


def _run_codes(table: pa.Table) -> npt.NDArray[np.int8]:
    """NOT_RECORDED / OWN_RUN / SHARED_RUN of each verdict (see ``VerdictColumns.run``)."""
    judged_with = table.column("judged_with")
    if judged_with.null_count == len(judged_with):
        return np.zeros(len(judged_with), np.int8)
    own = pc.equal(judged_with, table.column("sample_index"))
    codes = pc.if_else(own, OWN_RUN, SHARED_RUN)
    return np.asarray(pc.fill_null(codes, NOT_RECORDED).to_numpy(zero_copy_only=False), np.int8)


def _encode(column: pa.ChunkedArray, codes: dict[str, int]) -> npt.NDArray[np.int32]:
    """Strings as small integers, numbered in order of first appearance across blocks."""
    enc = pc.dictionary_encode(column.combine_chunks())
    local = [codes.setdefault(s, len(codes)) for s in enc.dictionary.to_pylist()]
    mapping = np.asarray(local, dtype=np.int32)
    return np.asarray(mapping[enc.indices.to_numpy(zero_copy_only=False)], dtype=np.int32)


@dataclass(frozen=True)
class TokenCounts:
    """One row per sample of ``samples.jsonl`` (each (problem, index) once), problems as
    codes: token counts, and whether the sample stopped at the token limit."""

    problem_ids: list[str]
    problem: npt.NDArray[np.int32]
    prompt_tokens: IntArray
    completion_tokens: IntArray
    sample_index: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))
    truncated: npt.NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, np.bool_))

    def __len__(self) -> int:
        return int(self.problem.size)


def read_token_counts(path: Path) -> TokenCounts:
    """Tokens and finish reasons of every sample, without reading the texts into Python.

    A (problem, index) that appears twice is counted once (the first line), with a warning.
    """
    codes: dict[str, int] = {}
    parts: dict[str, list[np.ndarray]] = {k: [] for k in SAMPLE_FIELDS}
    if path.is_file():
        for table in iter_jsonl_blocks(path, SAMPLE_FIELDS):
            parts["problem_id"].append(_encode(table.column("problem_id"), codes))
            parts["sample_index"].append(pc.fill_null(table.column("sample_index"), 0).to_numpy())
            for name in ("prompt_tokens", "completion_tokens"):
                parts[name].append(pc.fill_null(table.column(name), 0).to_numpy())
            length = pc.equal(pc.fill_null(table.column("finish_reason"), ""), "length")
            parts["finish_reason"].append(length.to_numpy(zero_copy_only=False))

    def cat(name: str, dtype: npt.DTypeLike) -> np.ndarray:
        got = parts[name]
        return np.concatenate(got).astype(dtype, copy=False) if got else np.zeros(0, dtype)

    counts = TokenCounts(
        problem_ids=list(codes),
        problem=cat("problem_id", np.int32),
        prompt_tokens=cat("prompt_tokens", np.int64),
        completion_tokens=cat("completion_tokens", np.int64),
        sample_index=cat("sample_index", np.int64),
        truncated=cat("finish_reason", np.bool_),
    )
    keep = unique_rows(counts.problem, counts.sample_index, len(codes), "first")
    if keep is None:
        return counts
    warn_duplicates(path, len(counts) - keep.size, "first")
    return TokenCounts(
        counts.problem_ids,
        counts.problem[keep],
        counts.prompt_tokens[keep],
        counts.completion_tokens[keep],
        counts.sample_index[keep],
        counts.truncated[keep],
    )
