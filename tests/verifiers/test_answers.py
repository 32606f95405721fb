"""Final-answer extraction, normalisation and equivalence."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from harness.core.answers import extract_answer, normalize_answer
from verifiers._equivalence import is_equivalent, is_risky


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("so the result is \\boxed{\\frac{\\sqrt{3}}{2}}.", "\\frac{\\sqrt{3}}{2}"),
        (
            "nested \\boxed{\\left( 3, \\frac{\\pi}{2} \\right)} ok",
            "\\left( 3, \\frac{\\pi}{2} \\right)",
        ),
        ("first \\boxed{1}, finally \\boxed{2}", "2"),
        ("kept \\boxed{3} then cut off \\boxed{\\frac{1", "3"),
        ("\\fbox{7}", "7"),
        ("\\boxed 5 is it", "5"),
        ("She pays 2 * 9 = <<2*9=18>>18 dollars.\n#### 18", "18"),
        ("#### 1,000\n", "1,000"),
        ("The answer is 42.", "42"),
        ("The answer is: **42**", "42"),
        ("The answer is 18 dollars.", "18"),
        ("The answer is $18.", "18"),
        ("The answer is $18 per day.", "18"),
        ("The answer is $\\frac{1}{2}$.", "\\frac{1}{2}"),
        ("Final Answer: The final answer is $[2,5)$. I hope it is correct.", "[2,5)"),
        ("The answer is x = 5.", "x = 5"),
        ("Answer: 3.5", "3.5"),
        ("first 3 then 4.5.", "4.5"),
        ("it was -7", "-7"),
        ("no number here", None),
        ("", None),
    ],
)
def test_extract_answer(text: str, expected: str | None) -> None:
    assert extract_answer(text) == expected


def test_boxed_wins_over_anchor_and_last_anchor_wins() -> None:
    assert extract_answer("The answer is 3. Check: \\boxed{4}. The answer is 5.") == "4"
    assert extract_answer("The answer is 3. No wait, the answer is 5.") == "5"


@pytest.mark.parametrize(
    ("answer", "key"),
    [
        ("$\\frac{1}{2}$", "\\frac{1}{2}"),
        ("\\dfrac{14}{3}", "\\frac{14}{3}"),
        ("\\left( 3, \\frac{\\pi}{2} \\right)", "(3,\\frac{\\pi}{2})"),
        ("90^\\circ", "90"),
        ("90^{\\circ}", "90"),
        ("1,000", "1000"),
        ("-1,234.50", "-1234.5"),
        ("18.00", "18"),
        ("\\$18", "18"),
        ("\\text{5}", "5"),
        ("\\boxed{x+1}", "x+1"),
        ("\\pi r^2", "\\pi r^2"),  # a space after a command is meaningful
        ("1 \\\\ 2", "1\\\\2"),  # a LaTeX row break is not a spacing command
        ("4210_{5}", "4210_5"),
        ("f \\circ g", "f\\circ g"),
    ],
)
def test_normalize_answer(answer: str, key: str) -> None:
    assert normalize_answer(answer) == key


@pytest.mark.parametrize(
    ("candidate", "reference"),
    [
        ("\\frac{1}{2}", "0.5"),
        ("0.5", "1/2"),
        ("1/2", "\\frac{1}{2}"),
        ("\\dfrac{14}{3}", "14/3"),
        ("3\\sqrt{13}", "\\sqrt{117}"),
        ("(3, \\frac{\\pi}{2})", "\\left( 3, \\frac{\\pi}{2} \\right)"),
        ("90^\\circ", "90"),
        ("1,000", "1000"),
        ("[2, 5)", "[2,5)"),
        ("\\text{(C)}", "C"),
        ("x^2+2x+1", "(x+1)^2"),
        ("5\\text{ cm}", "5"),
        ("50\\%", "50"),
        ("50", "50\\%"),
        ("0.7071068", "\\frac{\\sqrt{2}}{2}"),
        ("x = 5", "5"),
        ("\\{1,2\\}", "2,1"),
    ],
)
def test_equivalent(candidate: str, reference: str) -> None:
    assert is_equivalent(candidate, reference)


@pytest.mark.parametrize(
    ("candidate", "reference"),
    [
        ("2", "-2"),
        ("x", "y"),
        ("1000", "1001"),
        ("0.33", "1/3"),
        ("0.7", "\\frac{\\sqrt{2}}{2}"),
        ("12", "3\\sqrt{13}"),
        ("[2,5)", "[2,5]"),
        ("(1,2)", "(2,1)"),
        ("52", "52_8"),  # math-verify drops base subscripts; we keep them
        ("52_9", "52_8"),
        ("", "1"),
        ("10^{10^{10}}", "5"),  # too risky for sympy: compared as strings only
    ],
)
def test_not_equivalent(candidate: str, reference: str) -> None:
    assert not is_equivalent(candidate, reference)


def test_risky_answers_are_detected() -> None:
    assert is_risky("10^{10^{10}}")
    assert is_risky("12345!")
    assert is_risky("x" * 1000)
    assert not is_risky("2^{10}")


def test_equivalence_off_the_main_thread_matches() -> None:
    """math-verify's signal-based timeout is off in worker threads, without errors."""
    pairs = [("\\frac{1}{2}", "0.5"), ("3\\sqrt{13}", "\\sqrt{117}"), ("2", "-2"), ("x", "y")]
    with ThreadPoolExecutor(max_workers=2) as pool:
        threaded = list(pool.map(lambda p: is_equivalent(*p), pairs))
    assert threaded == [is_equivalent(*p) for p in pairs] == [True, True, False, False]
