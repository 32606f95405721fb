"""``gsm8k``: GSM8K grade-school math word problems, test split (1,319 problems).

Loaded from the Hugging Face hub (``openai/gsm8k``, config ``main``) or from a local copy
with ``--data-file`` (JSONL or parquet rows with ``question`` and ``answer``). Problem ids
are 0-based row indices; the reference is the number after ``####`` in the answer.

Prompts follow Large Language Monkeys: ``shots`` solved examples in the
``Question: ...\\nAnswer: ...`` format, drawn from the train split at random,
deterministically per problem and seed. Option ``fewshot`` chooses the pool: ``auto``
(the hub's train split when reachable, else the built-in exemplars), ``hub``,
``builtin`` (eight fixed exemplars, the same for every problem), or the path of a local
JSONL/parquet file with ``question`` and ``answer`` (e.g. a copy of the train split).
The pool used is recorded in the run manifest.
"""

from __future__ import annotations

import logging
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from harness.core.answers import plain_number
from harness.core.errors import UsageError
from harness.core.options import option
from harness.core.records import Problem
from harness.core.task import Task
from tasks._files import HubUnavailable, Row, load_hub, load_local, read_rows

log = logging.getLogger(__name__)

HUB_REPO, HUB_CONFIG = "openai/gsm8k", "main"
BUILTIN = Path(__file__).parent / "prompts" / "gsm8k_fewshot.jsonl"
INSTRUCTION = (
    "Solve the problem step by step. End with a line '#### N' where N is the final answer."
)
_FINAL = re.compile(r"####\s*([^\n]*)")


def reference_answer(solution: str) -> str | None:
    """The canonical number after the last ``####`` (``"#### 1,000"`` -> ``"1000"``)."""
    found = _FINAL.findall(solution)
    text = found[-1].strip() if found else solution.strip()
    return plain_number(text.replace("$", "").strip())


def format_shot(question: str, answer: str) -> str:
    return f"Question: {question}\nAnswer: {answer}\n\n"


@dataclass(frozen=True)
class GSM8KOptions:
    shots: int = option(5, "few-shot examples per prompt", min=0)
    fewshot: str = option(
        "auto", "few-shot pool: auto (train split, else built-in), hub, builtin or a data file"
    )


class GSM8KTask(Task):
    """GSM8K test split with few-shot chain-of-thought prompts."""

    name: ClassVar[str] = "gsm8k"
    description: ClassVar[str] = "GSM8K test split, few-shot CoT (openai/gsm8k or --data-file)"
    default_verifier: ClassVar[str] = "math"
    Options: ClassVar[type] = GSM8KOptions
    stop: ClassVar[tuple[str, ...]] = ("\nQuestion:",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pool: tuple[list[tuple[str, str]], str] | None = None

    # -- data ---------------------------------------------------------------------------
    def _test_rows(self) -> list[Row]:
        if self.data_file is not None:
            return load_local(self.data_file, ("question", "answer"), self.name)
        return load_hub(HUB_REPO, HUB_CONFIG, "test", self.name)

    def _pairs(self, rows: list[Row]) -> list[tuple[str, str]]:
        pairs = []
        for row in rows:
            q, a = row.data.get("question"), row.data.get("answer")
            if not isinstance(q, str) or not isinstance(a, str) or "####" not in a:
                raise UsageError(
                    f"{row.where}: a few-shot example needs 'question' and an "
                    "'answer' ending in '#### N'"
                )
            pairs.append((q.strip(), a.strip()))
        return pairs

    def fewshot_pool(self) -> tuple[list[tuple[str, str]], str]:
        """The few-shot (question, solution) pool and a stable name of where it came from."""
        if self._pool is not None:
            return self._pool
        source = str(self.options.fewshot)
        builtin = (self._pairs(read_rows(BUILTIN)), "builtin")
        if source == "builtin":
            self._pool = builtin
        elif source in {"auto", "hub"}:
            try:
                rows = load_hub(HUB_REPO, HUB_CONFIG, "train", self.name)
                self._pool = (self._pairs(rows), f"hub:{HUB_REPO}/{HUB_CONFIG}/train")
            except HubUnavailable as e:
                if source == "hub":
                    raise
                log.warning(
                    "gsm8k: train split unavailable for few-shot examples (%s); using the %d "
                    "built-in exemplars",
                    e.reason,
                    len(builtin[0]),
                )
                self._pool = (builtin[0], "builtin (train split unavailable)")
        else:
            path = Path(source)
            if not path.is_file():
                raise UsageError(
                    f"gsm8k: fewshot must be auto, hub, builtin or a data file, got {source!r}"
                )
            rows = load_local(path, ("question", "answer"), self.name)
            self._pool = (self._pairs(rows), f"file:{path}")
        return self._pool

    def _shots_for(self, pid: str, question: str) -> list[tuple[str, str]]:
        pool, source = self.fewshot_pool()
        shots = int(self.options.shots)
        if source.startswith("builtin"):
            return pool[:shots]  # fixed exemplars: one shared prompt prefix
        rng = random.Random(f"gsm8k/{self.seed}/{pid}")
        return rng.sample([p for p in pool if p[0] != question], shots)

    def load(self) -> list[Problem]:
        shots = int(self.options.shots)
        rows = self._test_rows()
        pool, _ = self.fewshot_pool()
        if not 0 <= shots <= len(pool):
            raise UsageError(f"gsm8k: shots must be 0-{len(pool)} with this few-shot pool")
        problems = []
        for i, row in enumerate(rows):
            question = str(row.data["question"]).strip()
            reference = reference_answer(str(row.data["answer"]))
            if reference is None:
                raise UsageError(f"{row.where}: 'answer' does not end in '#### N' with a number")
            pid = str(i)
            examples = self._shots_for(pid, question)
            messages: list[dict[str, str]] = []
            for q, a in examples:
                messages += [
                    {"role": "user", "content": f"{INSTRUCTION}\n\nQuestion: {q}"},
                    {"role": "assistant", "content": a},
                ]
            messages.append({"role": "user", "content": f"{INSTRUCTION}\n\nQuestion: {question}"})
            prompt = "".join(format_shot(q, a) for q, a in examples)
            problems.append(
                Problem(
                    id=pid,
                    prompt=f"{prompt}Question: {question}\nAnswer:",
                    reference=reference,
                    messages=tuple(messages),
                )
            )
        return problems

    def record(self) -> dict[str, Any]:
        return {**super().record(), "fewshot_source": self.fewshot_pool()[1]}
