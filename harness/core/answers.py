"""Final answers in text: extraction and normalisation (no symbolic maths here).

Shared by tasks (reading a dataset's reference answers) and verifiers (reading samples).
``extract_answer`` finds a text's final answer: the last complete ``\\boxed{...}`` (nested
braces allowed), else the text after the last "The answer is" / "Final Answer:" / ``####``,
else the last number. ``normalize_answer`` rewrites an answer into a canonical string
(whitespace, ``\\left``/``\\right``, ``\\dfrac``, degree signs, currency, thousands
separators, trailing zeros) so identical answers can be clustered by string before any
symbolic work; ``normalise_number`` does the same for one decimal number. Equivalence
beyond strings (math-verify) lives with the verifiers (``verifiers._equivalence``).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from functools import lru_cache


def normalise_number(text: str) -> str | None:
    """Canonical string of a decimal number (``"1,000.0"`` -> ``"1000"``), or None."""
    try:
        value = Decimal(text.replace(",", ""))
    except InvalidOperation:
        return None
    if value == value.to_integral_value():
        return str(int(value))
    return format(value.normalize(), "f")


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
