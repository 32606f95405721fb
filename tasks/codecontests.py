"""``codecontests``: competitive-programming problems solved by stdin/stdout programs.

Loaded from the Hugging Face hub (``deepmind/code_contests``, split ``test``: 165
problems) or from ``--data-file`` (JSONL / JSON / parquet) with the dataset's own
columns: ``name``, ``description``, ``public_tests`` / ``private_tests`` /
``generated_tests`` (``{"input": [...], "output": [...]}``) and ``time_limit``. The same
loader reads APPS rows (``question``, ``input_output``) and LiveCodeBench rows
(``question_content``, ``public_test_cases``, ``private_test_cases``); see
``tasks._contests``. Call-based problems of those (a function to write rather than a
program) are skipped, and how many is recorded in the run manifest.

The prompt is Large Language Monkeys': ``Q:`` an instruction to write Python code that
reads standard input and writes standard output, wrapped in a code block, the
statement, then ``A:``; option ``shots`` puts that many solved problems first (the
paper uses two from the train split; here two written for the project,
``prompts/codecontests_fewshot.jsonl``). The chat form asks for one Python 3 program in a
code block. The ``unit_tests`` verifier runs the program on every test (the paper's
public + private + generated tests; option ``tests`` chooses) with the problem's time
limit, scaled by its ``time_scale`` option.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from harness.core.errors import UsageError
from harness.core.options import option
from harness.core.records import CodeTests, Problem
from harness.core.task import Task
from tasks._contests import CODECONTESTS_SETS, ContestRow, parse_row
from tasks._files import Row, check_unique_ids, load_hub, load_local

HUB_REPO = "deepmind/code_contests"
FEWSHOT = Path(__file__).parent / "prompts" / "codecontests_fewshot.jsonl"
# Large Language Monkeys' instruction (llmonk/generate/code_contests.py).
INSTRUCTION = (
    "Write python code to solve the following coding problem that obeys the constraints and "
    "passes the example test cases. The output code needs to read from and write to standard "
    "IO. Please wrap your code answer using ```:"
)
CHAT_INSTRUCTION = (
    "Solve the following competitive programming problem. Reply with one complete Python 3 "
    "program in a ```python code block; it must read the input from standard input and "
    "print the answer to standard output."
)


@dataclass(frozen=True)
class CodeContestsOptions:
    split: str = option(
        "test", "hub split (test, valid, train)", choices=("test", "valid", "train")
    )
    shots: int = option(2, "solved problems before the question (0-2)", min=0, max=2)
    tests: str = option("public,private,generated", "test sets to judge on (comma-separated)")
    max_tests: int = option(0, "at most this many tests per problem, in order (0: all)", min=0)
    skip_images: bool = option(True, "leave out problems whose statement shows a picture")


def shot_prompt(statement: str, solution: str | None = None) -> str:
    """One ``Q: ... A:`` block; with ``solution``, the answer in a code block."""
    prompt = f"Q: {INSTRUCTION}\n{statement}\nA:"
    return prompt + (f" ```{solution.strip()}```" if solution is not None else "")


def fewshot_examples() -> list[tuple[str, str]]:
    """The built-in solved problems, (statement, solution)."""
    lines = FEWSHOT.read_text(encoding="utf-8").splitlines()
    return [(d["description"], d["solution"]) for d in map(json.loads, filter(None, lines))]


class CodeContestsTask(Task):
    """CodeContests (or APPS / LiveCodeBench rows), judged as stdin/stdout programs."""

    name: ClassVar[str] = "codecontests"
    description: ClassVar[str] = (
        "competitive programming, stdin/stdout programs (deepmind/code_contests, APPS or "
        "LiveCodeBench rows via --data-file)"
    )
    default_verifier: ClassVar[str] = "unit_tests"
    Options: ClassVar[type] = CodeContestsOptions
    stop: ClassVar[tuple[str, ...]] = ("\nQ:",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.skipped: dict[str, int] = {}

    def _sets(self) -> tuple[str, ...]:
        sets = tuple(s.strip() for s in str(self.options.tests).split(",") if s.strip())
        unknown = [s for s in sets if s not in CODECONTESTS_SETS]
        if unknown or not sets:
            raise UsageError(
                f"codecontests: tests={self.options.tests!r}: choose among "
                f"{', '.join(CODECONTESTS_SETS)} (comma-separated)"
            )
        return sets

    def _rows(self) -> list[Row]:
        if self.data_file is not None:
            return load_local(self.data_file, (), self.name)
        return load_hub(HUB_REPO, None, str(self.options.split), self.name)

    def problem(self, row: ContestRow) -> Problem:
        """The Problem of one parsed row."""
        shots = fewshot_examples()[: int(self.options.shots)]
        prompt = "\n".join(
            [*(shot_prompt(s, code) for s, code in shots), shot_prompt(row.statement)]
        )
        tests = row.tests[: self.options.max_tests or None]
        return Problem(
            id=row.id,
            prompt=prompt,
            reference=row.reference,
            messages=({"role": "user", "content": f"{CHAT_INSTRUCTION}\n\n{row.statement}"},),
            tests=CodeTests("stdio", "", io_tests=tuple(tests), time_limit_s=row.time_limit_s),
            metadata={**row.metadata, "num_tests": len(tests)},
        )

    def load(self) -> list[Problem]:
        sets = self._sets()
        rows = self._rows()
        if not rows:
            raise UsageError(f"{self.data_file or HUB_REPO}: no rows")
        self.skipped = {}
        kept_rows, problems = [], []
        for row in rows:
            parsed = parse_row(row, sets)
            reason = (
                "call_based"
                if parsed.call_based
                else "images"
                if self.options.skip_images and parsed.has_images
                else None
            )
            if reason is not None:
                self.skipped[reason] = self.skipped.get(reason, 0) + 1
                continue
            kept_rows.append(row)
            problems.append(self.problem(parsed))
        if not problems:
            raise UsageError(
                f"{self.data_file or HUB_REPO}: no stdin/stdout problem left "
                f"(skipped: {', '.join(f'{v} {k}' for k, v in self.skipped.items())})"
            )
        return check_unique_ids(problems, kept_rows, "problem name")

    def record(self) -> dict[str, Any]:
        skipped = {"skipped": dict(self.skipped)} if self.skipped else {}
        return {**super().record(), **skipped}
