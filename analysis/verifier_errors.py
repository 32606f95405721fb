"""How an imperfect verifier errs, judged against a ground-truth verifier of the same run.

A false positive (the verifier accepts a wrong sample) inflates the coverage the
verifier reports and, worse, lets a wrong answer be selected; a false negative hides a
right one. Reported: the confusion counts and rates over all samples, the coverage each
verifier would claim, and the accuracy of submitting a random accepted sample out of k
("accept@k"), which is what deploying the imperfect verifier as a filter gives.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from analysis.passk import coverage_curve
from analysis.selection import align, best_of_k_curve
from harness.core.coltypes import VerdictColumns


@dataclass(frozen=True)
class Confusion:
    """Confusion counts of a verifier's ``correct`` against the ground truth's."""

    true_positive: int
    false_positive: int
    false_negative: int
    true_negative: int

    @property
    def total(self) -> int:
        return self.true_positive + self.false_positive + self.false_negative + self.true_negative

    def _ratio(self, num: int, den: int) -> float:
        return num / den if den else float("nan")

    def to_dict(self) -> dict[str, Any]:
        tp, fp, fn, tn = (
            self.true_positive,
            self.false_positive,
            self.false_negative,
            self.true_negative,
        )
        return {
            "samples": self.total,
            "true_positive": tp,
            "false_positive": fp,
            "false_negative": fn,
            "true_negative": tn,
            "precision": self._ratio(tp, tp + fp),
            "recall": self._ratio(tp, tp + fn),
            "false_positive_rate": self._ratio(fp, fp + tn),
            "false_negative_rate": self._ratio(fn, fn + tp),
            "accuracy": self._ratio(tp + tn, self.total),
        }


@dataclass(frozen=True)
class VerifierErrors:
    """Errors of one verifier against the ground truth, on the samples both judged."""

    verifier: str
    truth: str
    confusion: Confusion
    per_problem: pd.DataFrame
    curves: pd.DataFrame


def verifier_errors(
    truth: VerdictColumns,
    other: VerdictColumns,
    ks: npt.ArrayLike,
    names: tuple[str, str] = ("truth", "verifier"),
) -> VerifierErrors:
    """Compare ``other``'s verdicts with ``truth``'s on the samples both judged.

    Args:
        truth: Ground-truth verdicts.
        other: The verifier under study.
        ks: k values of the curves (at most the smallest shared samples per problem).
        names: (ground-truth name, verifier name) for labels.

    Returns:
        Confusion counts, a per-problem table (problem_id, n, correct, accepted, false
        positives, false negatives) and curves (k, true coverage, claimed coverage,
        accept@k accuracy).

    Raises:
        ValueError: the two share no sample.
    """
    pos_t, pos_o = align(truth, other)
    if pos_t.size == 0:
        raise ValueError("verifier_errors: the verifiers judged no common sample")
    problem = truth.problem[pos_t]
    right = truth.correct[pos_t]
    said = other.correct[pos_o]
    conf = Confusion(
        true_positive=int(np.sum(right & said)),
        false_positive=int(np.sum(~right & said)),
        false_negative=int(np.sum(right & ~said)),
        true_negative=int(np.sum(~right & ~said)),
    )
    # Re-code the shared problems densely so every code is present.
    present, dense = np.unique(problem, return_inverse=True)
    size = present.size

    def per(values: npt.NDArray[np.bool_]) -> npt.NDArray[np.int64]:
        return np.bincount(dense, weights=values, minlength=size).round().astype(np.int64)

    n = np.bincount(dense, minlength=size).astype(np.int64)
    table = pd.DataFrame(
        {
            "problem_id": [truth.problem_ids[i] for i in present],
            "n": n,
            "correct": per(right),
            "accepted": per(said),
            "false_positives": per(~right & said),
            "false_negatives": per(right & ~said),
        }
    )
    k = np.asarray(ks, dtype=np.int64)
    k = k[k <= n.min()]
    curves = pd.DataFrame(
        {
            "k": k,
            "true_coverage": coverage_curve(n, table["correct"].to_numpy(), k),
            "claimed_coverage": coverage_curve(n, table["accepted"].to_numpy(), k),
            # Submit a random accepted sample (a random one when none is accepted).
            "accept_at_k": best_of_k_curve(dense, said.astype(np.float64), right, k),
        }
    )
    return VerifierErrors(names[1], names[0], conf, table, curves)
