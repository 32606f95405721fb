"""Building programs from samples, and judging raw sandbox outputs (no sandbox needed)."""

from __future__ import annotations

import json
import marshal
from typing import Any

import pytest

from harness.core.errors import UsageError
from harness.core.records import Problem, Sample
from harness.core.values import encode
from tests.verifiers.code_problems import make_code_problem
from verifiers._unit_outcomes import build_program, defines, extract_code, prepare
from verifiers._unit_verdicts import judge
from verifiers.sandbox.worker import _frame

PROMPT = 'def f(x):\n    """Add one."""\n'
TESTS = "def check(candidate):\n    assert candidate(1) == 2\n    assert candidate(5) == 6\n"
LIMITS = {"cpu_s": 2, "memory_mb": 64, "fsize_mb": 1, "nofile": 16, "nproc": 4}


def _lines(*records: dict[str, Any]) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


@pytest.fixture
def problem() -> Problem:
    return make_code_problem("p", TESTS, prompt_code=PROMPT)


def test_completion_and_full_program_forms(problem: Problem) -> None:
    tests = problem.tests
    assert tests is not None
    assert build_program(tests, "    return x + 1\n") == PROMPT + "    return x + 1\n\n"
    full = "def f(x):\n    return x + 1\n"
    assert build_program(tests, full).endswith(full + "\n")
    assert build_program(tests, full).startswith(PROMPT)  # prompt helpers stay available
    fenced = f"Here you go:\n```python\nimport os\n\n{full}```\nDone."
    assert extract_code(fenced, "f") == "import os\n\n" + full
    two = "```python\nprint(1)\n```\nthen\n```py\n" + full + "```"
    assert extract_code(two, "f") == full
    assert extract_code("no fences here", "f") == "no fences here"


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("def f(x):\n    return x\n", True),
        ("import math\n\nasync def f(x):\n    return x\n", True),
        ("def \\\n  f(x):\n    return x\n", True),  # a line continuation inside
        ("def f (x): return x\n", True),
        ("    return x + 1\n", False),  # a completion: the body only
        ("def fo(x):\n    return x\n", False),
        ("def g(x):\n    return f(x)\n", False),
        ("class A:\n    def f(self):\n        return 1\n", False),  # not at top level
        ("def f(x):\n    return (\n", False),  # does not parse on its own
    ],
)
def test_defines_finds_top_level_definitions_only(code: str, expected: bool) -> None:
    assert defines(code, "f") is expected


def test_cases_job_carries_inputs_but_no_expected_values(problem: Problem) -> None:
    prep = prepare(problem, Sample("p", 0, "    return x + 1\n"), 7, 1.0, LIMITS)
    assert prep.tests is None and prep.job["mode"] == "cases"
    assert prep.job["calls"] == [[[1], {"dict": []}], [[5], {"dict": []}]]
    assert "2" not in json.dumps(prep.job["calls"]) and "6" not in json.dumps(prep.job["calls"])
    assert prep.with_id(9).job["id"] == 9


def test_check_job_sends_test_code_to_the_driver_only() -> None:
    looped = make_code_problem(
        "q", "def check(candidate):\n    for i in range(3):\n        assert candidate(i) == i\n"
    )
    prep = prepare(looped, Sample("q", 0, "def f(x):\n    return x\n"), 3, 1.0, LIMITS)
    assert prep.job["mode"] == "check" and "calls" not in prep.job
    assert b"assert" not in _frame(prep.job) and b"range" not in _frame(prep.job)
    assert prep.tests is not None and "for i in range(3)" in prep.tests["test_code"]


def test_program_travels_compiled_or_as_source_when_it_does_not_compile(problem: Problem) -> None:
    good = prepare(problem, Sample("p", 0, "    return x + 1\n"), 1, 1.0, LIMITS)
    code = marshal.loads(good.job["code"])
    namespace: dict[str, Any] = {}
    exec(code, namespace)
    assert namespace["f"](1) == 2
    # Compiled as a program of its own: no __future__ import of the harness leaks in.
    annotated = prepare(problem, Sample("p", 1, "def f(x: int):\n    return x\n"), 2, 1.0, LIMITS)
    exec(marshal.loads(annotated.job["code"]), namespace)
    assert namespace["f"].__annotations__ == {"x": int}
    frame = _frame(good.job)
    assert b'"blob":' in frame and b"return x + 1" not in frame  # no source beside the code
    broken = prepare(problem, Sample("p", 2, "    return (\n"), 3, 1.0, LIMITS)
    assert "code" not in broken.job and b"return (" in _frame(broken.job)


def test_problem_without_tests_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="no unit tests"):
        prepare(Problem("x", "Q", reference="4"), Sample("x", 0, "4"), 1, 1.0, LIMITS)


def _judge(problem: Problem, out: str, status: str = "done", **extra: Any) -> Any:
    prep = prepare(problem, Sample("p", 0, "    return x + 1\n"), 1, 1.0, LIMITS)
    return judge(
        problem, Sample("p", 0, ""), prep, {"id": 1, "status": status, "out": out, **extra}
    )


def test_statuses_from_raw_outputs(problem: Problem) -> None:
    ok = _lines({"load": "ok"}, {"i": 0, "ok": True, "v": 2}, {"i": 1, "ok": True, "v": 6})
    v = _judge(problem, ok)
    assert (v.status, v.correct, v.detail["tests"]) == ("passed", True, "PP")

    wrong = _lines({"load": "ok"}, {"i": 0, "ok": True, "v": 2}, {"i": 1, "ok": True, "v": 7})
    v = _judge(problem, wrong)
    assert (v.status, v.detail["tests"]) == ("failed", "PF")
    assert v.detail["failures"][0]["got"] == "7"

    raised = _lines({"load": "ok"}, {"i": 0, "ok": False, "e": "ZeroDivisionError: x"})
    v = _judge(problem, raised, status="timeout")
    assert (v.status, v.detail["tests"]) == ("failed", "E-")  # a failure outranks the timeout

    v = _judge(problem, _lines({"load": "ok"}, {"i": 0, "ok": True, "v": 2}), status="timeout")
    assert (v.status, v.correct) == ("timeout", False)

    v = _judge(problem, _lines({"load": "error", "e": "SyntaxError: bad"}))
    assert (v.status, v.detail["error"]) == ("error", "SyntaxError: bad")

    v = _judge(problem, _lines({"load": "ok"}, {"i": 0, "ok": True, "v": 2}), exit=0)
    assert v.status == "error" and "stopped before its tests finished" in v.detail["error"]

    v = _judge(problem, "", status="crashed")
    assert v.status == "error" and "worker died" in v.detail["error"]


def test_forged_and_opaque_records_do_not_pass(problem: Problem) -> None:
    # The first record per call counts; a forged "passed" record means nothing.
    forged = _lines(
        {"status": "passed", "correct": True},
        {"load": "ok"},
        {"i": 0, "ok": True},
        {"i": 0, "ok": True, "v": 2},
        {"i": 1, "ok": True, "v": {"unsupported": "evil.AlwaysEqual"}},
        {"i": 1, "ok": True, "v": 6},
        "not json",  # type: ignore[arg-type]
    )
    v = _judge(problem, forged + "garbage\n")
    assert v.status == "failed" and v.detail["tests"] == "FF"


def test_expected_values_round_trip_through_problem_json(problem: Problem) -> None:
    again = Problem.from_dict(json.loads(json.dumps(problem.to_dict())))
    assert again.tests == problem.tests
    case = again.tests.cases[0]  # type: ignore[union-attr]
    assert case["expected"] == encode(2)
