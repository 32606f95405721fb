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
    ``range(n[p])`` in uniform random order, i.e. the first ``length`` samples of a
    uniformly random permutation. Where ``length**2 <= n`` (duplicates are rare), rows of
    independent positions are drawn again until they hold no duplicate (rejection:
    exact); otherwise Floyd's algorithm picks the subset and a shuffle orders it.
    """
    nn = np.repeat(np.asarray(n, dtype=np.int64), orders)
    out = np.empty((nn.size, length), dtype=np.int64)
    sparse = length * length <= nn
    todo = np.flatnonzero(sparse)
    while todo.size:
        draw = np.floor(rng.random((todo.size, length)) * nn[todo, None]).astype(np.int64)
        ranked = np.sort(draw, axis=1)
        clash = (ranked[:, 1:] == ranked[:, :-1]).any(axis=1)
        out[todo[~clash]] = draw[~clash]
        todo = todo[clash]
    dense = np.flatnonzero(~sparse)
    if dense.size:
        out[dense] = _floyd(nn[dense], length, rng)
    return out


def _floyd(nn: IntArray, length: int, rng: np.random.Generator) -> IntArray:
    rows = nn.size
    picked = np.empty((rows, length), dtype=np.int64)
    for i in range(length):
        top = nn - length + i  # draw from 0..top; if taken, take top itself
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


def class_table(
    problem: npt.NDArray[np.integer], cls: IntArray, correct: BoolArray, width: int
) -> tuple[IntArray, IntArray, IntArray]:
    """(key ``problem * width + class``, samples, right samples) of every answer class
    present (samples without an answer, class -1, left out); keys sorted."""
    size = (int(problem.max(initial=0)) + 1) * width
    key: IntArray = np.multiply(problem, width, dtype=np.int64)  # bincount wants int64
    np.add(key, cls, out=key)
    if int(cls.min(initial=0)) < 0:  # samples without an answer are no class
        answered = cls >= 0
        key, correct = key[answered], correct[answered]
    if size <= 4 * key.size + 1024:  # dense: two bincounts, no sort
        sizes = np.bincount(key, minlength=size)
        present = np.flatnonzero(sizes)
        rights = np.bincount(key[correct], minlength=size)[present]
        return present.astype(np.int64), sizes[present].astype(np.int64), rights.astype(np.int64)
    keys, inverse, sizes = np.unique(key, return_inverse=True, return_counts=True)
    rights = np.bincount(inverse[correct], minlength=keys.size)
    return keys.astype(np.int64), sizes.astype(np.int64), rights.astype(np.int64)
