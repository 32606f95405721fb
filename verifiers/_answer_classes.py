"""Judge the answers of one problem once per distinct answer, and group them into classes.

With thousands of samples per problem most answers repeat, so answers are first reduced
to their normalised string; each distinct string is judged against the reference once.
Class ids are equivalence classes, numbered in order of first appearance: every answer
equivalent to the reference shares one class; a wrong answer joins an earlier wrong class
when it is equivalent to it (``"0.5"`` and ``"\\frac{1}{2}"``), found through a cheap
fingerprint (exact rationals, numeric values at a fixed probe point for expressions) and
confirmed with math-verify when the fingerprint is not exact. Numbering is prefix-stable:
judging more samples never renumbers earlier ones.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from fractions import Fraction
from typing import Any

import sympy
from sympy.core.relational import Relational

from harness.core.answers import base_number, normalize_answer, plain_number
from verifiers._equivalence import DEFAULT_TIMEOUT_S, keys_equivalent, parse_key, verify_parsed

# Symbols in wrong answers are replaced by these values to fingerprint expressions.
_PROBES = (0.5772156649, 1.2599210498, 2.7182818284, 0.3183098861, 1.6180339887, 0.6931471806)


def _round(value: complex) -> tuple[float, float]:
    # 6 significant digits: only a bucket; membership is confirmed by math-verify.
    return (float(f"{value.real:.6g}"), float(f"{value.imag:.6g}"))


def _number_fingerprint(value: Fraction) -> Hashable:
    try:
        return ("num", (), _round(complex(float(value))))
    except OverflowError:
        return ("big", value)


def _fingerprint(obj: Any, depth: int = 0) -> Hashable | None:
    """A hashable summary equal for equivalent sympy objects (None when unknown)."""
    if depth > 4:
        return None
    if isinstance(obj, sympy.Rational):
        return _number_fingerprint(Fraction(int(obj.p), int(obj.q)))
    if isinstance(obj, sympy.Tuple | tuple | list):
        parts = [_fingerprint(e, depth + 1) for e in obj]
        return None if None in parts else ("tuple", tuple(parts))
    if isinstance(obj, sympy.FiniteSet):
        parts = [_fingerprint(e, depth + 1) for e in obj.args]
        return None if None in parts else ("set", frozenset(parts))
    if isinstance(obj, sympy.Interval):
        ends = (_fingerprint(obj.start, depth + 1), _fingerprint(obj.end, depth + 1))
        return None if None in ends else ("interval", *ends, obj.left_open, obj.right_open)
    if isinstance(obj, Relational):
        sides = (_fingerprint(obj.lhs, depth + 1), _fingerprint(obj.rhs, depth + 1))
        return None if None in sides else (type(obj).__name__, *sides)
    if isinstance(obj, sympy.MatrixBase):
        cells = [_fingerprint(e, depth + 1) for e in obj]
        return None if None in cells else ("matrix", obj.shape, tuple(cells))
    if isinstance(obj, sympy.Expr):
        symbols = sorted(obj.free_symbols, key=str)
        probe = {
            s: sympy.Float(_PROBES[i % len(_PROBES)] + i // len(_PROBES))
            for i, s in enumerate(symbols)
        }
        try:
            value = complex(obj.xreplace(probe).evalf(15))
        except Exception:  # sympy raises many types on odd input; no fingerprint then
            return None
        return ("num", tuple(str(s) for s in symbols), _round(value))
    return None


class AnswerJudge:
    """Judges the distinct answers of one problem against its reference, with memory.

    Args:
        reference: The reference answer (None: nothing is correct, answers are still grouped).
        timeout_s: math-verify timeout per parse/comparison on the main thread.
    """

    def __init__(self, reference: str | None, timeout_s: int | None = DEFAULT_TIMEOUT_S) -> None:
        self.reference_key = normalize_answer(reference) if reference is not None else None
        self.timeout_s = timeout_s
        self._verdict: dict[str, tuple[bool, int]] = {}
        self._correct_class: int | None = None
        self._buckets: dict[Hashable, list[tuple[str, Hashable | None, int]]] = {}
        self._classes = 0
        self.symbolic_checks = 0

    @property
    def num_classes(self) -> int:
        return self._classes

    def _new_class(self) -> int:
        self._classes += 1
        return self._classes - 1

    def _is_correct(self, key: str) -> bool:
        if self.reference_key is None:
            return False
        if key != self.reference_key and not (
            plain_number(key) is not None and plain_number(self.reference_key) is not None
        ):
            self.symbolic_checks += 1
        return keys_equivalent(key, self.reference_key, self.timeout_s)

    def _wrong_class(self, key: str) -> int:
        # exact: a value that decides equivalence by equality (rationals, base numerals).
        number = plain_number(key)
        exact: Hashable | None = None
        parsed: tuple[Any, ...] = ()
        fp: Hashable | None
        if number is not None:
            exact = Fraction(number)
            fp = _number_fingerprint(exact)
        elif base_number(key) is not None:
            exact = fp = ("base", key)
        else:
            parsed = parse_key(key, self.timeout_s)
            fp = _fingerprint(parsed[0]) if parsed else None
            if parsed and isinstance(parsed[0], sympy.Rational):
                exact = Fraction(int(parsed[0].p), int(parsed[0].q))
        if fp is None:
            return self._new_class()
        bucket = self._buckets.setdefault(fp, [])
        for other, other_exact, class_id in bucket:
            if exact is not None and other_exact is not None:
                if exact == other_exact:
                    return class_id
                continue
            self.symbolic_checks += 1
            gold = parse_key(other, self.timeout_s)
            if verify_parsed(gold, parsed or parse_key(key, self.timeout_s), self.timeout_s):
                return class_id
        class_id = self._new_class()
        bucket.append((key, exact, class_id))
        return class_id

    def judge_key(self, key: str) -> tuple[bool, int]:
        """(correct, class id) of a normalised answer; each key is judged once."""
        known = self._verdict.get(key)
        if known is not None:
            return known
        if self._is_correct(key):
            if self._correct_class is None:
                self._correct_class = self._new_class()
            result = (True, self._correct_class)
        else:
            result = (False, self._wrong_class(key))
        self._verdict[key] = result
        return result

    def judge(self, answers: Sequence[str | None]) -> list[tuple[bool, int | None]]:
        """(correct, class id) per answer, in order; (False, None) where there is no answer."""
        out: list[tuple[bool, int | None]] = []
        for answer in answers:
            if answer is None:
                out.append((False, None))
                continue
            key = normalize_answer(answer)
            out.append(self.judge_key(key) if key else (False, None))
        return out


def judge_answers(
    answers: Sequence[str | None],
    reference: str | None,
    timeout_s: int | None = DEFAULT_TIMEOUT_S,
) -> list[tuple[bool, int | None]]:
    """(correct, class id) for each answer of one problem (see ``AnswerJudge``)."""
    return AnswerJudge(reference, timeout_s).judge(answers)
