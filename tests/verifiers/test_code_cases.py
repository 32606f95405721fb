"""Parsing asserts into structured cases and judging returned values in the harness."""

from __future__ import annotations

import ast
from typing import Any

import pytest

from harness.core.codetests import (
    judge_case,
    parse_assert,
    parse_assert_sources,
    parse_check_function,
)
from harness.core.values import Handle, Unsupported, decode


def _case(src: str, callee: str = "candidate") -> dict[str, Any] | None:
    node = ast.parse(src).body[0]
    assert isinstance(node, ast.Assert)
    return parse_assert(node, callee)


def test_equality_case_keeps_inputs_and_expected_as_data() -> None:
    case = _case("assert candidate([1, 2], k=3) == (3 * 19, 'x')")
    assert case is not None
    assert case["compare"] == "eq"
    assert decode(case["input"]) == [[1, 2]]
    assert decode(case["kwargs"]) == {"k": 3}
    assert decode(case["expected"]) == (57, "x")
    assert judge_case(case, [(57, "x")])
    assert not judge_case(case, [[57, "x"]])  # a list is not a tuple, as in Python


@pytest.mark.parametrize(
    ("src", "kind", "good", "bad"),
    [
        ("assert abs(candidate(3.5) - 0.5) < 1e-6", "approx", 0.5000001, 0.51),
        ("assert abs(2.0 / 3.0 - candidate(1)) <= 1e-3", "approx", 0.6667, 0.7),
        ("assert candidate('a')", "truthy", 1, 0),
        ("assert not candidate('a')", "falsy", [], [0]),
        ("assert candidate(1) is True", "expr", True, 1),
        ("assert math.isclose(candidate(2), 4.0)", "expr", 4.0, 4.1),
        ("assert set(candidate([3, 1])) == {1, 3}", "expr", [1, 3, 3], [1]),
    ],
)
def test_judged_forms(src: str, kind: str, good: Any, bad: Any) -> None:
    case = _case(src)
    assert case is not None and case["compare"] == kind
    assert judge_case(case, [good])
    assert not judge_case(case, [bad])


def test_opaque_values_never_pass() -> None:
    for src in ("assert not candidate(1)", "assert candidate(1) != 2", "assert candidate(1) == 2"):
        case = _case(src)
        assert case is not None
        assert not judge_case(case, [Unsupported("x.Evil")])
        assert not judge_case(case, [[Handle(0)]])


@pytest.mark.parametrize(
    "src",
    [
        "assert candidate(x) == 1",  # a variable input
        "assert candidate(1) == helper(1)",  # a name the harness cannot evaluate
        "assert candidate(1).real == 1",  # attribute access on a result
        "assert candidate(*args) == 1",
        "assert [c for c in candidate(1)] == [1]",  # comprehensions are not whitelisted
        "assert __import__('os').system('x') or candidate(1)",
    ],
)
def test_unjudgeable_asserts_are_left_to_the_original_code(src: str) -> None:
    assert _case(src) is None


def test_check_function_complete_only_when_every_statement_is_judged() -> None:
    simple = (
        "METADATA = {}\n\ndef check(candidate):\n    import math\n    'doc'\n"
        "    assert candidate(1) == 2\n    assert True, 'always'\n"
        "    assert abs(candidate(2) - 3) < 1e-6\n"
    )
    cases, complete = parse_check_function(simple)
    assert complete and [c["compare"] for c in cases] == ["eq", "approx"]
    looped = "def check(candidate):\n    for i in range(3):\n        assert candidate(i) == i\n"
    assert parse_check_function(looped)[1] is False
    assert parse_check_function("def nothing():\n    pass\n") == ([], False)
    assert parse_check_function("def check(:\n") == ([], False)


def test_mbpp_asserts_call_the_function_by_name() -> None:
    cases, complete = parse_assert_sources(
        ["assert add(1, 2) == 3", "assert math.isclose(add(0.1, 0.2), 0.3)"], "add"
    )
    assert complete and [c["compare"] for c in cases] == ["eq", "expr"]
    assert parse_assert_sources(["assert add(Pair(1), 2) == 3"], "add")[1] is False
