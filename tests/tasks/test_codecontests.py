"""The codecontests task: CodeContests, APPS and LiveCodeBench rows from local files, its
options, the hub fallback, and bad data refused in one line before anything is written."""

from __future__ import annotations

import base64
import json
import pickle
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from harness.core.errors import UsageError
from harness.core.records import Problem
from harness.core.task import get_task
from tasks.codecontests import INSTRUCTION
from tests.verifiers.contest_problems import MOVES, PROBLEMS, RANGE_SUMS

ROOT = Path(__file__).resolve().parents[2]


pytestmark = pytest.mark.usefixtures("no_hub")  # (tests/tasks/conftest.py)


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def rows() -> list[dict[str, Any]]:
    return [p.row() for p in PROBLEMS]


def load(path: Path, **options: str) -> list[Problem]:
    return get_task("codecontests", data_file=path, options=options).load()


def test_codecontests_rows_become_stdio_problems(
    tmp_path: Path, rows: list[dict[str, Any]]
) -> None:
    problems = load(write_jsonl(tmp_path / "cc.jsonl", rows))
    assert [p.id for p in problems] == [p.name for p in PROBLEMS]
    first, row = problems[0], rows[0]
    tests = first.tests
    assert tests is not None and tests.format == "stdio" and tests.time_limit_s == 1.0
    sets = [t["set"] for t in tests.io_tests]
    assert sets == ["public"] * 1 + ["private"] * 3 + ["generated"] * 1
    assert [t["input"] for t in tests.io_tests] == (
        row["public_tests"]["input"]
        + row["private_tests"]["input"]
        + row["generated_tests"]["input"]
    )
    assert tests.io_tests[0]["output"] == "6\n2\n15\n"
    # The paper's prompt: two solved problems, then this one, each as Q: ... A:
    assert first.prompt.count(f"Q: {INSTRUCTION}") == 3
    assert first.prompt.endswith(f"{row['description']}\nA:")
    assert first.prompt.count("A: ```") == 2
    assert first.messages is not None and row["description"] in first.messages[0]["content"]
    assert "Python 3" in first.messages[0]["content"]
    assert first.reference == RANGE_SUMS.programs["correct"]  # the first Python 3 solution
    assert first.metadata["tests"] == {"public": 1, "private": 3, "generated": 1}
    assert first.metadata["memory_limit_mb"] == 256 and first.metadata["num_tests"] == 5
    # problems.jsonl keeps the tests: a Problem survives its own JSON.
    assert Problem.from_dict(json.loads(json.dumps(first.to_dict()))) == first


def test_parquet_with_the_datasets_own_struct_columns(
    tmp_path: Path, rows: list[dict[str, Any]]
) -> None:
    path = tmp_path / "cc.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    from_parquet = load(path)
    assert from_parquet == load(write_jsonl(tmp_path / "cc.jsonl", rows))


def test_options_choose_tests_and_shots(tmp_path: Path, rows: list[dict[str, Any]]) -> None:
    path = write_jsonl(tmp_path / "cc.jsonl", rows)
    public = load(path, tests="public")[0]
    assert public.tests is not None and [t["set"] for t in public.tests.io_tests] == ["public"]
    capped = load(path, max_tests="2")[0]
    assert capped.tests is not None and len(capped.tests.io_tests) == 2
    zero = load(path, shots="0")[0]
    assert zero.prompt.startswith(f"Q: {INSTRUCTION}\n{rows[0]['description']}")
    with pytest.raises(UsageError, match="tests='hidden'"):
        load(path, tests="hidden")
    with pytest.raises(UsageError, match="shots"):
        load(path, shots="3")
    images = [{**rows[1], "name": "pic", "description": "See <image> below."}, rows[0]]
    task = get_task("codecontests", data_file=write_jsonl(tmp_path / "img.jsonl", images))
    assert [p.id for p in task.load()] == [rows[0]["name"]]
    assert task.record()["skipped"] == {"images": 1}


def test_apps_rows_stdin_ones_kept_call_based_ones_skipped(tmp_path: Path) -> None:
    apps = [
        {
            "problem_id": 4000,
            "question": "Print the sum of two numbers.",
            "input_output": json.dumps({"inputs": ["1 2\n", "3 4\n"], "outputs": ["3\n", ["7"]]}),
            "solutions": json.dumps(["print(sum(map(int, input().split())))"]),
            "difficulty": "introductory",
            "url": "https://example.org/4000",
            "starter_code": "",
        },
        {
            "problem_id": 4001,
            "question": "Write add(a, b).",
            "input_output": json.dumps({"fn_name": "add", "inputs": [[1, 2]], "outputs": [3]}),
            "solutions": "[]",
            "difficulty": "introductory",
            "url": "",
            "starter_code": "def add(a, b):",
        },
    ]
    task = get_task("codecontests", data_file=write_jsonl(tmp_path / "apps.jsonl", apps))
    (problem,) = task.load()
    assert problem.id == "4000" and problem.tests is not None
    assert [(t["input"], t["output"]) for t in problem.tests.io_tests] == [
        ("1 2\n", "3\n"),
        ("3 4\n", "7"),
    ]
    assert problem.reference == "print(sum(map(int, input().split())))"
    assert problem.metadata["format"] == "apps" and task.record()["skipped"] == {"call_based": 1}


def _packed(cases: list[dict[str, str]]) -> str:
    return base64.b64encode(zlib.compress(pickle.dumps(json.dumps(cases)))).decode()


def test_livecodebench_rows_with_packed_private_tests(tmp_path: Path) -> None:
    public = [{"input": "2\n", "output": "4\n", "testtype": "stdin"}]
    private = [{"input": "5\n", "output": "25\n", "testtype": "stdin"}]
    lcb = [
        {
            "question_id": "abc301_a",
            "question_title": "Square",
            "question_content": "Print the square of N.",
            "platform": "atcoder",
            "contest_date": "2023-05-13T00:00:00",
            "difficulty": "easy",
            "starter_code": "",
            "public_test_cases": json.dumps(public),
            "private_test_cases": _packed(private),
            "metadata": "{}",
        },
        {
            "question_id": "lc1",
            "question_title": "Two Sum",
            "question_content": "Return indices.",
            "platform": "leetcode",
            "contest_date": "2023-05-13T00:00:00",
            "difficulty": "easy",
            "starter_code": "class Solution:",
            "public_test_cases": json.dumps(
                [{"input": "[1]", "output": "[0]", "testtype": "functional"}]
            ),
            "private_test_cases": "[]",
            "metadata": json.dumps({"func_name": "twoSum"}),
        },
    ]
    task = get_task("codecontests", data_file=write_jsonl(tmp_path / "lcb.jsonl", lcb))
    (problem,) = task.load()
    assert problem.tests is not None
    assert [(t["output"], t["set"]) for t in problem.tests.io_tests] == [
        ("4\n", "public"),
        ("25\n", "private"),
    ]
    assert problem.metadata["platform"] == "atcoder" and task.record()["skipped"] == {
        "call_based": 1
    }

    class Evil:
        def __reduce__(self) -> tuple[Any, ...]:
            return (print, ("unpickled!",))

    evil = base64.b64encode(zlib.compress(pickle.dumps(Evil()))).decode()
    bad = write_jsonl(tmp_path / "evil.jsonl", [{**lcb[0], "private_test_cases": evil}])
    with pytest.raises(UsageError, match="neither JSON nor packed tests"):
        load(bad)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda r: {
                **r,
                "public_tests": {"input": [], "output": []},
                "private_tests": {"input": [], "output": []},
                "generated_tests": {"input": [], "output": []},
            },
            "problem 'moves_to_divisibility' has no tests",
        ),
        (
            lambda r: {**r, "private_tests": {"input": ["1\n", "2\n"], "output": ["1\n"]}},
            "private_tests test 1 has an input but no output",
        ),
        (lambda r: {**r, "description": ""}, "field 'description' is empty"),
        (lambda r: {"title": "x", "body": "y"}, "expected CodeContests columns"),
    ],
)
def test_bad_rows_are_one_clear_error(tmp_path: Path, change: Any, message: str) -> None:
    path = write_jsonl(tmp_path / "bad.jsonl", [change(MOVES.row())])
    with pytest.raises(UsageError, match=message) as info:
        load(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_without_the_hub_one_line_asks_for_a_data_file() -> None:
    with pytest.raises(UsageError) as info:
        get_task("codecontests").load()
    message = str(info.value)
    assert "\n" not in message and "--data-file" in message and "deepmind/code_contests" in message


@pytest.mark.parametrize("problem", ["no_tests", "no_output"])
def test_bad_data_file_on_the_command_line_exits_2_and_writes_nothing(
    tmp_path: Path, problem: str
) -> None:
    row = MOVES.row()
    if problem == "no_tests":
        row = {
            **row,
            **{
                f"{s}_tests": {"input": [], "output": []}
                for s in ("public", "private", "generated")
            },
        }
    else:
        row = {**row, "public_tests": {"input": ["3\n1 2\n"], "output": []}}
    data = write_jsonl(tmp_path / "bad.jsonl", [row])
    out = tmp_path / "run"
    cmd = [
        sys.executable,
        "-m",
        "harness",
        "run",
        "--task",
        "codecontests",
        "--data-file",
        str(data),
    ]
    cmd += ["--backend", "scripted", "-n", "8", "--out", str(out)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    lines = [x for x in proc.stderr.splitlines() if x.strip()]
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert lines[0].startswith("harness: error: ") and str(data) in lines[0]
    assert ("has no tests" if problem == "no_tests" else "has an input but no output") in lines[0]
    assert not out.exists()
