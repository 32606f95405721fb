"""Small code problems for the verifier tests."""

from __future__ import annotations

from harness.records import Problem
from verifiers.code_cases import code_tests, parse_check_function


def make_code_problem(pid: str, test_code: str, entry: str = "f", prompt_code: str = "") -> Problem:
    """A HumanEval-format problem whose tests are ``test_code`` (``def check(candidate)``)."""
    cases, complete = parse_check_function(test_code)
    return Problem(
        id=pid,
        prompt=prompt_code,
        tests=code_tests("humaneval", entry, test_code, cases, complete, prompt_code=prompt_code),
    )
