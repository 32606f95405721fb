"""Random draw orders and the running state of stopping rules, for ``analysis.stopping``.

Every (problem, order) pair is a row; a rule's state is one array entry per row, updated
for all rows at once at each draw position.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


def draw_positions(n: IntArray, length: int, orders: int, rng: np.random.Generator) -> IntArray:
    """``orders`` random draw sequences of ``length`` distinct positions per problem.

    Row ``p * orders + r`` is order r of problem p: a uniform random ``length``-subset of
    ``range(n[p])`` (Floyd's algorithm, every row at once) in uniform random order.
    """
    nn = np.repeat(np.asarray(n, dtype=np.int64), orders)
    rows = nn.size
    picked = np.empty((rows, length), dtype=np.int64)
    for i in range(length):
        top = nn - length + i  # Floyd: draw from 0..top; if taken, take top itself
        draw = np.floor(rng.random(rows) * (top + 1)).astype(np.int64)
        taken = (picked[:, :i] == draw[:, None]).any(axis=1)
        picked[:, i] = np.where(taken, top, draw)
    shuffle = np.argsort(rng.random((rows, length)), axis=1)
    out: IntArray = np.take_along_axis(picked, shuffle, axis=1)
    return out


def local_classes(cls: IntArray) -> IntArray:
    """Each row's classes renumbered 0.. by rank (order kept, so ties still go to the
    class that appeared first in the problem)."""
    order = np.argsort(cls, axis=1, kind="stable")
    ranked = np.take_along_axis(cls, order, axis=1)
    step = np.zeros(cls.shape, dtype=np.int64)
    step[:, 1:] = ranked[:, 1:] != ranked[:, :-1]
    local = np.empty_like(step)
    np.put_along_axis(local, order, np.cumsum(step, axis=1), axis=1)
    return local


@dataclass
class Votes:
    """Running majority state of every row: leading votes, runner-up, leader, its class."""

    rows: int
    width: int
    counts: IntArray = field(init=False)
    top: IntArray = field(init=False)
    second: IntArray = field(init=False)
    ntop: IntArray = field(init=False)
    leader: IntArray = field(init=False)
    good: BoolArray = field(init=False)

    def __post_init__(self) -> None:
        self.counts = np.zeros(self.rows * self.width, dtype=np.int64)
        self.top, self.second, self.ntop = (np.zeros(self.rows, np.int64) for _ in range(3))
        self.leader = np.full(self.rows, self.width, dtype=np.int64)
        self.good = np.zeros(self.rows, dtype=bool)

    def add(self, local: IntArray, votes: BoolArray, good: BoolArray) -> None:
        """One draw per row (class ``local``; ``votes`` False: no answer, no vote)."""
        at = np.arange(self.rows, dtype=np.int64) * self.width + local
        new = self.counts[at] + votes
        self.counts[at] = new
        up = votes & (new > self.top)  # the class now leads alone (it was level with the lead)
        level = votes & (new == self.top) & ~up
        below = votes & (new < self.top)
        self.second = np.where(up & (self.ntop >= 2), self.top, self.second)
        self.second = np.where(below, np.maximum(self.second, new), self.second)
        take = up | (level & (local < self.leader))
        self.leader = np.where(take, local, self.leader)
        self.good = np.where(take, good, self.good)
        self.ntop = np.where(up, 1, self.ntop + level)
        self.top = np.where(up, new, self.top)

    @property
    def runner_up(self) -> IntArray:
        out: IntArray = np.where(self.ntop >= 2, self.top, self.second)
        return out


@dataclass
class Stops:
    """Where each row stopped under one rule, and whether its answer was right."""

    rows: int
    cap: int
    at: IntArray = field(init=False)
    right: FloatArray = field(init=False)

    def __post_init__(self) -> None:
        self.at = np.full(self.rows, self.cap, dtype=np.int64)
        self.right = np.full(self.rows, np.nan)

    def stop(self, when: BoolArray, step: int, right: npt.ArrayLike) -> None:
        new = when & np.isnan(self.right)
        self.at[new] = step
        self.right[new] = np.broadcast_to(np.asarray(right, dtype=np.float64), new.shape)[new]

    def finish(self, right: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
        """(draws, right) per row: rows that never stopped take the answer at the cap."""
        self.right = np.where(np.isnan(self.right), np.asarray(right, np.float64), self.right)
        return self.at.astype(np.float64), self.right


def group_counts(
    group: IntArray,
    member: IntArray,
    weights: npt.ArrayLike | None = None,
    per_row: bool = False,
) -> tuple[IntArray, FloatArray]:
    """Distinct keys ``group * width + member`` and their counts (or weight sums); with
    ``per_row``, (keys, each row's own group sum) instead."""
    width = int(member.max(initial=0)) + 1
    key = group * width + member
    size = (int(group.max(initial=0)) + 1) * width
    if size <= 4 * key.size + 1024:  # dense: bincounts, no sort
        sums = np.bincount(key, weights=weights, minlength=size)
        if per_row:
            return key, np.asarray(sums[key], dtype=np.float64)
        present = np.flatnonzero(np.bincount(key, minlength=size))
        return present.astype(np.int64), np.asarray(sums[present], dtype=np.float64)
    keys, inverse = np.unique(key, return_inverse=True)
    sums = np.bincount(inverse, weights=weights, minlength=keys.size)
    if per_row:
        return key, np.asarray(sums[inverse], dtype=np.float64)
    return keys.astype(np.int64), np.asarray(sums, dtype=np.float64)
