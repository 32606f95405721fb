"""The case language of code tests: parsed from asserts by tasks, judged by verifiers.

Most HumanEval/MBPP tests are asserts over calls with literal arguments, e.g.
``assert candidate([1, 2], 3) == True`` or ``assert abs(candidate(2.5) - 0.5) < 1e-6``.
Such an assert becomes a case: the literal inputs (sent into the sandbox), and the
expectation (kept out of it). The sandbox returns what the function returned, as
plain data; ``judge_case`` decides here, so nothing the program defines takes part
in the comparison. Tests that are not of this form (loops, random inputs, helper
calls) keep their original code and run in the sandbox's driver process instead.

Case kinds: ``eq`` (``f(x) == E``), ``approx`` (``abs(f(x) - E) < T``), ``truthy``
(``assert f(x)``), ``falsy`` (``assert not f(x)``) and ``expr`` (any other expression
over calls, literals, a few pure builtins and ``math``, evaluated with a whitelist).
"""

from __future__ import annotations

import ast
import builtins
import dataclasses
import functools
import math
from collections.abc import Sequence
from typing import Any

from harness.core.records import Problem
from harness.core.values import Handle, Unsupported, decode, encode

_PURE_BUILTINS = (
    "abs", "all", "any", "bool", "dict", "float", "frozenset", "int", "len", "list", "max",
    "min", "round", "set", "sorted", "str", "sum", "tuple",
)  # fmt: skip
SAFE_FUNCTIONS: dict[str, Any] = {name: getattr(builtins, name) for name in _PURE_BUILTINS}
SAFE_NAMES = {*SAFE_FUNCTIONS, "math", "True", "False", "None"}
_SAFE_NODES = (
    ast.Expression, ast.BoolOp, ast.BinOp, ast.UnaryOp, ast.Compare, ast.Call, ast.Constant,
    ast.List, ast.Tuple, ast.Set, ast.Dict, ast.Subscript, ast.Slice, ast.Name, ast.Load,
    ast.IfExp, ast.Attribute, ast.keyword, ast.operator, ast.unaryop, ast.cmpop, ast.boolop,
)  # fmt: skip
_PLACEHOLDER = "_r"


def _literal(node: ast.AST) -> tuple[bool, Any]:
    """The value of a constant expression (``[1, 2]``, ``3 * 19``, ``tuple([1])``)."""
    try:
        return True, ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        pass
    if not isinstance(node, ast.expr):
        return False, None
    tree = ast.Expression(body=node)
    if not _safe_expression(tree, 0):
        return False, None
    try:
        return True, _safe_eval(tree, {})
    except Exception:
        return False, None


def _safe_eval(tree: ast.Expression, names: dict[str, Any]) -> Any:
    # Only for trees accepted by _safe_expression: no attribute but math.*, no
    # names but pure builtins, no comprehensions or lambdas.
    env: dict[str, Any] = {"__builtins__": {}, **SAFE_FUNCTIONS, "math": math, **names}
    return eval(compile(ast.fix_missing_locations(tree), "<case>", "eval"), env)


def _safe_expression(tree: ast.Expression, placeholders: int) -> bool:
    allowed = SAFE_NAMES | {f"{_PLACEHOLDER}{i}" for i in range(placeholders)}
    for node in ast.walk(tree):
        if not isinstance(node, _SAFE_NODES):
            return False
        if isinstance(node, ast.Name) and node.id not in allowed:
            return False
        if isinstance(node, ast.Attribute) and not (
            isinstance(node.value, ast.Name)
            and node.value.id == "math"
            and not node.attr.startswith("_")
        ):
            return False
    return True


class _CallExtractor(ast.NodeTransformer):
    """Replaces ``callee(<literals>)`` with placeholders, recording the literal inputs."""

    def __init__(self, callee: str) -> None:
        self.callee = callee
        self.calls: list[dict[str, Any]] = []
        self.ok = True

    def visit_Call(self, node: ast.Call) -> ast.AST:
        if not (isinstance(node.func, ast.Name) and node.func.id == self.callee):
            self.generic_visit(node)
            return node
        args = [_literal(a) for a in node.args]
        kwargs = {k.arg: _literal(k.value) for k in node.keywords}
        starred = any(isinstance(a, ast.Starred) for a in node.args) or None in kwargs
        if starred or not all(ok for ok, _ in [*args, *kwargs.values()]):
            self.ok = False
        else:
            call: dict[str, Any] = {"input": encode([v for _, v in args])}
            if kwargs:
                call["kwargs"] = encode({k: v for k, (_, v) in kwargs.items()})
            self.calls.append(call)
        return ast.copy_location(
            ast.Name(id=f"{_PLACEHOLDER}{len(self.calls) - 1}", ctx=ast.Load()), node
        )


def parse_assert(node: ast.Assert, callee: str) -> dict[str, Any] | None:
    """The case for one ``assert`` statement, or None when it is not of a judged form."""
    source = ast.unparse(node)
    extractor = _CallExtractor(callee)
    test = extractor.visit(ast.parse(ast.unparse(node.test), mode="eval").body)
    if not extractor.ok or not extractor.calls:
        return None
    calls = extractor.calls
    single = len(calls) == 1
    r0 = ast.Name(id=f"{_PLACEHOLDER}0", ctx=ast.Load())
    if single and isinstance(test, ast.Name) and test.id == r0.id:
        return {"assert": source, "compare": "truthy", **calls[0]}
    if (
        single
        and isinstance(test, ast.UnaryOp)
        and isinstance(test.op, ast.Not)
        and isinstance(test.operand, ast.Name)
        and test.operand.id == r0.id
    ):
        return {"assert": source, "compare": "falsy", **calls[0]}
    if single and isinstance(test, ast.Compare) and len(test.ops) == 1:
        left, right, op = test.left, test.comparators[0], test.ops[0]
        if isinstance(op, ast.Eq) and isinstance(right, ast.Name) and right.id == r0.id:
            left, right = right, left
        if isinstance(op, ast.Eq) and isinstance(left, ast.Name) and left.id == r0.id:
            ok, expected = _literal(right)
            if ok:
                return {"assert": source, "compare": "eq", **calls[0], "expected": encode(expected)}
        approx = _approx(left, right, op)
        if approx is not None:
            return {"assert": source, "compare": "approx", **calls[0], **approx}
    tree = ast.Expression(body=test)
    if not _safe_expression(tree, len(calls)):
        return None
    return {"assert": source, "compare": "expr", "calls": calls, "expr": ast.unparse(test)}


def _approx(left: ast.expr, right: ast.expr, op: ast.cmpop) -> dict[str, Any] | None:
    # abs(_r0 - E) < T, abs(E - _r0) <= T
    if not isinstance(op, ast.Lt | ast.LtE):
        return None
    tol_ok, tol = _literal(right)
    if not (tol_ok and isinstance(left, ast.Call) and isinstance(left.func, ast.Name)):
        return None
    if left.func.id != "abs" or len(left.args) != 1 or left.keywords:
        return None
    diff = left.args[0]
    if not (isinstance(diff, ast.BinOp) and isinstance(diff.op, ast.Sub)):
        return None
    for mine, other in ((diff.left, diff.right), (diff.right, diff.left)):
        if isinstance(mine, ast.Name) and mine.id == f"{_PLACEHOLDER}0":
            ok, expected = _literal(other)
            if ok and isinstance(tol, int | float):
                return {"expected": encode(expected), "tol": tol, "strict": isinstance(op, ast.Lt)}
    return None


def parse_check_function(
    test_code: str, param: str = "candidate"
) -> tuple[list[dict[str, Any]], bool]:
    """Cases from HumanEval's ``def check(candidate)``.

    Returns:
        (cases, complete): ``complete`` is False when some statement of ``check`` is not
        an assert of a judged form (then the original code must be run instead).
    """
    try:
        module = ast.parse(test_code)
    except SyntaxError:
        return [], False
    checks = [n for n in module.body if isinstance(n, ast.FunctionDef) and n.name == "check"]
    if len(checks) != 1:
        return [], False
    fn = checks[0]
    if fn.args.args:
        param = fn.args.args[0].arg
    return _parse_statements(fn.body, param)


def parse_assert_sources(asserts: Sequence[str], callee: str) -> tuple[list[dict[str, Any]], bool]:
    """Cases from a list of assert statements calling ``callee`` by name (MBPP)."""
    statements: list[ast.stmt] = []
    for src in asserts:
        try:
            statements += ast.parse(src).body
        except SyntaxError:
            return [], False
    return _parse_statements(statements, callee)


def _parse_statements(body: Sequence[ast.stmt], callee: str) -> tuple[list[dict[str, Any]], bool]:
    cases: list[dict[str, Any]] = []
    complete = True
    for stmt in body:
        if isinstance(stmt, ast.Pass) or (
            isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)
        ):
            continue
        if isinstance(stmt, ast.Import) and all(
            a.name == "math" and a.asname is None for a in stmt.names
        ):
            continue
        if isinstance(stmt, ast.Assert):
            ok, value = _literal(stmt.test)
            if ok and value:
                continue  # `assert True`: nothing to judge
            case = parse_assert(stmt, callee)
            if case is not None:
                cases.append(case)
                continue
        complete = False
    return cases, complete and bool(cases)


def case_calls(case: dict[str, Any]) -> list[dict[str, Any]]:
    """The calls a case makes, each ``{"input": ..., "kwargs": ...}`` (encoded)."""
    calls: list[dict[str, Any]] = case.get("calls") or [
        {"input": case["input"], **({"kwargs": case["kwargs"]} if "kwargs" in case else {})}
    ]
    return calls


_SCALARS = frozenset({int, float, str, bool, type(None), bytes, complex})


def is_plain(value: Any) -> bool:
    """Whether a decoded value holds only built-in data (no opaque/remote parts)."""
    if type(value) in _SCALARS:  # the usual case, decided without a call per element
        return True
    if isinstance(value, Unsupported | Handle):
        return False
    if isinstance(value, list | tuple | set | frozenset):
        return all(type(v) in _SCALARS or is_plain(v) for v in value)
    if isinstance(value, dict):
        return all(is_plain(k) and is_plain(v) for k, v in value.items())
    return True


_NOT_GIVEN: Any = object()


def judge_case(case: dict[str, Any], results: Sequence[Any], expected: Any = _NOT_GIVEN) -> bool:
    """Whether decoded return values ``results`` satisfy ``case``; never raises.

    Args:
        case: The case (from ``parse_assert``).
        results: The decoded values its calls returned.
        expected: ``decode(case["expected"])``, when the caller has it already.
    """
    if not all(is_plain(r) for r in results):
        return False
    try:
        kind = case["compare"]
        got = results[0]
        if kind in ("eq", "approx") and expected is _NOT_GIVEN:
            expected = decode(case["expected"])
        if kind == "eq":
            return bool(got == expected)
        if kind == "approx":
            diff = abs(got - expected)
            return bool(diff < case["tol"] if case.get("strict", True) else diff <= case["tol"])
        if kind == "truthy":
            return bool(got)
        if kind == "falsy":
            return not got
        if kind == "expr":
            code = _expr_code(case["expr"], len(results))
            if code is None:
                return False
            env = {"__builtins__": {}, **SAFE_FUNCTIONS, "math": math}
            env.update({f"{_PLACEHOLDER}{i}": r for i, r in enumerate(results)})
            return bool(eval(code, env))
    except Exception:
        return False
    return False


@functools.lru_cache(maxsize=4096)
def _expr_code(expr: str, placeholders: int) -> Any:
    # Checked and compiled once per distinct expression, not once per sample.
    tree = ast.parse(expr, mode="eval")
    if not _safe_expression(tree, placeholders):
        return None
    return compile(ast.fix_missing_locations(tree), "<case>", "eval")


# -- a weak verifier's share of the tests ------------------------------------------------

VISIBLE_HELP = (
    "split each problem's tests: the first K (an integer) or a fraction (0-1) are "
    "'visible'; verify then also writes <verifier>_visible (a weak verifier)"
)


def check_visible(spec: float | None) -> None:
    """A ``visible_tests`` value: None, a whole number >= 1, or a fraction in (0, 1).

    Raises:
        ValueError: anything else.
    """
    if spec is None:
        return
    if not spec > 0 or (spec >= 1 and spec != int(spec)):
        raise ValueError(
            f"visible_tests must be a whole number of tests (>= 1) or a fraction in (0, 1), "
            f"got {spec:g}"
        )


def visible_count(total: int, spec: float) -> int:
    """How many of ``total`` tests are visible: the first K, or ceil(fraction * total),
    at least 1 and at most ``total``."""
    want = int(spec) if spec >= 1 else math.ceil(spec * total)
    return max(1, min(total, want))


def with_visible(problem: Problem, spec: float | None) -> Problem:
    """``problem`` with its first tests marked visible (``--task-opt visible_tests=``)."""
    if spec is None or problem.tests is None:
        return problem
    k = visible_count(problem.tests.test_count(), spec)
    return dataclasses.replace(problem, tests=dataclasses.replace(problem.tests, visible=k))
