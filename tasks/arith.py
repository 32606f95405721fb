"""``arith``: procedurally generated arithmetic word problems with difficulty levels.

Problems are generated from the task seed, so the same seed always gives the same
problems, and need no download. Level 1 is a single small addition or subtraction;
each level adds a step or larger numbers. The answer is always a non-negative integer,
checked exactly, so even a 135M-parameter model solves some problems some of the time
and coverage visibly grows with the number of samples.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import ClassVar

from harness.core.errors import UsageError
from harness.core.options import option
from harness.core.records import Problem
from harness.core.task import Task

NAMES = ["Ana", "Ben", "Chloe", "Dev", "Emma", "Farid", "Grace", "Hugo", "Iris", "Jon"]
ITEMS = ["apples", "marbles", "stickers", "books", "coins", "pencils", "cookies", "shells"]
INSTRUCTION = "Solve the problem. End your reply with 'The answer is N.' where N is a number."

FEW_SHOT = [
    (
        "Lea has 4 pens. She buys 3 more pens. How many pens does Lea have now?",
        "Lea starts with 4 pens and buys 3 more, so 4 + 3 = 7. The answer is 7.",
    ),
    (
        "Sam has 10 cards. He gives away 6 cards. How many cards does Sam have now?",
        "Sam starts with 10 cards and gives away 6, so 10 - 6 = 4. The answer is 4.",
    ),
]
MAX_LEVEL = 5


def _problem(rng: random.Random, level: int) -> tuple[str, int]:
    """One word problem of the given level and its integer answer."""
    who, item = rng.choice(NAMES), rng.choice(ITEMS)
    top = [10, 30, 60, 100, 500][level - 1]
    a = rng.randint(2, top)
    text = f"{who} has {a} {item}."
    value = a
    steps = [1, 2, 2, 3, 4][level - 1]
    for step in range(steps):
        kinds = ["add", "sub"] if level < 3 else ["add", "sub", "mul", "div"]
        kind = rng.choice(kinds)
        if kind == "sub" and value < 2:
            kind = "add"
        if kind == "div" and step == 0 and value % 2:
            kind = "mul"
        if kind == "add":
            b = rng.randint(1, top)
            text += f" {who} gets {b} more {item}."
            value += b
        elif kind == "sub":
            b = rng.randint(1, value - 1)
            text += f" {who} gives away {b} {item}."
            value -= b
        elif kind == "mul":
            b = rng.randint(2, 4 if level < 5 else 9)
            text += f" Then the number of {item} {who} has becomes {b} times as many."
            value *= b
        else:
            divisors = [d for d in (2, 3, 4, 5) if value % d == 0]
            if not divisors:
                b = rng.randint(1, top)
                text += f" {who} finds {b} more {item}."
                value += b
                continue
            d = rng.choice(divisors)
            text += f" {who} shares the {item} equally among {d} boxes and keeps one box."
            value //= d
    return text + f" How many {item} does {who} have now?", value


@dataclass(frozen=True)
class ArithOptions:
    count: int = option(100, "how many problems to generate", min=1)
    level: str = option("mixed", "difficulty: mixed, or levels 1-5 like 1,2")
    shots: int = option(2, f"few-shot examples in the prompt (0-{len(FEW_SHOT)})", min=0)


class ArithTask(Task):
    """Arithmetic word problems, generated from a seed."""

    name: ClassVar[str] = "arith"
    description: ClassVar[str] = "generated arithmetic word problems, levels 1-5 (offline)"
    default_verifier: ClassVar[str] = "exact"
    Options: ClassVar[type] = ArithOptions
    stop: ClassVar[tuple[str, ...]] = ("\n\nQ:", "\nQ:")
    # A right answer is one short line ("... so 4 + 3 = 7. The answer is 7."): on the
    # embedded model 21 of 22 right samples took under 75 tokens; past 96 a sample is
    # rambling, and the long tail only makes a run slower.
    max_tokens: ClassVar[int | None] = 96

    def _levels(self) -> list[int]:
        level = str(self.options.level)
        if level == "mixed":
            return list(range(1, MAX_LEVEL + 1))
        try:
            levels = [int(x) for x in level.split(",")]
        except ValueError:
            levels = []
        if not levels or any(not 1 <= lv <= MAX_LEVEL for lv in levels):
            raise UsageError(
                f"arith: level must be 'mixed' or numbers 1-{MAX_LEVEL} like '1,2', got {level!r}"
            )
        return levels

    def load(self) -> list[Problem]:
        count, shots = int(self.options.count), int(self.options.shots)
        if count < 1:
            raise UsageError("arith: count must be at least 1")
        if not 0 <= shots <= len(FEW_SHOT):
            raise UsageError(f"arith: shots must be 0-{len(FEW_SHOT)}")
        levels = self._levels()
        shot_text = "".join(f"Q: {q}\nA: {a}\n\n" for q, a in FEW_SHOT[:shots])
        problems = []
        for i in range(count):
            level = levels[i % len(levels)]
            rng = random.Random(f"arith/{self.seed}/{i}/{level}")
            question, answer = _problem(rng, level)
            messages: list[dict[str, str]] = []
            for q, a in FEW_SHOT[:shots]:
                messages += [
                    {"role": "user", "content": f"{q}\n{INSTRUCTION}"},
                    {"role": "assistant", "content": a},
                ]
            messages.append({"role": "user", "content": f"{question}\n{INSTRUCTION}"})
            problems.append(
                Problem(
                    id=str(i),
                    prompt=f"{shot_text}Q: {question}\nA:",
                    reference=str(answer),
                    messages=tuple(messages),
                    metadata={"level": level},
                )
            )
        return problems
