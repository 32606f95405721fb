"""Final-answer extraction, normalisation and equivalence for math tasks.

``extract_answer`` finds a sample's final answer: the last complete ``\\boxed{...}`` (nested
braces allowed), else the text after the last "The answer is" / "Final Answer:" / ``####``,
else the last number. ``normalize_answer`` rewrites an answer into a canonical string
(whitespace, ``\\left``/``\\right``, ``\\dfrac``, degree signs, currency, thousands
separators, trailing zeros) so identical answers can be clustered by string before any
symbolic work. ``is_equivalent`` decides equivalence: equal normalised strings, an exact
comparison for plain decimal numbers, else ``math-verify`` (fractions, radicals,
intervals, tuples, sets, units, percentages, LaTeX vs plain text).

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

from verifiers.exact import normalise_number

# -- extraction ---------------------------------------------------------------------------

_BOXED = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])")
# Anchors that introduce a final answer; the last one in the text wins.
_ANCHOR = re.compile(
    r"(?:final answer is|the answer is|answer is|final answer\s*:|answer\s*:|####)[:\s]*",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?|-?\.\d+")
_LEADING_NUMBER = re.compile(r"^(-?\d[\d,]*(?:\.\d+)?)(?:\s+[A-Za-z].*)?$")
_CURRENCY = re.compile(r"\\?\$\s*(-?\d[\d,]*(?:\.\d+)?)(?=[\s.,;:!?)]|$)(?![^\n$]*\$)")
_SENTENCE_END = re.compile(r"\.(?:\s|$)|\n")


def _match_braces(text: str, start: int) -> int | None:
    """Index just past the brace group opening at ``text[start]``, or None if unclosed."""
    depth = 0
    for i in range(start, len(text)):
        ch = text[i]
        if ch == "{" and text[i - 1 : i] != "\\":
            depth += 1
        elif ch == "}" and text[i - 1 : i] != "\\":
            depth -= 1
            if depth == 0:
                return i + 1
    return None


def last_boxed(text: str) -> str | None:
    """Content of the last complete ``\\boxed{...}`` / ``\\fbox{...}`` (or ``\\boxed 5``)."""
    for m in reversed(list(_BOXED.finditer(text))):
        rest = m.end()
        while rest < len(text) and text[rest] == " ":
            rest += 1
        if rest < len(text) and text[rest] == "{":
            end = _match_braces(text, rest)
            if end is not None:  # a truncated box is skipped, an earlier one may be whole
                return text[rest + 1 : end - 1]
        elif rest > m.end():  # "\boxed 5": the token after the space
            token = re.match(r"[^\s$]+", text[rest:])
            if token:
                return token.group(0)
    return None


def _unwrap_math(segment: str) -> str:
    """The math inside a leading ``$...$`` / ``\\(...\\)`` / ``\\[...\\]``, if it is closed."""
    for left, right in (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
        if segment.startswith(left):
            end = segment.find(right, len(left))
            if end > len(left):
                return segment[len(left) : end]
    return segment


def _after_anchor(text: str) -> str | None:
    """The answer written after the last anchor phrase, trimmed to its sentence."""
    matches = list(_ANCHOR.finditer(text))
    if not matches:
        return None
    segment = text[matches[-1].end() :].lstrip().lstrip("*").lstrip()
    currency = _CURRENCY.match(segment)
    if currency:  # "$18." / "$18 per day": a dollar amount, not the start of math
        return currency.group(1)
    if segment.startswith(("$", "\\(", "\\[")):
        inner = _unwrap_math(segment)
        if inner is not segment:
            return inner
        segment = segment.lstrip("$")  # a lone "$" is currency: "$18."
    boxed = last_boxed(segment.split("\n", 1)[0])
    if boxed is not None:
        return boxed
    end = _SENTENCE_END.search(segment)
    segment = (segment[: end.start()] if end else segment).strip().rstrip("*").strip()
    number = _LEADING_NUMBER.match(segment)
    return number.group(1) if number else segment


def extract_answer(text: str) -> str | None:
    """The final answer of a sample, as written (trimmed), or None when it gives none.

    Order: the last complete ``\\boxed{}``; else what follows the last "The answer is",
    "Final Answer:", "Answer:" or ``####`` (to the end of its sentence; a number followed
    by words keeps just the number); else the last number in the text.
    """
    found = last_boxed(text)
    if found is None:
        found = _after_anchor(text)
    if found is None or not found.strip():
        numbers = _NUMBER.findall(text)
        found = numbers[-1].rstrip(",") if numbers else None
    if found is None:
        return None
    found = found.strip().strip("$").strip().rstrip(".").strip()
    return found or None


# -- normalisation ------------------------------------------------------------------------

_DROP = re.compile(
    r"\\left(?![A-Za-z])|\\right(?![A-Za-z])|\\displaystyle|(?<!\\)\\[!,;: ]|"
    r"\^\s*\{\s*\\circ\s*\}|\^\s*\\circ(?![A-Za-z])|°"
)
_FRAC = re.compile(r"\\[dt]frac(?![A-Za-z])")
_TOKEN = re.compile(r"\\[A-Za-z]+|\s+|.", re.DOTALL)
_PLAIN_NUMBER = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?")
_BASE_NUMBER = re.compile(r"(?:\\text\{)?([0-9A-Za-z]+)\}?_\{?(\d+)\}?")
_TEXT_WRAP = re.compile(r"^\\(?:text|textbf|mathrm|mbox)\{([^{}]*)\}$")


def _squeeze(s: str) -> str:
    """Drop whitespace, except one space where a command is followed by a letter."""
    out: list[str] = []
    prev = ""
    tokens = _TOKEN.findall(s)
    for i, tok in enumerate(tokens):
        if tok.isspace():
            nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
            if prev.startswith("\\") and prev[1:].isalpha() and nxt[:1].isalpha():
                out.append(" ")
            continue
        out.append(tok)
        prev = tok
    return "".join(out)


def _enclosed(s: str) -> str | None:
    """The inside of ``s`` when one wrapper encloses all of it, else None."""
    box = _BOXED.match(s)
    if box and s[box.end() :].lstrip().startswith("{"):
        start = s.index("{", box.end())
        if _match_braces(s, start) == len(s):
            return s[start + 1 : -1]
        return None
    for left, right in (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
        if (
            len(s) > len(left) + len(right)
            and s.startswith(left)
            and s.find(right, len(left)) == len(s) - len(right)
        ):
            return s[len(left) : -len(right)]
    return None


def base_number(key: str) -> str | None:
    """``"4210_{5}"`` -> ``"4210_5"``: a numeral in an explicit base, else None.

    math-verify drops the subscript (``52_8`` would equal ``52``), so such answers are
    compared as canonical strings instead.
    """
    m = _BASE_NUMBER.fullmatch(key)
    return f"{m.group(1)}_{m.group(2)}" if m else None


def plain_number(key: str) -> str | None:
    """Canonical decimal string when ``key`` is a plain number (``"1,000.50"`` -> ``"1000.5"``)."""
    if not key or not any(c.isdigit() for c in key) or not _PLAIN_NUMBER.fullmatch(key):
        return None
    return normalise_number(key.lstrip("+"))


@lru_cache(maxsize=1 << 16)  # answers repeat across samples: normalise each string once
def normalize_answer(answer: str) -> str:
    """Canonical string of an answer, used to cluster answers before symbolic comparison.

    Only rewrites that never change meaning: surrounding ``$``/``\\boxed{}``, whitespace,
    ``\\left``/``\\right``, spacing commands, ``\\dfrac``/``\\tfrac``, degree signs, a
    leading currency sign, a trailing period, and plain numbers in canonical form.
    """
    s = answer.strip()
    for _ in range(3):  # peel wrappers that enclose the whole answer: $..$, \(..\), \boxed{..}
        inner = _enclosed(s)
        if inner is None:
            break
        s = inner.strip()
    s = _FRAC.sub(r"\\frac", _DROP.sub("", s))
    s = _squeeze(s).rstrip(".")
    s = re.sub(r"^\\?\$", "", s)  # currency sign
    text = _TEXT_WRAP.match(s)
    if text and plain_number(text.group(1).strip()) is not None:
        s = text.group(1).strip()
    number = plain_number(s)
    return number if number is not None else (base_number(s) or s)


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
