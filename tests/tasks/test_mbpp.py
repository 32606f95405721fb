"""The mbpp task: MBPP-format files (sanitized and full layouts), the hub fallback, and the
canonical solutions judged in the sandbox (slow)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.core.errors import UsageError
from harness.core.records import Sample
from harness.core.task import get_task
from harness.ingest.samples import import_samples
from tasks.mbpp import entry_point
from verifiers.sandbox import SandboxUnavailable, probe
from verifiers.unit_tests import UnitTestVerifier

# Rows in the layout of the hub's `sanitized` config (and one in the `full` layout).
ROWS: list[dict[str, Any]] = [
    {
        "source_file": "mine.txt",
        "task_id": 11,
        "prompt": "Write a python function to remove first and last occurrence of a given "
        "character.",
        "code": "def remove_Occ(s,ch): \r\n    s = s.replace(ch, '', 1)\r\n    i = s.rfind(ch)\r\n"
        "    return s if i < 0 else s[:i] + s[i + 1:] ",
        "test_imports": [],
        "test_list": [
            'assert remove_Occ("hello","l") == "heo"',
            'assert remove_Occ("abcda","a") == "bcd"',
            'assert remove_Occ("PHP","P") == "H"',
        ],
    },
    {
        "source_file": "mine.txt",
        "task_id": 12,
        "prompt": "Write a function to find the area of a circle.",
        "code": "import math\ndef circle_area(r):\n    return math.pi * r * r",
        "test_imports": ["import math"],
        "test_list": [
            "assert math.isclose(circle_area(10), 314.1592653589793, rel_tol=0.001)",
            "assert set(str(circle_area(1))[:4]) == set('3.14')",
        ],
    },
    {
        "source_file": "mine.txt",
        "task_id": 13,
        "prompt": "Write a function to find the longest chain which can be formed from the given "
        "set of pairs.",
        "code": "class Pair(object):\n    def __init__(self, a, b):\n        self.a = a\n"
        "        self.b = b\n\ndef max_chain_length(arr, n):\n"
        "    arr = sorted(arr, key=lambda p: p.b)\n    count, end = 0, float('-inf')\n"
        "    for p in arr:\n        if p.a > end:\n            count += 1\n"
        "            end = p.b\n    return count",
        "test_imports": [],
        "test_list": [
            "assert max_chain_length([Pair(5, 24), Pair(15, 25),Pair(27, 40), Pair(50, 60)], 4) "
            "== 3",
            "assert max_chain_length([Pair(1, 2), Pair(3, 4),Pair(5, 6), Pair(7, 8)], 4) == 4",
        ],
    },
    {  # the `full` config's layout: `text` and `test_setup_code`
        "task_id": 14,
        "text": "Write a function to sort a list in reverse.",
        "code": "def rev_sort(xs):\n    return sorted(xs, reverse=True)",
        "test_setup_code": "",
        "test_list": ["assert rev_sort([1, 3, 2]) == [3, 2, 1]"],
        "challenge_test_list": [],
    },
]


@pytest.fixture(autouse=True)
def no_hub(monkeypatch: pytest.MonkeyPatch) -> None:
    """The hub is unreachable in these tests, wherever they run."""
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    path = tmp_path / "mbpp.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS), encoding="utf-8")
    return path


def test_without_the_hub_one_line_asks_for_a_data_file() -> None:
    with pytest.raises(UsageError) as info:
        get_task("mbpp").load()
    message = str(info.value)
    assert "\n" not in message and "--data-file" in message and "mbpp" in message


def test_problems_from_a_local_file(data_file: Path) -> None:
    task = get_task("mbpp", data_file=data_file)
    assert task.default_verifier == "unit_tests"
    problems = task.load()
    assert [p.id for p in problems] == ["11", "12", "13", "14"]
    assert [p.metadata["entry_point"] for p in problems] == [
        "remove_Occ",
        "circle_area",
        "max_chain_length",
        "rev_sort",
    ]
    first = problems[0]
    assert first.prompt.endswith('assert remove_Occ("PHP","P") == "H"\n[BEGIN]\n')
    assert first.prompt.count("[BEGIN]") == 4 and first.prompt.count("[DONE]") == 3
    assert first.messages and "remove first and last" in first.messages[0]["content"]
    assert first.reference and "\r" not in first.reference
    tests = [p.tests for p in problems]
    assert all(t is not None for t in tests)
    assert [t.complete for t in tests if t] == [True, True, False, True]
    assert tests[1] and tests[1].setup == "import math"
    assert [c["compare"] for c in tests[1].cases] == ["expr", "expr"]
    no_shots = get_task("mbpp", data_file=data_file, options={"shots": "0"}).load()
    assert no_shots[0].prompt.startswith("You are an expert Python programmer")
    with pytest.raises(UsageError, match="shots must be 0-3"):
        get_task("mbpp", data_file=data_file, options={"shots": "9"}).load()


def test_bad_rows_are_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({**ROWS[0], "test_list": "assert x"}) + "\n")
    with pytest.raises(UsageError, match="'test_list' must be a list"):
        get_task("mbpp", data_file=path).load()
    path.write_text(json.dumps({k: v for k, v in ROWS[0].items() if k != "code"}) + "\n")
    with pytest.raises(UsageError, match="field 'code' is missing"):
        get_task("mbpp", data_file=path).load()


def test_evalplus_samples_import_under_the_task_ids(data_file: Path, tmp_path: Path) -> None:
    src = tmp_path / "samples.jsonl"
    rows = [
        {"task_id": "Mbpp/11", "solution": ROWS[0]["code"]},
        {"task_id": "Mbpp/12", "solution": ROWS[1]["code"]},
    ]
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = import_samples(src, "mbpp", tmp_path / "run", data_file=data_file)
    assert result.imported == 2
    samples = [json.loads(x) for x in result.store.samples_path.read_text().splitlines()]
    assert [s["problem_id"] for s in samples] == ["11", "12"]
    src.write_text(json.dumps({"task_id": "Other/11", "solution": "x"}) + "\n")
    with pytest.raises(UsageError, match="unknown problem id 'Other/11'"):
        import_samples(src, "mbpp", tmp_path / "run2", data_file=data_file)


def test_entry_point_is_the_tested_function() -> None:
    code = "def helper(x):\n    return x\n\ndef main_fn(y):\n    return helper(y)\n"
    assert entry_point(code, ["assert set(main_fn(1)) == set(helper(1))"]) == "main_fn"
    assert entry_point("", ["assert len(solve(2)) == 1"]) == "solve"


@pytest.mark.slow
def test_canonical_solutions_pass_in_the_sandbox(data_file: Path) -> None:
    try:
        probe("bwrap")
    except SandboxUnavailable as e:
        pytest.skip(str(e))
    problems = get_task("mbpp", data_file=data_file).load()
    verifier = UnitTestVerifier(options={"timeout": "3"})
    try:
        items = [
            (p, [Sample(p.id, 0, p.reference or ""), Sample(p.id, 1, "def nothing():\n    pass\n")])
            for p in problems
        ]
        # A chat-style reply with the code in a fence, and a wrong solution per problem.
        items[0][1].append(Sample("11", 2, f"```python\n{problems[0].reference}\n```"))
        items[2][1].append(Sample("13", 2, ROWS[2]["code"].replace("count += 1", "count += 2")))
        verdicts = {
            (v.problem_id, v.sample_index): v for b in verifier.verify_many(items) for v in b
        }
    finally:
        verifier.close()
    assert all(verdicts[(p.id, 0)].correct for p in problems), verdicts
    assert all(verdicts[(p.id, 1)].status == "error" for p in problems)
    assert verdicts[("11", 2)].correct
    assert verdicts[("13", 2)].status == "failed"
    assert verdicts[("13", 0)].detail["mode"] == "check"  # Pair objects stay in the sandbox


def test_visible_tests_split_each_problems_asserts(data_file: Path) -> None:
    first = get_task("mbpp", data_file=data_file, options={"visible_tests": "1"}).load()
    assert [p.tests.visible for p in first if p.tests] == [1, 1, 1, 1]
    half = get_task("mbpp", data_file=data_file, options={"visible_tests": "0.5"}).load()
    counts = [p.tests.test_count() for p in half if p.tests]
    assert counts[0] == 3 and counts[-1] == 1
    # ceil(0.5 * m) of m tests, at least one.
    assert [p.tests.visible for p in half if p.tests] == [max(1, -(-m // 2)) for m in counts]
    plain = get_task("mbpp", data_file=data_file).load()
    assert all(p.tests is not None and p.tests.visible is None for p in plain)
