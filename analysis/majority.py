"""Majority vote over answer equivalence classes, and majority@k for every k.

The vote is a plurality over the class ids verifiers write into verdicts (equivalence
classes, not raw strings); samples without an answer do not vote. Ties go to the class
that appeared first in the problem's samples (the smallest class id, since ids are
numbered in order of first appearance); ties are reported with the vote.

majority@k is the expected accuracy of a majority vote over a uniformly random size-k
subset of a problem's n samples. It is computed exactly where that is cheap (n <= 1000,
by counting subsets per class with polynomial products) and otherwise estimated from
``num_subsets`` seeded random subsets (100 by default, as in Large Language Monkeys):
random permutations whose prefixes are random subsets of every size at once.
"""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.special import comb

FloatArray = npt.NDArray[np.float64]
EXACT_MAX_N = 1000  # C(1000, 500) ~ 2.7e299 still fits a float64
EXACT_MAX_WORK = 2e9  # multiply-adds allowed for one problem's exact curve (~1 s)
DEFAULT_SUBSETS = 100


@dataclass(frozen=True)
class Vote:
    """The outcome of one majority vote.

    Attributes:
        class_id: The winning class (None when no sample had an answer).
        votes: Samples in the winning class.
        correct: Whether the winning class is judged correct.
        tied: Other classes with as many votes, which lost the tie-break.
    """

    class_id: int | None
    votes: int
    correct: bool
    tied: tuple[int, ...] = ()


def _class_table(
    class_ids: Sequence[int | None], correct: Sequence[bool]
) -> tuple[dict[int, int], set[int]]:
    """Votes per class and the set of classes judged correct (any correct member)."""
    if len(class_ids) != len(correct):
        raise ValueError("class_ids and correct must have the same length")
    counts: Counter[int] = Counter()
    good: set[int] = set()
    for cid, ok in zip(class_ids, correct, strict=True):
        if cid is None:
            continue
        counts[int(cid)] += 1
        if ok:
            good.add(int(cid))
    return dict(counts), good


def majority_vote(class_ids: Sequence[int | None], correct: Sequence[bool]) -> Vote:
    """Plurality vote over classes; ties go to the smallest class id (first to appear)."""
    counts, good = _class_table(class_ids, correct)
    if not counts:
        return Vote(None, 0, False)
    top = max(counts.values())
    leaders = sorted(c for c, v in counts.items() if v == top)
    winner = leaders[0]
    return Vote(winner, top, winner in good, tuple(leaders[1:]))


def _exact_curve(
    sizes: dict[int, int], good: set[int], n: int, ks: npt.NDArray[np.int64]
) -> FloatArray:
    """Exact P(majority of a random k-subset is a correct class) for each k in ``ks``.

    For a target class t with m_t samples, count the k-subsets holding x of its samples
    in which every other class j has fewer (j < t wins ties) or at most x (j > t): the
    product over constrained classes of sum_s C(m_j, s) z^s, with unconstrained samples
    contributing (1 + z)^U, read at z^(k - x).
    """
    kmax = int(ks.max())
    total = np.zeros(kmax + 1)
    for t in sorted(good):
        m_t = sizes[t]
        for x in range(1, min(m_t, kmax) + 1):
            poly = np.ones(1)
            free = n - m_t  # samples of classes that cannot beat t at this x, and no-answer
            for j, m_j in sizes.items():
                if j == t:
                    continue
                cap = x - 1 if j < t else x
                if m_j <= cap:
                    continue
                free -= m_j
                poly = np.convolve(poly, comb(m_j, np.arange(cap + 1)))[: kmax - x + 1]
            free_row = comb(free, np.arange(min(free, kmax - x) + 1))
            poly = np.convolve(poly, free_row)[: kmax - x + 1]
            total[x : x + len(poly)] += comb(m_t, x) * poly
    return np.asarray(total[ks] / comb(n, ks), dtype=np.float64)


def _exact_work(sizes: dict[int, int], good: set[int], kmax: int) -> float:
    """Rough multiply-add count of ``_exact_curve`` (to decide whether to sample)."""
    work = 0.0
    for t in good:
        for x in range(1, min(sizes[t], kmax) + 1):
            constrained = sum(1 for j, m in sizes.items() if j != t and m >= x)
            work += (constrained + 1) * (x + 1) * (kmax - x + 1)
    return work


def _sampled_curve(
    labels: npt.NDArray[np.int64],
    good_mask: npt.NDArray[np.bool_],
    ks: npt.NDArray[np.int64],
    num_subsets: int,
    rng: np.random.Generator,
) -> FloatArray:
    """Mean majority accuracy over ``num_subsets`` random permutations' k-prefixes.

    Every prefix of every permutation at once, without a loop over k: a draw's vote
    count is its rank among the same class's draws so far; the leading count after
    each draw is the running maximum of those; and the leader is the smallest class
    id that reached the leading count since it last grew (a running minimum that
    restarts whenever the leading count grows; ties go to the smaller id).
    """
    n = len(labels)
    kmax = int(ks.max())
    classes = len(good_mask)  # label ``classes``: no answer, which never votes
    # int32 where it fits: fresh pages cost more here than the arithmetic does.
    # (largest offset, sort key or draw position)
    bound = max((max(kmax, num_subsets) + 1) * (classes + 1), num_subsets * kmax)
    dtype = np.int32 if bound < 2**31 else np.int64
    order = np.argsort(rng.random((num_subsets, n)), axis=1)[:, :kmax]
    drawn = labels.astype(dtype)[order]
    votes = _running_counts(drawn, classes + 1)
    votes[drawn == classes] = 0
    lead = np.maximum.accumulate(votes, axis=1)
    # Candidates for the lead: draws that reach it; others (and no answer) rank last.
    reach = votes == lead
    reach &= votes > 0
    leader = np.where(reach, drawn, dtype(classes))
    # Offsets that fall as the lead grows restart the running minimum at each growth.
    offset = np.subtract(kmax, lead, out=lead)
    offset *= classes + 1
    leader += offset
    np.minimum.accumulate(leader, axis=1, out=leader)
    leader -= offset
    hits = np.append(good_mask, False)[leader].mean(axis=0)
    return np.asarray(hits[ks - 1], dtype=np.float64)


def _running_counts(drawn: npt.NDArray[Any], width: int) -> npt.NDArray[Any]:
    """For each draw, how many times its row has drawn that label so far (itself included)."""
    rows, steps = drawn.shape
    keys = (drawn + drawn.dtype.type(width) * np.arange(rows, dtype=drawn.dtype)[:, None]).ravel()
    order = np.argsort(keys, kind="stable")  # groups by (row, label), draws kept in order
    sorted_keys = keys[order]
    position = np.arange(keys.size, dtype=drawn.dtype)
    first = np.ones(keys.size, dtype=bool)
    np.not_equal(sorted_keys[1:], sorted_keys[:-1], out=first[1:])
    group_start = np.maximum.accumulate(np.where(first, position, 0))
    counts = np.empty(keys.size, dtype=drawn.dtype)
    counts[order] = position - group_start + 1
    return counts.reshape(rows, steps)


def majority_at_k(
    class_ids: Sequence[int | None],
    correct: Sequence[bool],
    ks: Sequence[int] | npt.ArrayLike | None = None,
    num_subsets: int = DEFAULT_SUBSETS,
    seed: int | str = 0,
) -> FloatArray:
    """majority@k of one problem for each k (default 1..n).

    Args:
        class_ids: Per-sample answer class (None: no answer).
        correct: Per-sample verdict.
        ks: Subset sizes, each in 1..n.
        num_subsets: Random subsets per k when the exact count is too costly.
        seed: Seed of those subsets (same seed, same estimate).

    Returns:
        Expected accuracy of the majority vote over random size-k subsets, per k.
    """
    n = len(class_ids)
    ks_arr = np.arange(1, n + 1) if ks is None else np.atleast_1d(np.asarray(ks, dtype=np.int64))
    if n == 0 or ks_arr.size == 0:
        return np.zeros(ks_arr.size)
    if ks_arr.min() < 1 or ks_arr.max() > n:
        raise ValueError(f"majority_at_k: k must be in 1..{n}")
    sizes, good = _class_table(class_ids, correct)
    if not good:
        return np.zeros(ks_arr.size)
    kmax = int(ks_arr.max())
    if n <= EXACT_MAX_N and _exact_work(sizes, good, kmax) <= EXACT_MAX_WORK:
        return np.clip(_exact_curve(sizes, good, n, ks_arr), 0.0, 1.0)
    ids = sorted(sizes)
    index = {c: i for i, c in enumerate(ids)}
    labels = np.array([len(ids) if c is None else index[int(c)] for c in class_ids])
    good_mask = np.array([c in good for c in ids])
    key = seed if isinstance(seed, int) else zlib.crc32(str(seed).encode())
    rng = np.random.default_rng(key)
    return _sampled_curve(labels, good_mask, ks_arr, num_subsets, rng)


def majority_curve(
    verdicts: pd.DataFrame,
    ks: Sequence[int] | None = None,
    num_subsets: int = DEFAULT_SUBSETS,
    seed: int = 0,
) -> pd.DataFrame:
    """Mean majority@k over problems: columns ``k``, ``majority``.

    Args:
        verdicts: Columns ``problem_id``, ``sample_index``, ``class_id``, ``correct``.
        ks: Subset sizes (default 1..the smallest n over problems).
        num_subsets: Random subsets per k where exact counting is too costly.
        seed: Base seed; each problem's subsets are seeded by (seed, problem id).
    """
    groups = list(_groups(verdicts))
    if not groups:
        return pd.DataFrame({"k": pd.Series(dtype=int), "majority": pd.Series(dtype=float)})
    n_min = min(len(c) for _, c, _ in groups)
    ks_arr = np.arange(1, n_min + 1) if ks is None else np.asarray(ks, dtype=np.int64)
    curves = [
        majority_at_k(c, ok, ks_arr, num_subsets, seed=f"{seed}/{pid}") for pid, c, ok in groups
    ]
    return pd.DataFrame({"k": ks_arr, "majority": np.mean(curves, axis=0)})


def _groups(
    verdicts: pd.DataFrame,
) -> list[tuple[str, list[int | None], list[bool]]]:
    """Per problem (in first-appearance order): class ids and verdicts in sample order."""
    table = verdicts.drop_duplicates(["problem_id", "sample_index"], keep="last")
    out = []
    for pid, unordered in table.groupby("problem_id", sort=False):
        group = unordered.sort_values("sample_index", kind="stable")
        ids = [None if pd.isna(c) else int(c) for c in group["class_id"]]
        out.append((str(pid), ids, [bool(v) for v in group["correct"]]))
    return out


def majority_votes(verdicts: pd.DataFrame) -> pd.DataFrame:
    """The majority vote of every problem over all its samples, ties recorded.

    Returns:
        Columns problem_id, n, class_id, votes, correct, tied (space-separated class ids
        that tied with the winner and lost the tie-break to it).
    """
    rows = []
    for pid, ids, ok in _groups(verdicts):
        vote = majority_vote(ids, ok)
        rows.append(
            {
                "problem_id": pid,
                "n": len(ids),
                "class_id": vote.class_id,
                "votes": vote.votes,
                "correct": vote.correct,
                "tied": " ".join(str(c) for c in vote.tied),
            }
        )
    frame = pd.DataFrame(rows, columns=["problem_id", "n", "class_id", "votes", "correct", "tied"])
    frame["class_id"] = frame["class_id"].astype("Int64")
    return frame
