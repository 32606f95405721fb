"""The run's verdicts grouped by problem for the stopping rules (``analysis.stopping``):
per-sample arrays with each problem's samples contiguous, and a table of each problem's
answer classes (size, and whether any member is right)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from analysis._draws import class_table
from harness.core.coltypes import VerdictColumns

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class StopData:
    """Per-sample arrays grouped by problem (each problem's samples contiguous), and a
    table of the answer classes of each problem.

    Attributes:
        problem_ids: The problems, in order.
        n: Samples per problem.
        correct: Judged right by the verifier.
        cls: Answer class within its problem (-1: no answer).
        scores: Scorer name -> score per sample (NaN where none).
        width: Columns of the class table (largest class id + 1).
        class_keys: Sorted keys ``problem * width + class`` of the classes present.
        class_size: Samples in each of those classes.
        class_right: Whether each of those classes holds a sample judged right.
        right_count: Samples judged right per problem.
    """

    problem_ids: list[str]
    n: IntArray
    correct: BoolArray
    cls: IntArray
    scores: dict[str, FloatArray] = field(default_factory=dict)
    width: int = 1
    class_keys: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))
    class_size: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))
    class_right: BoolArray = field(default_factory=lambda: np.zeros(0, bool))
    right_count: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))

    @property
    def has_classes(self) -> bool:
        return bool(self.class_keys.size)

    @property
    def starts(self) -> IntArray:
        """Where each problem's samples begin."""
        out: IntArray = np.concatenate([[0], np.cumsum(self.n)[:-1]]).astype(np.int64)
        return out

    def good(self, problem: IntArray, cls: IntArray) -> BoolArray:
        """Whether the class ``cls`` of problem ``problem`` holds a right sample (False
        for samples without an answer)."""
        if not self.class_keys.size:
            return np.zeros(np.shape(cls), dtype=bool)
        key = problem * self.width + np.maximum(cls, 0)
        at = np.minimum(np.searchsorted(self.class_keys, key), self.class_keys.size - 1)
        out: BoolArray = (self.class_keys[at] == key) & self.class_right[at] & (cls >= 0)
        return out


def stop_data(
    truth: VerdictColumns,
    scores: Mapping[str, FloatArray] | None = None,
    counts: tuple[IntArray, IntArray] | None = None,
) -> StopData:
    """Group a verifier's verdicts by problem for the stopping rules.

    Touches each verdict a few times only (10^7 verdicts: a few passes over flat
    arrays); everything later works on the drawn samples alone.

    Args:
        truth: The verdicts that define correctness (and answer classes, if any).
        scores: Scorer name -> one score per verdict of ``truth`` (its order), NaN where
            the scorer gave none.
        counts: ``truth.counts()`` when the caller has it already.
    """
    problem = truth.problem
    # Verdict files are written problem by problem: usually grouped already.
    grouped = bool(np.all(problem[1:] >= problem[:-1])) if problem.size else True
    order = None if grouped else np.argsort(problem, kind="stable")
    if order is not None:
        problem = problem[order]
    cls = truth.class_id if order is None else truth.class_id[order]
    correct = truth.correct if order is None else truth.correct[order]
    n_all, c_all = counts if counts is not None else truth.counts()
    present = np.flatnonzero(n_all)
    dense = problem if present.size == n_all.size else (np.cumsum(n_all > 0) - 1)[problem]
    width = int(cls.max(initial=-1)) + 1
    keys, size, right = np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, bool)
    if width:
        # A class is right when any member is (analysis.majority's rule).
        keys, size, hits = class_table(dense, cls, correct, width)
        right = hits > 0
    return StopData(
        problem_ids=[truth.problem_ids[i] for i in present],
        n=n_all[present].astype(np.int64),
        correct=correct,
        cls=cls,
        scores={
            k: np.asarray(v, dtype=np.float64) if order is None else np.asarray(v)[order]
            for k, v in (scores or {}).items()
        },
        width=max(width, 1),
        right_count=c_all[present].astype(np.int64),
        class_keys=keys,
        class_size=size,
        class_right=right,
    )
