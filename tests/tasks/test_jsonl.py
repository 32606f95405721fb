"""The jsonl task: field mapping, verifier choice, prompt template, malformed rows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.core.errors import UsageError
from harness.core.task import get_task

ROWS: list[dict[str, Any]] = [
    {"q": "What is 6 times 7?", "sol": "6*7 = 42\n#### 42", "key": "a", "topic": "mult"},
    {"q": "Half of 1?", "sol": "It is $\\boxed{\\frac{1}{2}}$.", "key": "b", "topic": "frac"},
    {"q": "One thousand?", "sol": 1000, "key": "c", "topic": "big"},
]
FIELDS = {"question": "q", "answer": "sol", "id": "key"}


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_field_mapping_and_references(tmp_path: Path) -> None:
    data = _write(tmp_path / "mine.jsonl", ROWS)
    task = get_task("jsonl", data_file=data, options=FIELDS)
    problems = task.load()
    assert [p.id for p in problems] == ["a", "b", "c"]
    assert [p.reference for p in problems] == ["42", "\\frac{1}{2}", "1000"]
    assert problems[0].prompt == "Question: What is 6 times 7?\nAnswer:"
    assert problems[0].metadata == {"topic": "mult"}
    assert task.default_verifier == "math"


def test_verifier_option_and_template(tmp_path: Path) -> None:
    data = _write(tmp_path / "mine.jsonl", ROWS[:1] + ROWS[2:])
    opts = {
        **FIELDS,
        "verifier": "exact",
        "prompt": "[{topic}] Q: {question}\\nA:",
        "instruction": "Reply with a number.",
    }
    task = get_task("jsonl", data_file=data, options=opts)
    problems = task.load()
    assert task.default_verifier == "exact"
    assert problems[0].prompt == "[mult] Q: What is 6 times 7?\nA:"
    assert problems[0].messages == (
        {"role": "user", "content": "What is 6 times 7?\n\nReply with a number."},
    )
    with pytest.raises(UsageError, match="not a number"):
        get_task(
            "jsonl",
            data_file=_write(tmp_path / "f.jsonl", ROWS[1:2]),
            options={**FIELDS, "verifier": "exact"},
        ).load()
    with pytest.raises(UsageError, match="verifier must be one of"):
        get_task("jsonl", data_file=data, options={"verifier": "vibes"})


def test_default_ids_are_row_indices(tmp_path: Path) -> None:
    data = _write(tmp_path / "plain.jsonl", [{"question": "a", "answer": "1"}] * 2)
    assert [p.id for p in get_task("jsonl", data_file=data).load()] == ["0", "1"]


def test_errors_name_file_and_line(tmp_path: Path) -> None:
    missing = _write(tmp_path / "m.jsonl", [ROWS[0], {"q": "x", "key": "z"}])
    with pytest.raises(UsageError, match=rf"^{missing}:2: field 'sol' is missing"):
        get_task("jsonl", data_file=missing, options=FIELDS).load()
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(ROWS[0]) + "\n" + json.dumps(ROWS[1]) + "\nnot json\n")
    with pytest.raises(UsageError, match=rf"^{bad}:3: not a valid JSON line"):
        get_task("jsonl", data_file=bad, options=FIELDS).load()
    dup = _write(tmp_path / "dup.jsonl", [ROWS[0], ROWS[0]])
    with pytest.raises(UsageError, match=rf"^{dup}:2: duplicate id 'a'"):
        get_task("jsonl", data_file=dup, options=FIELDS).load()
    data = _write(tmp_path / "ok.jsonl", ROWS)
    with pytest.raises(UsageError, match="missing column 'nope'"):
        get_task("jsonl", data_file=data, options={**FIELDS, "prompt": "{nope}"}).load()
    with pytest.raises(UsageError, match="needs --data-file"):
        get_task("jsonl")
