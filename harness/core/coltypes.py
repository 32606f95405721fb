"""The columns of a run store's verdicts and samples: flat numpy arrays, one entry per row.

``VerdictColumns`` holds one verifier's verdicts (problems and statuses as small integer
codes) and answers the questions asked of them per problem (samples and correct ones,
statuses, runs shared with an identical program); ``TokenCounts`` holds the token counts
of every sample. Both are read from their JSONL files by ``harness.core.columns``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
NOT_RECORDED, OWN_RUN, SHARED_RUN = 0, 1, 2


@dataclass(frozen=True)
class VerdictColumns:
    """The verdicts of one verifier as flat arrays (one entry per verdict).

    Attributes:
        problem_ids: Distinct problem ids, in order of first appearance.
        problem: Index into ``problem_ids`` of each verdict.
        sample_index: Sample index of each verdict.
        correct: Judged correct.
        score: Verifier score (NaN where the verifier gave none).
        class_id: Answer class within its problem (-1 where none).
        statuses: Distinct verdict statuses (passed, failed, timeout, ...).
        status: Index into ``statuses`` of each verdict (empty when not read).
        run: How each verdict was judged: ``NOT_RECORDED`` (the verifier does not share
            runs), ``OWN_RUN`` or ``SHARED_RUN`` (with an identical program's run);
            empty when not read.
    """

    problem_ids: list[str]
    problem: npt.NDArray[np.int32]
    sample_index: IntArray
    correct: npt.NDArray[np.bool_]
    score: npt.NDArray[np.float64]
    class_id: IntArray
    statuses: list[str] = field(default_factory=list)
    status: npt.NDArray[np.int32] = field(default_factory=lambda: np.zeros(0, np.int32))
    run: npt.NDArray[np.int8] = field(default_factory=lambda: np.zeros(0, np.int8))

    def __len__(self) -> int:
        return int(self.problem.size)

    @property
    def has_scores(self) -> bool:
        return bool(self.score.size) and not bool(np.isnan(self.score).all())

    @property
    def has_classes(self) -> bool:
        return bool(self.class_id.size) and bool((self.class_id >= 0).any())

    def counts(self, max_index: int | None = None) -> tuple[IntArray, IntArray]:
        """Samples ``n`` and correct ``c`` per problem (in ``problem_ids`` order).

        Args:
            max_index: Count only samples with ``sample_index < max_index`` (the first
                samples drawn, as if the run had stopped there).
        """
        keep = slice(None) if max_index is None else self.sample_index < max_index
        prob = self.problem[keep]
        size = len(self.problem_ids)
        n = np.bincount(prob, minlength=size).astype(np.int64)
        c = np.bincount(prob[self.correct[keep]], minlength=size).astype(np.int64)
        return n, c

    def status_counts(self) -> dict[str, int]:
        """How many verdicts have each status (most common first)."""
        counts = np.bincount(self.status, minlength=len(self.statuses))
        order = np.argsort(-counts, kind="stable")
        return {self.statuses[i]: int(counts[i]) for i in order if counts[i]}

    def duplicates(self) -> dict[str, Any] | None:
        """Verdicts judged with another sample's run: counts and rate (None when the
        verifier records no ``judged_with``)."""
        recorded = int((self.run != NOT_RECORDED).sum()) if self.run.size else 0
        if not recorded:
            return None
        shared = int((self.run == SHARED_RUN).sum())
        return {
            "samples": recorded,
            "shared": shared,
            "runs": recorded - shared,
            "rate": shared / recorded,
        }

    def shared_by_problem(self) -> IntArray:
        """Verdicts judged with another sample's run, in each problem."""
        size = len(self.problem_ids)
        if not self.run.size:
            return np.zeros(size, np.int64)
        return np.bincount(self.problem[self.run == SHARED_RUN], minlength=size).astype(np.int64)

    def status_by_problem(self) -> dict[str, IntArray]:
        """Per status, its count in each problem (in ``problem_ids`` order)."""
        size = len(self.problem_ids)
        return {
            name: np.bincount(self.problem[self.status == code], minlength=size).astype(np.int64)
            for code, name in enumerate(self.statuses)
        }

    def take(self, index: npt.NDArray[np.intp] | npt.NDArray[np.bool_]) -> VerdictColumns:
        """The verdicts at ``index`` (positions or a mask), every per-verdict array alike."""
        return replace(
            self,
            problem=self.problem[index],
            sample_index=self.sample_index[index],
            correct=self.correct[index],
            score=self.score[index],
            class_id=self.class_id[index],
            status=self.status[index] if self.status.size else self.status,
            run=self.run[index] if self.run.size else self.run,
        )

    def sorted_by_problem(self) -> VerdictColumns:
        """The same verdicts ordered by (problem, sample_index)."""
        return self.take(np.lexsort((self.sample_index, self.problem)))


@dataclass(frozen=True)
class TokenCounts:
    """One row per sample of ``samples.jsonl`` (each (problem, index) once), problems as
    codes: token counts, whether the sample stopped at the token limit, and its mean
    token log-probability (NaN where the backend did not store one)."""

    problem_ids: list[str]
    problem: npt.NDArray[np.int32]
    prompt_tokens: IntArray
    completion_tokens: IntArray
    sample_index: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))
    truncated: npt.NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, np.bool_))
    mean_logprob: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(0, np.float64))

    def __len__(self) -> int:
        return int(self.problem.size)

    @property
    def has_logprobs(self) -> bool:
        return bool(self.mean_logprob.size) and bool(np.isfinite(self.mean_logprob).any())

    def take(self, index: npt.NDArray[np.intp]) -> TokenCounts:
        """The samples at ``index``, every per-sample array alike."""
        logprob = self.mean_logprob[index] if self.mean_logprob.size else self.mean_logprob
        return replace(
            self,
            problem=self.problem[index],
            prompt_tokens=self.prompt_tokens[index],
            completion_tokens=self.completion_tokens[index],
            sample_index=self.sample_index[index],
            truncated=self.truncated[index],
            mean_logprob=logprob,
        )
