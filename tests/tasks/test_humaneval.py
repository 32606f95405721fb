"""The humaneval task: the package's 164 problems with structured tests, and --data-file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.core.errors import UsageError
from harness.core.manifest import dataset_hash
from harness.core.task import TASKS, get_task
from harness.core.values import decode


def test_loads_all_164_problems_with_structured_tests() -> None:
    assert "humaneval" in TASKS
    task = get_task("humaneval")
    assert task.default_verifier == "unit_tests"
    problems = task.load()
    assert len(problems) == 164
    assert problems[0].id == "HumanEval/0" and problems[163].id == "HumanEval/163"
    p = problems[0]
    assert p.prompt.startswith("from typing import List") and p.prompt.endswith('"""\n')
    assert p.reference and "return" in p.reference
    assert p.messages and "```python\n" + p.prompt in p.messages[0]["content"]
    tests = p.tests
    assert tests is not None
    assert tests.entry_point == "has_close_elements" == p.metadata["entry_point"]
    assert "def check(candidate)" in tests.test_code and tests.prompt_code == p.prompt
    assert tests.complete and len(tests.cases) == 7
    first = tests.cases[0]
    assert first["compare"] == "eq"
    assert decode(first["input"]) == [[1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.3]
    assert decode(first["expected"]) is True
    structured = sum(bool(q.tests and q.tests.complete) for q in problems)
    assert structured >= 150  # the rest (random inputs, loops) run their original code
    assert dataset_hash(problems) == dataset_hash(get_task("humaneval").load())
    assert "\ndef" in task.stop  # type: ignore[attr-defined]


def test_data_file_in_the_same_format(tmp_path: Path) -> None:
    row = {
        "task_id": "Mine/0",
        "prompt": "def double(x):\n",
        "entry_point": "double",
        "canonical_solution": "    return 2 * x\n",
        "test": "def check(candidate):\n    assert candidate(2) == 4\n",
    }
    path = tmp_path / "mine.jsonl"
    path.write_text(json.dumps(row) + "\n" + json.dumps({**row, "task_id": "Mine/1"}) + "\n")
    problems = get_task("humaneval", data_file=path).load()
    assert [p.id for p in problems] == ["Mine/0", "Mine/1"]
    assert problems[0].tests is not None and problems[0].tests.complete
    path.write_text(json.dumps(row) + "\n" + json.dumps(row) + "\n")
    with pytest.raises(UsageError, match="duplicate task_id"):
        get_task("humaneval", data_file=path).load()
    path.write_text(json.dumps({k: v for k, v in row.items() if k != "test"}) + "\n")
    with pytest.raises(UsageError, match="field 'test' is missing"):
        get_task("humaneval", data_file=path).load()
