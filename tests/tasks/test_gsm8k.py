"""The gsm8k task: local files through datasets, references, few-shot prompts."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from harness.core.errors import UsageError
from harness.core.task import get_task
from tasks.gsm8k import reference_answer

ROWS = [
    {"question": "Tom has 3 apples and buys 2. How many?", "answer": "3+2=<<3+2=5>>5\n#### 5"},
    {"question": "A car costs $1,200 more than $1,000. Price?", "answer": "x\n#### 2,200"},
    {"question": "Temperature drops from 3 to -4. Change?", "answer": "y\n#### -7"},
]
TRAIN = [{"question": f"Train question {i}?", "answer": f"Work.\n#### {i}"} for i in range(20)]


@pytest.fixture(autouse=True)
def no_hub(monkeypatch: pytest.MonkeyPatch) -> None:
    """The hub is unreachable in these tests, wherever they run."""
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)


def _write(path: Path, rows: list[dict[str, str]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_reference_answer() -> None:
    assert reference_answer("a\n#### 1,450,000") == "1450000"
    assert reference_answer("#### -3.50") == "-3.5"
    assert reference_answer("42") == "42"
    assert reference_answer("no final answer") is None


def test_local_file_problems_and_builtin_fallback(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = _write(tmp_path / "test.jsonl", ROWS)
    task = get_task("gsm8k", data_file=data, options={"shots": "2"})
    with caplog.at_level(logging.WARNING):
        problems = task.load()
    assert [p.id for p in problems] == ["0", "1", "2"]
    assert [p.reference for p in problems] == ["5", "2200", "-7"]
    assert task.record()["fewshot_source"] == "builtin (train split unavailable)"
    assert "built-in exemplars" in caplog.text
    prompt = problems[0].prompt
    assert prompt.startswith("Question: There are 15 trees")
    assert prompt.count("Question:") == 3 and prompt.endswith(
        f"Question: {ROWS[0]['question']}\nAnswer:"
    )
    # Built-in exemplars are fixed: every problem shares the prompt prefix.
    assert problems[1].prompt.split("Question: A car")[0] == prompt.split("Question: Tom")[0]
    messages = problems[0].messages
    assert messages is not None and [m["role"] for m in messages] == ["user", "assistant"] * 2 + [
        "user"
    ]
    assert messages[-1]["content"].endswith(ROWS[0]["question"])
    assert task.default_verifier == "math"


def test_fewshot_from_a_train_file_is_random_but_deterministic(tmp_path: Path) -> None:
    data = _write(tmp_path / "test.jsonl", ROWS)
    train = _write(tmp_path / "train.jsonl", TRAIN)
    opts = {"shots": "3", "fewshot": str(train)}

    def prompts(seed: int) -> list[str]:
        return [p.prompt for p in get_task("gsm8k", data_file=data, seed=seed, options=opts).load()]

    first = prompts(0)
    assert first == prompts(0)
    assert first != prompts(1)
    assert (
        len(
            {p.split("Question: Tom")[0] for p in first[:1]}
            | {first[1].split("Question: A car")[0]}
        )
        == 2
    )
    assert all(p.count("Train question") == 3 for p in first)
    record = get_task("gsm8k", data_file=data, options=opts).record()
    assert record["fewshot_source"] == f"file:{train}"


def test_zero_shot_and_bad_options(tmp_path: Path) -> None:
    data = _write(tmp_path / "test.jsonl", ROWS)
    p = get_task("gsm8k", data_file=data, options={"shots": "0", "fewshot": "builtin"}).load()[0]
    assert p.prompt == f"Question: {ROWS[0]['question']}\nAnswer:"
    with pytest.raises(UsageError, match="shots must be 0-8"):
        get_task("gsm8k", data_file=data, options={"shots": "9", "fewshot": "builtin"}).load()
    with pytest.raises(UsageError, match="fewshot must be"):
        get_task("gsm8k", data_file=data, options={"fewshot": "nowhere"}).load()
    with pytest.raises(UsageError, match="cannot download openai/gsm8k"):
        get_task("gsm8k", data_file=data, options={"fewshot": "hub"}).load()


def test_hub_default_fails_with_one_line_hint() -> None:
    with pytest.raises(UsageError, match="pass --data-file PATH") as err:
        get_task("gsm8k").load()
    assert "\n" not in str(err.value)


def test_malformed_rows_name_file_and_line(tmp_path: Path) -> None:
    missing = _write(tmp_path / "missing.jsonl", [ROWS[0], {"question": "no answer"}])
    with pytest.raises(UsageError, match=rf"^{missing}:2: field 'answer' is missing"):
        get_task("gsm8k", data_file=missing).load()
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(ROWS[0]) + "\n{oops\n")
    with pytest.raises(UsageError, match=rf"^{bad}:2: not a valid JSON line"):
        get_task("gsm8k", data_file=bad).load()
    no_final = _write(tmp_path / "nofinal.jsonl", [{"question": "q", "answer": "just words"}])
    with pytest.raises(UsageError, match=rf"^{no_final}:1: 'answer' does not end in '#### N'"):
        get_task("gsm8k", data_file=no_final).load()


def test_shared_gsm8k_test_split(shared_data: Path) -> None:
    task = get_task("gsm8k", data_file=shared_data / "gsm8k" / "test.jsonl")
    problems = task.load()
    assert len(problems) == 1319 and problems[0].reference == "18"
    assert all(p.reference is not None for p in problems)
