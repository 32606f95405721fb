"""``mbpp``: Mostly Basic Python Problems, sanitized test split (257 problems).

Loaded from the Hugging Face hub (``google-research-datasets/mbpp``, config
``sanitized``, split ``test``) or from a local copy with ``--data-file`` (JSONL / JSON /
parquet rows with ``task_id``, ``prompt`` (or ``text``), ``code`` and ``test_list``;
``test_imports`` or ``test_setup_code`` optional). Problem ids are the ``task_id``s.

The prompt is the MBPP paper's: the task, its three tests, then ``[BEGIN]`` and the
model writes the program until ``[DONE]``; option ``shots`` (0-3) puts solved examples
first. The chat form asks for the program in a code block. The entry point is the
function the tests call; the tests are kept in structured form (see
``harness.core.codetests``). ``--task-opt visible_tests=K`` (or a fraction) marks each
problem's first tests visible, as for ``humaneval``.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
from dataclasses import dataclass
from typing import ClassVar

from harness.core.codetests import (
    VISIBLE_HELP,
    check_visible,
    parse_assert_sources,
    with_visible,
)
from harness.core.errors import UsageError
from harness.core.options import option
from harness.core.records import CodeTests, Problem
from harness.core.task import Task
from tasks._files import Row, check_unique_ids, load_hub, load_local

HUB_REPO, HUB_CONFIG, HUB_SPLIT = "google-research-datasets/mbpp", "sanitized", "test"

# Solved examples in the MBPP paper's format (the paper uses tasks 2-4 of its prompt split).
SHOTS: tuple[tuple[str, list[str], str], ...] = (
    (
        "Write a function to find the similar elements from the given two tuple lists.",
        [
            "assert similar_elements((3, 4, 5, 6),(5, 7, 4, 10)) == (4, 5)",
            "assert similar_elements((1, 2, 3, 4),(5, 4, 3, 7)) == (3, 4)",
            "assert similar_elements((11, 12, 14, 13),(17, 15, 14, 13)) == (13, 14)",
        ],
        "def similar_elements(test_tup1, test_tup2):\n"
        "    return tuple(sorted(set(test_tup1) & set(test_tup2)))",
    ),
    (
        "Write a python function to identify non-prime numbers.",
        [
            "assert is_not_prime(2) == False",
            "assert is_not_prime(10) == True",
            "assert is_not_prime(35) == True",
        ],
        "import math\n\ndef is_not_prime(n):\n    if n < 2:\n        return True\n"
        "    for i in range(2, int(math.sqrt(n)) + 1):\n        if n % i == 0:\n"
        "            return True\n    return False",
    ),
    (
        "Write a function to find the largest integers from a given list of numbers using "
        "heap queue algorithm.",
        [
            "assert heap_queue_largest([25, 35, 22, 85, 14, 65, 75, 22, 58],3) == [85, 75, 65]",
            "assert heap_queue_largest([25, 35, 22, 85, 14, 65, 75, 22, 58],2) == [85, 75]",
            "assert heap_queue_largest([25, 35, 22, 85, 14, 65, 75, 22, 58],5) == "
            "[85, 75, 65, 58, 35]",
        ],
        "import heapq\n\ndef heap_queue_largest(nums, n):\n    return heapq.nlargest(n, nums)",
    ),
)


def _task_text(text: str, tests: list[str]) -> str:
    joined = "\n".join(tests)
    return (
        f"You are an expert Python programmer, and here is your task: {text} "
        f"Your code should pass these tests:\n\n{joined}\n"
    )


def entry_point(code: str, asserts: list[str]) -> str | None:
    """The function the tests call: one the solution defines, else the first called name."""
    defined: set[str] = set()
    with contextlib.suppress(SyntaxError):
        defined = {n.name for n in ast.parse(code).body if isinstance(n, ast.FunctionDef)}
    called: list[str] = []
    for src in asserts:
        try:
            tree = ast.parse(src)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                called.append(node.func.id)
    for name in called:
        if name in defined:
            return name
    return next((n for n in called if not hasattr(builtins, n)), None)


@dataclass(frozen=True)
class MBPPOptions:
    shots: int = option(3, "few-shot examples (0-3)", min=0)
    visible_tests: float | None = option(None, VISIBLE_HELP)

    def check(self) -> None:
        check_visible(self.visible_tests)


class MBPPTask(Task):
    """MBPP sanitized test split, judged by unit tests in the sandbox."""

    name: ClassVar[str] = "mbpp"
    description: ClassVar[str] = "MBPP sanitized test split, Python programs with unit tests"
    default_verifier: ClassVar[str] = "unit_tests"
    Options: ClassVar[type] = MBPPOptions
    stop: ClassVar[tuple[str, ...]] = ("[DONE]",)

    def _rows(self) -> list[Row]:
        if self.data_file is not None:
            return load_local(self.data_file, ("task_id", "code", "test_list"), self.name)
        return load_hub(HUB_REPO, HUB_CONFIG, HUB_SPLIT, self.name)

    def problem(self, row: Row) -> Problem:
        """One MBPP row as a Problem."""
        d = row.data
        text = d.get("prompt") or d.get("text")
        asserts = d.get("test_list")
        if not isinstance(text, str) or not text.strip():
            raise UsageError(f"{row.where}: field 'prompt' (or 'text') is missing or empty (mbpp)")
        if not isinstance(asserts, list) or not all(isinstance(a, str) for a in asserts):
            raise UsageError(f"{row.where}: 'test_list' must be a list of assert statements")
        code = str(d["code"]).replace("\r\n", "\n")
        imports = d.get("test_imports") or []
        setup = "\n".join(imports) if isinstance(imports, list) else str(imports)
        setup = "\n".join(s for s in (setup, str(d.get("test_setup_code") or "")) if s.strip())
        entry = entry_point(code, asserts)
        if entry is None:
            raise UsageError(f"{row.where}: cannot tell which function 'test_list' tests")
        cases, complete = parse_assert_sources(asserts, entry)
        shots = int(self.options.shots)
        prompt = "".join(
            f"{_task_text(t, tests)}[BEGIN]\n{solution}\n[DONE]\n"
            for t, tests, solution in SHOTS[:shots]
        )
        task_text = _task_text(text.strip(), asserts)
        messages = (
            {
                "role": "user",
                "content": f"{task_text}\nReply with the Python code in one code block.",
            },
        )
        test_code = "\n".join(s for s in (setup, *asserts) if s)
        return Problem(
            id=str(d["task_id"]),
            prompt=f"{prompt}{task_text}[BEGIN]\n",
            reference=code,
            messages=messages,
            tests=CodeTests(
                "mbpp",
                entry,
                test_code,
                tuple(cases),
                complete,
                setup=setup,
                asserts=tuple(asserts),
            ),
            metadata={"entry_point": entry, "num_cases": len(cases), "structured": complete},
        )

    def load(self) -> list[Problem]:
        shots = int(self.options.shots)
        if not 0 <= shots <= len(SHOTS):
            raise UsageError(f"mbpp: shots must be 0-{len(SHOTS)}")
        rows = self._rows()
        spec = self.options.visible_tests
        problems = [with_visible(self.problem(row), spec) for row in rows]
        return check_unique_ids(problems, rows, "task_id")
