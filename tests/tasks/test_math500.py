"""The math500 task: ids, references, metadata and the Minerva prompt."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.core.errors import UsageError
from harness.core.task import get_task

ROWS = [
    {
        "problem": "What is $1+1$?",
        "solution": "$\\boxed{2}$",
        "answer": "2",
        "subject": "Algebra",
        "level": 1,
        "unique_id": "test/algebra/1.json",
    },
    {
        "problem": "Find $x$.",
        "solution": "$\\boxed{\\frac12}$",
        "answer": "\\frac{1}{2}",
        "subject": "Algebra",
        "level": 3,
        "unique_id": "test/algebra/2.json",
    },
]


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_local_file_problems(tmp_path: Path) -> None:
    task = get_task("math500", data_file=_write(tmp_path / "m.jsonl", ROWS))
    problems = task.load()
    assert [p.id for p in problems] == ["test/algebra/1.json", "test/algebra/2.json"]
    assert [p.reference for p in problems] == ["2", "\\frac{1}{2}"]
    assert problems[1].metadata == {"subject": "Algebra", "level": 3}
    prompt = problems[0].prompt
    assert prompt.startswith("Problem:\nFind the domain of the expression")
    assert prompt.count("Problem:") == 5 and prompt.count("Final Answer: The final answer is") == 4
    assert prompt.endswith("Problem:\nWhat is $1+1$?\n\nSolution:")
    assert problems[0].messages is not None and len(problems[0].messages) == 9
    assert task.default_verifier == "math"


def test_shots_option_and_ids_without_unique_id(tmp_path: Path) -> None:
    rows = [{k: v for k, v in r.items() if k != "unique_id"} for r in ROWS]
    problems = get_task(
        "math500", data_file=_write(tmp_path / "m.jsonl", rows), options={"shots": "1"}
    ).load()
    assert [p.id for p in problems] == ["0", "1"]
    assert problems[0].prompt.count("Problem:") == 2
    with pytest.raises(UsageError, match="shots must be 0-4"):
        get_task("math500", data_file=tmp_path / "m.jsonl", options={"shots": "5"}).load()


def test_malformed_rows(tmp_path: Path) -> None:
    path = _write(tmp_path / "m.jsonl", [ROWS[0], {"problem": "p", "unique_id": "u"}])
    with pytest.raises(UsageError, match=rf"^{path}:2: field 'answer' is missing"):
        get_task("math500", data_file=path).load()
    dup = _write(tmp_path / "d.jsonl", [ROWS[0], ROWS[0]])
    with pytest.raises(UsageError, match=rf"^{dup}:2: duplicate unique_id"):
        get_task("math500", data_file=dup).load()


def test_hub_default_fails_with_one_line_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    with pytest.raises(UsageError, match=r"HuggingFaceH4/MATH-500.*pass --data-file PATH"):
        get_task("math500").load()


def test_shared_math500(shared_data: Path) -> None:
    problems = get_task("math500", data_file=shared_data / "math500" / "test.jsonl").load()
    assert len(problems) == 500 and len({p.id for p in problems}) == 500
    assert problems[0].id == "test/precalculus/807.json"
    assert {p.metadata["level"] for p in problems} == {1, 2, 3, 4, 5}
