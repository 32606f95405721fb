"""The program a code sample stands for, and its compiled form for the sandbox.

A completion is the body that follows the prompt's signature (HumanEval), or a whole
function in a code block (chat replies, MBPP); ``build_program`` makes the program either
way. ``compiled`` compiles it here (which runs none of it) for the sandbox.
"""

from __future__ import annotations

import ast
import marshal
import re
import warnings

from harness.core.records import CodeTests

# Every name that follows a ``def`` (a superset of the functions the code defines).
_DEF_NAME = re.compile(r"\bdef[\s\\]+([^\s\\(\[:]+)")
_FENCE = re.compile(r"```[ \t]*(?:python3?|py)?[ \t]*\n(.*?)(?:```|\Z)", re.DOTALL | re.IGNORECASE)


def extract_code(text: str, entry_point: str) -> str:
    """The code of a sample: the fenced block defining ``entry_point`` if the text has fences."""
    if "```" not in text:
        return text
    blocks = _FENCE.findall(text)
    if not blocks:
        return text
    for block in blocks:
        if defines(block, entry_point):
            return str(block)
    return str(blocks[0])


def defines(code: str, name: str) -> bool:
    """Whether ``code`` parses on its own and defines function ``name`` at top level."""
    if name not in _DEF_NAME.findall(code):
        return False  # (the usual completion: a body only; parsing it would raise)
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return False
    return any(
        isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name == name for n in tree.body
    )


def build_program(tests: CodeTests, text: str) -> str:
    """The program a sample stands for: prompt + completion, or a full program.

    A sample that defines the entry point itself is a full program; the prompt code is
    put first anyway, so helpers and imports it declares stay available.
    """
    entry = tests.entry_point
    code = extract_code(text, entry)
    prompt_code = tests.prompt_code
    if not prompt_code:
        return code
    if defines(code, entry):
        return f"{prompt_code}\n\n{code}\n"
    return f"{prompt_code}{code}\n"


def compiled(program: str) -> bytes | None:
    """The program compiled here, as marshal bytes for the sandbox; None if it does not compile.

    Compiling runs none of the program's code; it saves every forked sample the
    compiler's work, its largest start-up cost. A program that does not compile is sent
    as source, so the sandbox reports the error as it does for any load failure.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # (the sample's own SyntaxWarnings)
            code = compile(program, "<candidate>", "exec", dont_inherit=True)
    except Exception:  # SyntaxError, ValueError (NUL bytes), RecursionError, MemoryError
        return None
    return marshal.dumps(code)
