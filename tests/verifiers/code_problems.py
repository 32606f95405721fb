"""Small code problems for the verifier tests."""

from __future__ import annotations

from harness.core.codetests import parse_check_function
from harness.core.records import CodeTests, Problem


def make_code_problem(pid: str, test_code: str, entry: str = "f", prompt_code: str = "") -> Problem:
    """A HumanEval-format problem whose tests are ``test_code`` (``def check(candidate)``)."""
    cases, complete = parse_check_function(test_code)
    return Problem(
        id=pid,
        prompt=prompt_code,
        tests=CodeTests(
            "humaneval", entry, test_code, tuple(cases), complete, prompt_code=prompt_code
        ),
    )
