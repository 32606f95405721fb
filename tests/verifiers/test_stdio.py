"""Judging stdin/stdout programs outside the sandbox: extraction, output comparison, marks."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from harness.core.records import CodeTests, Problem, Sample, Status
from verifiers._stdio import (
    StdioOutcome,
    extract_program,
    judge_test,
    same_output,
    stdio_plan,
    stdio_verdict,
    tokens_match,
)
from verifiers.sandbox import SandboxSettings

TESTS = CodeTests(
    "stdio",
    "",
    io_tests=(
        {"input": "1 2\n", "output": "3\n", "set": "public"},
        {"input": "5 5\n", "output": "10\n", "set": "private"},
        {"input": "1 1\n", "output": "2.5\n", "set": "generated"},
    ),
    time_limit_s=2.0,
)
PROBLEM = Problem("p", "Q", tests=TESTS)


def options(**kw: object) -> SimpleNamespace:
    base = {"time_scale": 1.0, "float_tol": 1e-5, "case_sensitive": False, "all_tests": False}
    return SimpleNamespace(**{**base, **kw})


def test_extract_program_takes_the_first_fenced_block_or_the_whole_text() -> None:
    assert extract_program("print(1)\n") == "print(1)\n"
    assert extract_program("Here:\n```python\nprint(1)\n```\nand\n```\nprint(2)\n```") == (
        "print(1)\n"
    )
    assert extract_program("```\nx = 1\n```") == "x = 1\n"
    # The paper's few-shot form puts code right after the fence, on the same line.
    assert extract_program(" ```n = int(input())\nprint(n)```\nQ:") == "n = int(input())\nprint(n)"
    assert extract_program("```print(3)```") == "print(3)"
    # An answer cut off by the token limit keeps what it has.
    assert extract_program("```python3\nimport sys\nprint(") == "import sys\nprint("


def test_tokens_are_compared_ignoring_whitespace_and_case_numbers_within_tolerance() -> None:
    want = b"YES 3\n2.5\n".split()  # (the plan lowers expected tokens when case is ignored)
    assert same_output(b"YES 3 2.5", want, 1e-5, True)
    assert same_output(b"  yes\n3\n\n2.5000001  \n", [w.lower() for w in want], 1e-5, False)
    assert not same_output(b"YES 3", want, 1e-5, True)  # a token missing
    assert not same_output(b"YES 3 2.5 7", want, 1e-5, True)  # one too many
    assert not same_output(b"yes 3 2.5", want, 1e-5, True)  # case, when it counts
    assert tokens_match(b"2.50000000", b"2.5", 1e-6)
    assert tokens_match(b"1000000.1", b"1000000", 1e-6)  # relative error
    assert tokens_match(b"3", b"3.000001", 1e-5)  # one integer, one real: numbers
    assert not tokens_match(b"3", b"03x", 1e-5)
    assert not tokens_match(b"7", b"8", 1e-5)  # two integers: exact
    assert not tokens_match(b"2.6", b"2.5", 1e-5)
    assert not tokens_match(b"2.5000001", b"2.5", 0.0)  # tolerance 0: text only
    assert not tokens_match(b"nan", b"nan0", 1e-5) and tokens_match(b"nan", b"nan", 1e-5)


def test_plan_scales_the_problems_time_limit_and_caps_outputs() -> None:
    plan = stdio_plan(PROBLEM, TESTS, SandboxSettings(), 5.0, options(time_scale=1.5))
    assert plan.timeout_s == pytest.approx(3.0)
    assert plan.wall_s > plan.timeout_s
    assert plan.limits["cpu_s"] >= 3
    assert plan.payload["inputs"] == ["1 2\n", "5 5\n", "1 1\n"]
    assert all(cap >= 1 << 16 for cap in plan.payload["caps"])
    no_limit = Problem("q", "Q", tests=CodeTests("stdio", "", io_tests=TESTS.io_tests))
    plan = stdio_plan(no_limit, no_limit.tests, SandboxSettings(), 4.0, options())  # type: ignore[arg-type]
    assert plan.timeout_s == 4.0


def frame(t: int, out: bytes = b"", status: str = "done", code: int = 0, cpu: float = 0.01) -> dict:
    return {
        "t": t,
        "status": status,
        "exit": code,
        "blob": out,
        "cpu_s": cpu,
        "err": "x\nValueError: bad",
    }


def test_each_test_gets_a_mark_and_a_failure_asks_to_stop() -> None:
    plan = stdio_plan(PROBLEM, TESTS, SandboxSettings(), 5.0, options())
    assert judge_test(plan, frame(0, b"3")) == {
        "t": 0, "cpu_s": 0.01, "wall_s": None, "mark": "P", "stop": False
    }  # fmt: skip
    wrong = judge_test(plan, frame(1, b"11\n"))
    assert (wrong["mark"], wrong["stop"], wrong["expected"], wrong["got"]) == (
        "W", True, "'10\\n'", "'11\\n'"
    )  # fmt: skip
    crashed = judge_test(plan, frame(1, b"10\n", code=1))
    assert crashed["mark"] == "R" and crashed["error"] == "ValueError: bad (exit code 1)"
    assert judge_test(plan, frame(1, b"", code=-9))["error"].endswith("(killed by signal 9)")
    slow = judge_test(plan, frame(2, status="timeout", cpu=2.5))
    assert slow["mark"] == "T" and slow["cpu_bound"]
    assert judge_test(plan, frame(2, status="overflow"))["mark"] == "O"
    assert judge_test(plan, frame(2, status="stopped"))["mark"] == "-"
    lenient = stdio_plan(PROBLEM, TESTS, SandboxSettings(), 5.0, options(all_tests=True))
    assert judge_test(lenient, frame(1, b"11"))["stop"] is False


def test_verdict_names_the_first_failing_test_and_reruns_only_wall_clock_timeouts() -> None:
    plan = stdio_plan(PROBLEM, TESTS, SandboxSettings(), 5.0, options())
    sample = Sample("p", 4, "...")
    outcome = StdioOutcome(["-"] * 3)
    outcome.add([judge_test(plan, frame(0, b"3")), judge_test(plan, frame(1, b"9"))])
    v = stdio_verdict(PROBLEM, sample, plan, outcome, {"status": "done"})
    assert (v.status, v.correct, v.sample_index) == (Status.FAILED, False, 4)
    assert v.detail["tests"] == "PW-" and v.detail["passed"] == 1 and v.detail["total"] == 3
    assert v.detail["judge"] == "wrong_answer"
    assert v.detail["first_failure"]["test"] == 1 and v.detail["first_failure"]["set"] == "private"
    assert outcome.rerun(all_tests=False) is None

    cpu = StdioOutcome(["-"] * 3)
    cpu.add(
        [judge_test(plan, frame(0, b"3")), judge_test(plan, frame(1, status="timeout", cpu=3.0))]
    )
    assert cpu.rerun(all_tests=False) is None  # over the CPU limit: certain, no re-run
    wall = StdioOutcome(["-"] * 3)
    wall.add(
        [judge_test(plan, frame(0, b"3")), judge_test(plan, frame(1, status="timeout", cpu=0.1))]
    )
    assert wall.rerun(all_tests=False) == [1, 2]  # from the first failure on
    assert wall.rerun(all_tests=True) == [1]
    v = stdio_verdict(PROBLEM, sample, plan, wall, {"status": "done"})
    assert (v.status, v.detail["judge"]) == (Status.TIMEOUT, "time_limit_exceeded")

    done = StdioOutcome(["-"] * 3)
    done.add([judge_test(plan, frame(t, out)) for t, out in enumerate((b"3", b"10", b"2.5"))])
    v = stdio_verdict(PROBLEM, sample, plan, done, {"status": "done"})
    assert (v.status, v.correct, v.detail["judge"], v.detail["tests"]) == (
        Status.PASSED, True, "accepted", "PPP"
    )  # fmt: skip
    lost = stdio_verdict(PROBLEM, sample, plan, StdioOutcome(["-"] * 3), {"status": "crashed"})
    assert lost.status is Status.ERROR and "died" in lost.detail["error"]
