"""How much of a run its verdicts cover, so no number is printed from part of a run
without saying so.

``judged`` counts, for every verifier present, the samples and problems it judged out of
those the run holds (``samples.jsonl``, or the verdicts themselves for judged imports
without texts), the problems with fewer samples than the run's N, and the samples that
stopped at the token limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.core.coltypes import TokenCounts, VerdictColumns
from harness.core.errors import UsageError


@dataclass(frozen=True)
class Coverage:
    """What one verifier judged of what the run holds."""

    verifier: str
    samples: int
    problems: int
    held_samples: int
    held_problems: int

    @property
    def complete(self) -> bool:
        return self.samples >= self.held_samples

    def to_dict(self) -> dict[str, int]:
        return {
            "samples": self.samples,
            "problems": self.problems,
            "of_samples": self.held_samples,
            "of_problems": self.held_problems,
        }

    def line(self) -> str:
        return (
            f"{self.samples:,} of {self.held_samples:,} samples "
            f"({self.problems:,} of {self.held_problems:,} problems)"
        )


def judged(name: str, cols: VerdictColumns, held: TokenCounts) -> Coverage:
    """The samples of ``held`` that ``cols`` judged (all of ``cols`` when ``held`` is empty:
    a judged import without texts holds exactly what was judged)."""
    problems = int(np.unique(cols.problem).size)
    if not len(held):
        return Coverage(name, len(cols), problems, len(cols), problems)
    held_problems = int(np.unique(held.problem).size)
    if not len(cols):
        return Coverage(name, 0, 0, len(held), held_problems)
    code = {pid: i for i, pid in enumerate(held.problem_ids)}
    remap = np.asarray([code.get(pid, -1) for pid in cols.problem_ids], dtype=np.int64)
    width = int(max(held.sample_index.max(), cols.sample_index.max())) + 1
    held_keys = held.problem.astype(np.int64) * width + held.sample_index
    mine = remap[cols.problem]
    keys = np.where(mine >= 0, mine * width + cols.sample_index, -1)
    inside = np.isin(keys, held_keys)
    return Coverage(
        name,
        int(inside.sum()),
        int(np.unique(cols.problem[inside]).size),
        len(held),
        held_problems,
    )


def require_complete(coverage: Coverage, root: object, partial: bool) -> str | None:
    """A note for a partial analysis, or a UsageError when partial analysis is not allowed.

    Raises:
        UsageError: ``coverage`` leaves samples unjudged and ``partial`` is False.
    """
    if coverage.complete:
        return None
    if not partial:
        raise UsageError(
            f"verifier {coverage.verifier!r} has judged {coverage.line()} in {root}; "
            f"run `harness verify {root}` first, or pass --partial to analyse what is judged"
        )
    return f"partial: {coverage.verifier} judged {coverage.line()}"


def short_problems(n: np.ndarray, target: int) -> dict[str, Any] | None:
    """Problems with fewer samples than the run's N, or None when every problem has N."""
    short = n < target
    if not short.any():
        return None
    return {"count": int(short.sum()), "of": int(n.size), "fewest": int(n.min()), "N": target}


def truncated(held: TokenCounts) -> dict[str, Any]:
    """Samples that stopped because they hit the token limit (``finish_reason=length``)."""
    count = int(held.truncated.sum()) if held.truncated.size else 0
    return {"count": count, "of": len(held), "share": count / len(held) if len(held) else 0.0}
