"""Samples whose programs are the same judged once: the normalised key and the sharing rule.

Repeated sampling draws the same program many times (a small model at 10^4 samples per
problem writes ``return sorted(l)`` thousands of times). Two samples of one problem
share an execution when their programs have the same **AST dump** (``ast.dump`` without
positions): comments, blank lines, spacing, line breaks inside brackets and quote style
do not matter; names, literals and docstrings do. A program that does not parse is keyed
by its text (its verdict, a compile error, is the same every time).

**Which programs are not shared.** A program whose output may differ from one run to
the next gets a run of its own. This is decided from its syntax tree, conservatively:

* it imports a module outside ``DETERMINISTIC_MODULES`` (``random``, ``time``,
  ``datetime``, ``secrets``, ``uuid``, ``threading``, ``subprocess``, ``numpy``, ...), or
  uses from ``os`` / ``sys`` anything but what reads or writes the standard streams
  (``os.read``, ``sys.stdin``, ``sys.setrecursionlimit``, ...; see ``OS_NAMES``,
  ``SYS_NAMES``), or imports with ``*``;
* it names ``id``, ``hash``, ``__import__``, ``eval``, ``exec``, ``compile``, ``globals``,
  ``locals``, ``vars``, ``breakpoint`` or ``__builtins__`` (object addresses, or code
  this rule cannot see), or the clock/identity fields of a file status (``st_mtime``,
  ``st_ino``, ...);
* it calls ``open`` on anything but the standard streams (``open(0)``, ``open(1)``).

The sandbox makes everything else repeatable: every sample starts from the same warm
worker (the same modules, no environment but a fixed one, a fresh empty scratch dir,
the same inputs), and the workers fix the string hash seed (``PYTHONHASHSEED=0``), so
iterating over a set of strings gives the same order in every run. What this rule does
not see: output that depends on object addresses without naming ``id`` or ``hash`` (the
default ``repr`` of an object, a set of objects without ``__hash__``), which can differ
between workers; and problems whose own tests use randomness (HumanEval ``check``
functions that draw random inputs) are not shared at all (``shareable_tests``).
"""

from __future__ import annotations

import ast
import hashlib
import marshal
import warnings
from dataclasses import dataclass

# Standard modules whose functions give the same result for the same arguments.
DETERMINISTIC_MODULES = frozenset({
    "__future__", "abc", "array", "bisect", "cmath", "collections", "copy", "dataclasses",
    "decimal", "enum", "fractions", "functools", "graphlib", "heapq", "io", "itertools",
    "json", "math", "numbers", "operator", "pprint", "queue", "re", "statistics", "string",
    "struct", "textwrap", "typing", "unicodedata",
})  # fmt: skip
# What programs use of os and sys to read input and write output.
OS_NAMES = frozenset({
    "read", "write", "fstat", "linesep", "sep", "pathsep", "curdir", "pardir", "extsep",
    "devnull", "path", "st_size",
})  # fmt: skip
SYS_NAMES = frozenset({
    "stdin", "stdout", "stderr", "setrecursionlimit", "getrecursionlimit", "maxsize", "exit",
    "float_info", "int_info", "maxunicode", "version_info", "byteorder",
    "set_int_max_str_digits", "get_int_max_str_digits",
})  # fmt: skip
# Object addresses, code this rule cannot see, and the clock or identity of a file.
UNSHARED_NAMES = frozenset({
    "id", "hash", "__import__", "eval", "exec", "compile", "globals", "locals", "vars",
    "breakpoint", "__builtins__", "st_mtime", "st_atime", "st_ctime", "st_mtime_ns",
    "st_atime_ns", "st_ctime_ns", "st_ino", "st_dev", "st_birthtime",
})  # fmt: skip
_STD_STREAMS = (0, 1, 2)


@dataclass(frozen=True, slots=True)
class ProgramInfo:
    """What the harness learns from a program's text without running it.

    Attributes:
        key: Same for programs with the same AST dump (the text's digest when it does
            not parse).
        code: The program compiled (marshal bytes); None when it does not compile.
        error: Why it does not compile.
        shared: Whether its runs may stand for every sample with the same ``key``.
        why_not: The first thing that made it not shared.
    """

    key: bytes
    code: bytes | None
    error: str | None
    shared: bool
    why_not: str | None = None


def _digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def inspect_program(program: str, filename: str = "<candidate>", keyed: bool = True) -> ProgramInfo:
    """Key, compiled code and sharing rule of ``program`` (see module docstring).

    Without ``keyed`` only the code is made (the key is the text's digest, nothing is
    shared): what a verifier that does not share runs needs.
    """
    if not keyed:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                code = compile(program, filename, "exec", dont_inherit=True)
        except Exception as exc:
            return ProgramInfo(_digest(program), None, f"{type(exc).__name__}: {exc}"[:300], False)
        return ProgramInfo(_digest(program), marshal.dumps(code), None, False, "not keyed")
    try:
        with warnings.catch_warnings():
            # (A sample's SyntaxWarnings, "is" with a literal and the like, are its own.)
            warnings.simplefilter("ignore")
            tree = ast.parse(program, filename)
            code = compile(tree, filename, "exec", dont_inherit=True)
    except Exception as exc:  # SyntaxError, ValueError (NUL bytes), RecursionError, ...
        text = f"{type(exc).__name__}: {exc}"
        return ProgramInfo(b"text:" + _digest(program), None, text[:300], True)
    why_not = nondeterminism(tree)
    return ProgramInfo(_digest(ast.dump(tree)), marshal.dumps(code), None, why_not is None, why_not)


def nondeterminism(tree: ast.AST) -> str | None:
    """Why the program's output may vary between runs, or None (see module docstring)."""
    restricted: dict[str, frozenset[str]] = {}  # local name -> the attributes allowed on it
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                if top in ("os", "sys") and alias.name == top:
                    restricted[alias.asname or top] = OS_NAMES if top == "os" else SYS_NAMES
                elif top == "os" and alias.name == "os.path":
                    restricted[alias.asname or top] = OS_NAMES
                elif top not in DETERMINISTIC_MODULES:
                    return f"imports {alias.name}"
        elif isinstance(node, ast.ImportFrom):
            top = (node.module or "").split(".")[0]
            names = {a.name for a in node.names}
            if node.level or "*" in names:
                return f"imports * from {node.module}" if "*" in names else "relative import"
            allowed = OS_NAMES if top == "os" else SYS_NAMES if top == "sys" else None
            if allowed is not None and node.module in ("os", "sys", "os.path"):
                if node.module != "os.path" and not names <= allowed:
                    return f"uses {top}.{sorted(names - allowed)[0]}"
            elif top not in DETERMINISTIC_MODULES:
                return f"imports {node.module}"
        elif isinstance(node, ast.Name) and node.id in UNSHARED_NAMES:
            return f"uses {node.id}"
        elif isinstance(node, ast.Attribute) and node.attr in UNSHARED_NAMES:
            return f"uses .{node.attr}"
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "open"
            and not _std_stream(node)
        ):
            return "opens a file"
    return _restricted_uses(tree, restricted) if restricted else None


def _std_stream(call: ast.Call) -> bool:
    first = call.args[0] if call.args else None
    return isinstance(first, ast.Constant) and first.value in _STD_STREAMS


def _restricted_uses(tree: ast.AST, restricted: dict[str, frozenset[str]]) -> str | None:
    """The first use of ``os`` / ``sys`` beyond the allowed attributes (``getattr(os, x)``,
    passing the module around, ``os.environ``...), or None."""
    bases: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            name = node.value.id
            if name in restricted:
                bases.add(id(node.value))
                if node.attr not in restricted[name]:
                    return f"uses {name}.{node.attr}"
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Name)
            and node.id in restricted
            and id(node) not in bases
            and not isinstance(node.ctx, ast.Store)
        ):
            return f"uses {node.id} itself"
    return None


def shareable_tests(*sources: str) -> bool:
    """Whether a problem's own test code is repeatable (random inputs are not)."""
    for src in sources:
        if not src:
            continue
        try:
            tree = ast.parse(src)
        except (SyntaxError, ValueError):
            continue
        if nondeterminism(tree) is not None:
            return False
    return True
