"""``math500``: MATH-500, the 500-problem test subset of MATH used by PRM800K.

Loaded from the Hugging Face hub (``HuggingFaceH4/MATH-500``) or from a local copy with
``--data-file`` (JSONL or parquet rows with ``problem`` and ``answer``; ``unique_id``,
``subject`` and ``level`` are kept when present). Problem ids are ``unique_id`` (else the
0-based row index); the reference is the ``answer`` field; subject and level go into the
problem metadata so analysis can group by them.

Prompts follow Minerva and Large Language Monkeys: up to four fixed solved examples in
the ``Problem:`` / ``Solution:`` format, each ending in ``\\boxed{}`` and a
"Final Answer: The final answer is $X$." line (option ``shots``, default 4).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from harness.core.errors import UsageError
from harness.core.options import option
from harness.core.records import Problem
from harness.core.task import Task
from tasks._files import Row, load_hub, load_local, read_rows

HUB_REPO = "HuggingFaceH4/MATH-500"
EXEMPLARS = Path(__file__).parent / "prompts" / "minerva_math.jsonl"
INSTRUCTION = "Solve the problem step by step. Put the final answer in \\boxed{}."
METADATA_FIELDS = ("subject", "level")


def minerva_exemplars() -> list[tuple[str, str]]:
    """The four fixed Minerva (problem, solution) exemplars."""
    rows = read_rows(EXEMPLARS)  # bundled with the package: no need for datasets
    return [(str(r.data["problem"]), str(r.data["solution"])) for r in rows]


def format_shot(problem: str, solution: str) -> str:
    return f"Problem:\n{problem}\n\nSolution:\n{solution}\n\n"


@dataclass(frozen=True)
class Math500Options:
    shots: int = option(4, "Minerva few-shot examples (0-4)", min=0)


class Math500Task(Task):
    """MATH-500 with the Minerva few-shot prompt."""

    name: ClassVar[str] = "math500"
    description: ClassVar[str] = "MATH-500, Minerva 4-shot CoT (hub or --data-file)"
    default_verifier: ClassVar[str] = "math"
    Options: ClassVar[type] = Math500Options
    stop: ClassVar[tuple[str, ...]] = ("\nProblem:",)

    def _rows(self) -> list[Row]:
        if self.data_file is not None:
            return load_local(self.data_file, ("problem", "answer"), self.name)
        return load_hub(HUB_REPO, None, "test", self.name)

    def load(self) -> list[Problem]:
        exemplars = minerva_exemplars()
        shots = int(self.options.shots)
        if not 0 <= shots <= len(exemplars):
            raise UsageError(f"math500: shots must be 0-{len(exemplars)}")
        examples = exemplars[:shots]
        prefix = "".join(format_shot(p, s) for p, s in examples)
        chat: list[dict[str, str]] = []
        for p, s in examples:
            chat += [
                {"role": "user", "content": f"{INSTRUCTION}\n\nProblem:\n{p}"},
                {"role": "assistant", "content": s},
            ]
        problems: list[Problem] = []
        seen: dict[str, str] = {}
        for i, row in enumerate(self._rows()):
            pid = str(row.data.get("unique_id") or i)
            if pid in seen:
                raise UsageError(f"{row.where}: duplicate unique_id {pid!r} (first at {seen[pid]})")
            seen[pid] = row.where
            problem = str(row.data["problem"]).strip()
            messages = [*chat, {"role": "user", "content": f"{INSTRUCTION}\n\nProblem:\n{problem}"}]
            problems.append(
                Problem(
                    id=pid,
                    prompt=f"{prefix}Problem:\n{problem}\n\nSolution:",
                    reference=str(row.data["answer"]).strip(),
                    messages=tuple(messages),
                    metadata={k: row.data[k] for k in METADATA_FIELDS if k in row.data},
                )
            )
        return problems
