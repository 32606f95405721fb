"""Equivalence of final answers, through math-verify, with runaway inputs kept out.

``is_equivalent`` decides equivalence: equal normalised strings, an exact comparison for
plain decimal numbers, else ``math-verify`` (fractions, radicals, intervals, tuples,
sets, units, percentages, LaTeX vs plain text).

math-verify guards its sympy calls with ``signal.alarm``, which works only on the main
thread. Here the timeout is used on the main thread and switched off elsewhere, so
verification also runs in worker threads; answers known to make sympy run away (power
towers, huge factorials or exponents, very long inputs) are compared as strings only,
on every thread, so verdicts never depend on where they were computed.
"""

from __future__ import annotations

import logging
import re
import threading
from functools import lru_cache
from typing import Any

from harness.core.answers import base_number, normalize_answer, plain_number

# -- symbolic equivalence -----------------------------------------------------------------

DEFAULT_TIMEOUT_S = 5
_RISKY = re.compile(
    r"\^\s*\{[^{}]*\^"  # power tower 10^{10^{10}}
    r"|\^\s*\{?\s*\d{5,}"  # exponent with 5+ digits
    r"|\d{4,}\s*!"  # factorial of a 4+ digit number
    r"|\*\*\s*\(?\s*\d+\s*\*\*"  # python-style power tower
)
MAX_SYMBOLIC_LENGTH = 300


class _DropTimeoutNotice(logging.Filter):
    """math-verify warns once when its timeout is off; off the main thread that is intended."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Timeout is disabled")


for _name in ("math_verify.parser", "math_verify.grader"):
    logging.getLogger(_name).addFilter(_DropTimeoutNotice())


def _timeout(timeout_s: int | None) -> int | None:
    # signal.alarm exists only on the main thread of the main interpreter.
    if threading.current_thread() is not threading.main_thread():
        return None
    return timeout_s


def is_risky(key: str) -> bool:
    """Whether sympy may run away on this answer (compared as a string only)."""
    return len(key) > MAX_SYMBOLIC_LENGTH or bool(_RISKY.search(key))


@lru_cache(maxsize=1 << 16)
def _parse_cached(key: str, timeout_s: int | None) -> tuple[Any, ...]:
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse

    parsed = parse(
        f"${key}$",
        extraction_config=[LatexExtractionConfig(), ExprExtractionConfig()],
        parsing_timeout=timeout_s,  # None disables it
    )
    return tuple(parsed)


def parse_key(key: str, timeout_s: int | None = DEFAULT_TIMEOUT_S) -> tuple[Any, ...]:
    """math-verify parse of a normalised answer (cached); empty when risky or unparsable."""
    if not key or is_risky(key):
        return ()
    return _parse_cached(key, _timeout(timeout_s))


def verify_parsed(
    gold: tuple[Any, ...], target: tuple[Any, ...], timeout_s: int | None = DEFAULT_TIMEOUT_S
) -> bool:
    """math-verify ``verify(gold, target)`` on parsed answers; False when either is empty."""
    if not gold or not target:
        return False
    from math_verify import verify

    return bool(verify(list(gold), list(target), timeout_seconds=_timeout(timeout_s)))


@lru_cache(maxsize=1 << 12)
def _numeric_value(key: str, timeout_s: int | None) -> complex | None:
    """The value of an answer that is a plain numeric expression (``\\sqrt{2}/2``), else None."""
    import sympy

    parsed = parse_key(key, timeout_s)
    expr = parsed[0] if parsed else None
    if not isinstance(expr, sympy.Expr) or expr.free_symbols or not expr.is_number:
        return None
    try:
        return complex(expr.evalf(15))
    except Exception:  # sympy raises many types on odd input
        return None


def _clearly_different_numbers(
    candidate_key: str, reference_key: str, timeout_s: int | None
) -> bool:
    """A plain-number candidate far from a numeric reference: no need for math-verify.

    The margin (1e-4 relative) is far wider than math-verify's rounding, and percentages
    are left to math-verify, which also accepts ``50`` for ``50\\%``.
    """
    number = plain_number(candidate_key)
    if number is None or "%" in reference_key:
        return False
    value = _numeric_value(reference_key, _timeout(timeout_s))
    if value is None:
        return False
    c = float(number)
    return abs(value.imag) > 1e-9 or abs(c - value.real) > 1e-4 * max(1.0, abs(value.real))


def keys_equivalent(
    candidate_key: str, reference_key: str, timeout_s: int | None = DEFAULT_TIMEOUT_S
) -> bool:
    """Equivalence of two normalised answers (see ``is_equivalent``)."""
    if not candidate_key or not reference_key:
        return False
    if candidate_key == reference_key:
        return True
    if plain_number(candidate_key) is not None and plain_number(reference_key) is not None:
        return False  # both canonical decimals: equal exactly when the strings are
    if base_number(candidate_key) is not None or base_number(reference_key) is not None:
        return False  # numerals in a base: canonical strings, compared above
    if _clearly_different_numbers(candidate_key, reference_key, timeout_s):
        return False
    return verify_parsed(
        parse_key(reference_key, timeout_s), parse_key(candidate_key, timeout_s), timeout_s
    )


def is_equivalent(
    candidate: str, reference: str, timeout_s: int | None = DEFAULT_TIMEOUT_S
) -> bool:
    """Whether the answer ``candidate`` is mathematically the same as ``reference``.

    Both are answers (not whole solutions): ``"\\frac{1}{2}"``, ``"0.5"``, ``"(3, \\pi/2)"``.
    Plain decimal numbers compare exactly; anything else goes through math-verify with
    ``reference`` as the gold side (its comparison is not symmetric for equations).
    """
    return keys_equivalent(normalize_answer(candidate), normalize_answer(reference), timeout_s)
