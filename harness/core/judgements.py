"""Judgements are data: every call a model-based verifier makes, kept in the run directory.

Layout (beside ``verdicts/``)::

    judgements/<verifier>.jsonl             one Judgement per judge call
    judgements/<verifier>.selections.jsonl  one Selection per (problem, method, k, draw)
    judgements/<verifier>.config.json       what decides a call's answer (model, mode, ...)

The same rules as samples hold: lines are appended and flushed (and fsynced) per batch, a
torn last line is dropped, and a resumed verify asks only the calls not on disk. A log is
tied to one judge configuration (``config.json``): a verify with another one is refused
rather than mixing the answers of two judges in one file.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.core.errors import UsageError
from harness.core.records import check_fields
from harness.core.store import JsonlAppender, iter_jsonl, warn_duplicates

if TYPE_CHECKING:
    import pandas as pd

JUDGEMENTS_DIR = "judgements"
POINTWISE = "a"  # the order of a pointwise judgement: only candidate a is shown

Key = tuple[str, int, int | None, str, int]


@dataclass(frozen=True, slots=True)
class Judgement:
    """One judge call: one line of ``judgements/<verifier>.jsonl``.

    Attributes:
        problem_id: The problem.
        a: Sample index of the (first) candidate.
        b: Sample index of the second candidate; None for a pointwise judgement.
        order: ``a`` (pointwise), ``ab`` (a shown first) or ``ba`` (b shown first).
        draw: Which of several sampled judgements of the same question this is.
        outcome: Pointwise ``yes``/``no``; pairwise ``a``/``b`` (the winner, by field,
            whatever the order shown) or ``tie``; ``scored`` for a reward model;
            ``unparsed`` when the judge's answer could not be read.
        score: P(yes) (pointwise), P(a wins) (pairwise) or the reward, where there is one.
        prompt_tokens: Prompt tokens of the call.
        completion_tokens: Tokens the judge generated.
        raw: The judge's answer as generated (its first token's top log-probabilities in
            ``detail`` in logprob mode).
        detail: Anything else worth keeping (what was parsed, log-probabilities).
    """

    problem_id: str
    a: int
    b: int | None = None
    order: str = POINTWISE
    draw: int = 0
    outcome: str = "unparsed"
    score: float | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    raw: str = ""
    detail: dict[str, Any] | None = None

    @property
    def key(self) -> Key:
        return (self.problem_id, self.a, self.b, self.order, self.draw)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Judgement:
        d = check_fields(cls, data)
        d["problem_id"] = str(d["problem_id"])
        d["a"] = int(d["a"])
        d["b"] = None if d.get("b") is None else int(d["b"])
        return cls(**d)


@dataclass(frozen=True, slots=True)
class Selection:
    """Which sample a selection method picked from one random size-k subset of a problem's
    samples: one line of ``judgements/<verifier>.selections.jsonl``.

    Attributes:
        method: ``tournament`` (pairwise knockout) or ``verification`` (judge scores with
            the pairwise tie-break).
        k: Subset size.
        draw: Which seeded subset (0, 1, ...) of size k.
        winner: Sample index picked.
        pointwise_calls: Pointwise judge calls the pick needs (asked once, reused after).
        pairwise_calls: Pairwise judge calls the pick needs.
    """

    problem_id: str
    method: str
    k: int
    draw: int
    winner: int
    pointwise_calls: int = 0
    pairwise_calls: int = 0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def judgements_path(root: Path, verifier: str) -> Path:
    return root / JUDGEMENTS_DIR / f"{verifier}.jsonl"


def selections_path(root: Path, verifier: str) -> Path:
    return root / JUDGEMENTS_DIR / f"{verifier}.selections.jsonl"


def config_path(root: Path, verifier: str) -> Path:
    return root / JUDGEMENTS_DIR / f"{verifier}.config.json"


def _differences(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    keys = sorted(set(old) | set(new))
    return [f"{k}={old.get(k)!r} (now {new.get(k)!r})" for k in keys if old.get(k) != new.get(k)]


class JudgementLog:
    """The judgements of one verifier in one run directory, read once and appended to.

    Args:
        root: The run directory.
        verifier: The verifier's name (the file names).
        config: What decides the answer of a call (model, mode, prompt, sampling); a log
            made with another configuration is refused.
        flush_every: Judgements buffered before a flush (also flushed after
            ``flush_seconds`` and by ``flush``/``close``).
        progress: Called with the number of judgements each flush wrote.
    """

    def __init__(
        self,
        root: Path,
        verifier: str,
        config: Mapping[str, Any],
        flush_every: int = 64,
        flush_seconds: float = 1.0,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        self.root = Path(root)
        self.verifier = verifier
        self.config = json.loads(json.dumps(dict(config), default=str))
        self.path = judgements_path(self.root, verifier)
        self.flush_every = flush_every
        self.flush_seconds = flush_seconds
        self.progress = progress
        self.asked = 0  # judgements written by this process
        self._known: dict[Key, Judgement] = {}
        self._buffer: list[Judgement] = []
        self._last_flush = time.monotonic()
        self._out: JsonlAppender | None = None
        self._selections: JsonlAppender | None = None

    # -- before anything is written -------------------------------------------------------
    def check(self) -> None:
        """Refuse a log made with another configuration (one line; nothing written).

        Raises:
            UsageError: the stored configuration differs, or judgements exist without one.
        """
        stored = config_path(self.root, self.verifier)
        if stored.exists():
            try:
                old = json.loads(stored.read_text())
            except ValueError:
                raise UsageError(f"{stored}: unreadable judge configuration") from None
            diff = _differences(old, self.config)
            if diff:
                raise UsageError(
                    f"{self.path} was made by another {self.verifier} configuration: "
                    f"{'; '.join(diff)}. Judge with the same options, or remove "
                    f"{self.root / JUDGEMENTS_DIR}/{self.verifier}.* and "
                    f"verdicts/{self.verifier}.jsonl to judge again"
                )
        elif self.path.exists() and self.path.stat().st_size:
            raise UsageError(f"{self.path} holds judgements but {stored.name} is missing")

    def open(self) -> JudgementLog:
        """Read what is on disk and get ready to append (writes the configuration once)."""
        self.check()
        stored = config_path(self.root, self.verifier)
        if not stored.exists():
            stored.parent.mkdir(parents=True, exist_ok=True)
            tmp = stored.with_suffix(".json.tmp")
            tmp.write_text(json.dumps(self.config, indent=2) + "\n")
            os.replace(tmp, stored)
        repeated = 0
        for d in iter_jsonl(self.path):
            j = Judgement.from_dict(d)
            if j.key in self._known:
                repeated += 1
                continue
            self._known[j.key] = j
        warn_duplicates(self.path, repeated, "first")
        self._out = JsonlAppender(self.path)
        self._selections = JsonlAppender(selections_path(self.root, self.verifier))
        return self

    # -- reading and appending ---------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._known)

    def __contains__(self, key: object) -> bool:
        return key in self._known

    def get(self, key: Key) -> Judgement | None:
        return self._known.get(key)

    def add(self, judgements: Iterable[Judgement]) -> None:
        """Record new judgements; written at the next flush (by size or by time)."""
        for j in judgements:
            if j.key in self._known:
                continue  # answered twice (a request repeated in one batch): keep the first
            self._known[j.key] = j
            self._buffer.append(j)
        due = time.monotonic() - self._last_flush >= self.flush_seconds
        if len(self._buffer) >= self.flush_every or (due and self._buffer):
            self.flush()

    def flush(self) -> None:
        """Write the buffered judgements as one batch (flushed and fsynced)."""
        self._last_flush = time.monotonic()
        if not self._buffer or self._out is None:
            return
        written = self._out.write_batch(self._buffer)
        self._buffer = []
        self.asked += written
        if self.progress is not None:
            self.progress(written)

    def add_selections(self, selections: Iterable[Selection]) -> None:
        """Append the picks of one batch of problems (after their judgements)."""
        self.flush()
        rows = list(selections)
        if rows and self._selections is not None:
            self._selections.write_batch(rows)

    def close(self) -> None:
        self.flush()
        for f in (self._out, self._selections):
            if f is not None:
                f.close()
        self._out = self._selections = None


def _read_table(path: Path, fields: dict[str, Any], key: list[str], keep: str) -> pd.DataFrame:
    """``fields`` of a JSONL file as a DataFrame, one row per ``key`` (first or last)."""
    import pandas as pd
    import pyarrow as pa

    from harness.core.columns import iter_jsonl_blocks

    tables = list(iter_jsonl_blocks(path, fields)) if path.is_file() else []
    if not tables:
        return pd.DataFrame({name: pd.Series(dtype=object) for name in fields})
    frame = pa.concat_tables(tables).to_pandas()
    frame["problem_id"] = frame["problem_id"].astype(str)
    return frame.drop_duplicates(key, keep="first" if keep == "first" else "last")


def read_selections(root: Path, verifier: str) -> pd.DataFrame:
    """The picks of ``verifier`` as columns (the last line of each (problem, method, k,
    draw) counts: a batch re-played after a crash writes the same picks again)."""
    import pyarrow as pa

    fields = {
        name: pa.int64() for name in ("k", "draw", "winner", "pointwise_calls", "pairwise_calls")
    }
    fields.update(problem_id=pa.string(), method=pa.string())
    key = ["problem_id", "method", "k", "draw"]
    return _read_table(selections_path(root, verifier), fields, key, "last")


def read_judgement_tokens(root: Path, verifier: str) -> pd.DataFrame:
    """problem_id, a, b, order, draw, outcome, prompt_tokens, completion_tokens of every
    judge call (the first line of each call counts, as in the log)."""
    import pyarrow as pa

    fields = {name: pa.int64() for name in ("a", "b", "draw", "prompt_tokens", "completion_tokens")}
    fields.update(problem_id=pa.string(), order=pa.string(), outcome=pa.string())
    key = ["problem_id", "a", "b", "order", "draw"]
    return _read_table(judgements_path(root, verifier), fields, key, "first")
