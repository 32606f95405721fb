"""The columnar copy of a JSONL file: used when current, extended when lines are appended,
rebuilt when the file changed, never trusted over the file."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest

from harness.core import colcache, columns
from harness.core.coltypes import VerdictColumns
from harness.core.columns import read_token_counts, read_verdict_columns


def verdict(pid: str, i: int, ok: bool, status: str = "") -> dict[str, object]:
    return {
        "problem_id": pid,
        "sample_index": i,
        "correct": ok,
        "status": status or ("passed" if ok else "failed"),
        "class_id": i % 3,
        "score": i / 10,
    }


def write(path: Path, rows: list[dict[str, object]], mode: str = "w") -> Path:
    with path.open(mode) as f:
        f.write("".join(json.dumps(r) + "\n" for r in rows))
    return path


def age(path: Path, seconds: float = 30.0) -> None:
    """Date the file back, so a copy made now is not 'racy' (see colcache)."""
    when = time.time() - seconds
    os.utime(path, (when, when))


def same(a: VerdictColumns, b: VerdictColumns) -> None:
    assert a.problem_ids == b.problem_ids and a.statuses == b.statuses
    for name in ("problem", "sample_index", "correct", "class_id", "status"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    np.testing.assert_allclose(a.score, b.score)


class Parses:
    """Counts the JSONL blocks parsed, and from which byte offset."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.starts: list[int] = []
        real = columns.iter_jsonl_blocks

        def spy(path, fields, block_bytes=columns.BLOCK_BYTES, start=0, keep=None):  # type: ignore[no-untyped-def]
            self.starts.append(start)
            return real(path, fields, block_bytes, start=start, keep=keep)

        monkeypatch.setattr(columns, "iter_jsonl_blocks", spy)


def test_copy_is_used_then_extended_then_rebuilt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [verdict(f"p{i % 4}", i // 4, i % 3 == 0) for i in range(40)]
    path = write(tmp_path / "v.jsonl", rows)
    age(path)
    parses = Parses(monkeypatch)
    first = read_verdict_columns(path)
    assert colcache.cache_path(path, "verdicts").is_file() and parses.starts == [0]
    again = read_verdict_columns(path)
    assert parses.starts == [0]  # read from the copy: nothing parsed
    same(first, again)
    # Lines appended (a new problem and a new status among them): only they are parsed.
    size = path.stat().st_size
    write(path, [verdict("p9", 0, True), verdict("p0", 99, False, "timeout")], mode="a")
    age(path)
    grown = read_verdict_columns(path)
    assert parses.starts == [0, size]
    same(grown, read_verdict_columns(path, cache=False))
    assert grown.problem_ids[-1] == "p9" and "timeout" in grown.statuses
    # The file rewritten with other content: parsed whole again.
    path.write_text(path.read_text().replace('"correct": true', '"correct": false'))
    age(path)
    rebuilt = read_verdict_columns(path)
    assert parses.starts[-1] == 0
    same(rebuilt, read_verdict_columns(path, cache=False))
    assert not rebuilt.correct.any()


def test_a_copy_made_right_after_a_write_is_not_trusted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path / "v.jsonl", [verdict("a", i, True) for i in range(5)])
    parses = Parses(monkeypatch)
    read_verdict_columns(path)  # the file was written a moment ago: a racy copy
    # A same-size rewrite in the same clock tick keeps size and (coarse) mtime.
    st = path.stat()
    path.write_text(path.read_text().replace('"passed"', '"failed"'))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_size == st.st_size
    got = read_verdict_columns(path)
    assert parses.starts == [0, 0] and got.statuses == ["failed"]


def test_foreign_or_torn_copy_is_ignored_and_unwritable_dir_still_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path / "v.jsonl", [verdict("a", i, i % 2 == 0) for i in range(6)])
    age(path)
    colcache.cache_path(path, "verdicts").write_bytes(b"PAR1 torn")
    want = read_verdict_columns(path, cache=False)
    same(read_verdict_columns(path), want)  # the bad copy is replaced
    same(read_verdict_columns(path), want)
    monkeypatch.setattr(colcache.pq, "write_table", _refuse)
    colcache.cache_path(path, "verdicts").unlink()
    same(read_verdict_columns(path), want)
    assert not colcache.cache_path(path, "verdicts").exists()
    assert not list(tmp_path.glob("*.tmp"))


def _refuse(*args: object, **kwargs: object) -> None:
    raise PermissionError("read-only")


def test_samples_copy_keeps_token_counts_and_logprobs(tmp_path: Path) -> None:
    rows = [
        {"problem_id": "a", "sample_index": 0, "text": "x", "completion_tokens": 4},
        {
            "problem_id": "a",
            "sample_index": 1,
            "text": "y",
            "completion_tokens": 6,
            "finish_reason": "length",
            "mean_logprob": -0.7,
        },
    ]
    path = write(tmp_path / "samples.jsonl", rows)
    age(path)
    first = read_token_counts(path)
    assert colcache.cache_path(path, "samples").is_file()
    again = read_token_counts(path)
    for got in (first, again):
        assert got.completion_tokens.tolist() == [4, 6] and got.truncated.tolist() == [False, True]
        assert np.isnan(got.mean_logprob[0]) and got.mean_logprob[1] == -0.7
        assert got.has_logprobs


def test_the_copy_remembers_repeated_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [verdict("a", 0, False), verdict("a", 1, False), verdict("a", 0, True)]
    path = write(tmp_path / "v.jsonl", rows)
    age(path)
    parses = Parses(monkeypatch)
    with pytest.warns(UserWarning, match="repeat"):
        first = read_verdict_columns(path)
    with pytest.warns(UserWarning, match="repeat"):
        again = read_verdict_columns(path)  # from the copy, the same row kept
    assert parses.starts == [0] and len(first) == len(again) == 2
    assert again.counts()[1].tolist() == [1]
