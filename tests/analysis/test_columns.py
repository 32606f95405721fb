"""Verdict and sample files read as columns: torn lines, re-judged samples, bad input."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from harness.core.columns import read_token_counts, read_verdict_columns
from harness.core.errors import UsageError


def write(path: Path, rows: list[dict[str, object]], tail: str = "") -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + tail)
    return path


def verdict(pid: str, i: int, ok: bool, **extra: object) -> dict[str, object]:
    return {
        "problem_id": pid,
        "sample_index": i,
        "correct": ok,
        "status": "x",
        "answer": "1",
        "detail": {"big": [1, 2]},
        **extra,
    }


def test_counts_scores_and_classes(tmp_path: Path) -> None:
    rows = [
        verdict("b", 0, True, score=0.5, class_id=0),
        verdict("a", 0, False),
        verdict("b", 1, False, class_id=1),
        verdict("a", 1, True, score=None),
    ]
    cols = read_verdict_columns(write(tmp_path / "v.jsonl", rows))
    assert cols.problem_ids == ["b", "a"]
    n, c = cols.counts()
    assert n.tolist() == [2, 2] and c.tolist() == [1, 1]
    assert cols.has_scores and cols.has_classes
    assert np.isnan(cols.score[1]) and cols.class_id.tolist() == [0, -1, 1, -1]
    n1, c1 = cols.counts(max_index=1)
    assert n1.tolist() == [1, 1] and c1.tolist() == [1, 0]


def test_small_blocks_give_the_same_columns(tmp_path: Path) -> None:
    from harness.core import columns

    rows = [verdict(f"p{i % 7}", i // 7, i % 3 == 0) for i in range(500)]
    path = write(tmp_path / "v.jsonl", rows)
    whole = read_verdict_columns(path)
    original = columns.BLOCK_BYTES
    try:
        columns.BLOCK_BYTES = 1000
        parts = list(columns.iter_jsonl_blocks(path, columns.VERDICT_FIELDS, 1000))
    finally:
        columns.BLOCK_BYTES = original
    assert len(parts) > 5
    assert sum(p.num_rows for p in parts) == 500 == len(whole)


def test_rejudged_sample_keeps_last_verdict(tmp_path: Path) -> None:
    rows = [verdict("a", 0, False), verdict("a", 1, False), verdict("a", 0, True)]
    cols = read_verdict_columns(write(tmp_path / "v.jsonl", rows))
    assert len(cols) == 2
    assert cols.counts()[1].tolist() == [1]


def test_statuses_across_blocks_after_rejudging(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from harness.core import columns

    names = ["passed", "failed", "timeout", "error"]
    rows = [verdict(f"p{i % 3}", i // 3, i % 4 == 0, status=names[i % 4]) for i in range(120)]
    rows.append(verdict("p0", 0, False, status="timeout"))  # p0/0 re-judged: passed -> timeout
    rows.append({k: v for k, v in verdict("p1", 99, False).items() if k != "status"})
    monkeypatch.setattr(columns, "BLOCK_BYTES", 700)  # statuses first met in later blocks
    cols = read_verdict_columns(write(tmp_path / "v.jsonl", rows))
    assert cols.status_counts() == {
        "failed": 30,
        "timeout": 31,
        "error": 30,
        "passed": 29,
        "unknown": 1,
    }
    by_problem = cols.status_by_problem()
    assert by_problem["passed"].tolist() == [9, 10, 10]  # p0 lost one to the re-judging
    assert sum(int(v.sum()) for v in by_problem.values()) == len(cols) == 121
    assert cols.sorted_by_problem().status_counts() == cols.status_counts()


def test_torn_last_line_is_ignored(tmp_path: Path) -> None:
    path = write(tmp_path / "v.jsonl", [verdict("a", 0, True)], tail='{"problem_id": "a", "sam')
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cols = read_verdict_columns(path)
    assert len(cols) == 1


def test_bad_files_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such"):
        read_verdict_columns(tmp_path / "none.jsonl")
    path = write(tmp_path / "v.jsonl", [{"problem_id": "a", "sample_index": 0}])
    with pytest.raises(UsageError, match="correct"):
        read_verdict_columns(path)
    bad = tmp_path / "bad.jsonl"
    good = '{"problem_id": "a", "sample_index": 0, "correct": true}\n'
    bad.write_text(good + "not json\n" + good)
    with pytest.raises(UsageError, match="unreadable"):
        read_verdict_columns(bad)


def test_token_counts(tmp_path: Path) -> None:
    rows = [
        {
            "problem_id": "a",
            "sample_index": 0,
            "text": "x" * 50,
            "prompt_tokens": 9,
            "completion_tokens": 3,
        },
        {"problem_id": "a", "sample_index": 1, "text": "y"},
    ]
    counts = read_token_counts(write(tmp_path / "s.jsonl", rows))
    assert counts.prompt_tokens.tolist() == [9, 0]
    assert counts.completion_tokens.tolist() == [3, 0]
    assert read_token_counts(tmp_path / "missing.jsonl").problem.size == 0
