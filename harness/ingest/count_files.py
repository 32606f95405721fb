"""Reading ``--format counts`` files: how many of each problem's samples were correct, as
papers release it.

Two shapes:

flat rows (CSV, JSONL, Parquet or a JSON array)
    ``problem_id`` (or ``task_id``, ``id``), ``n``, ``c`` (correct out of n); optional
    ``prompt_tokens`` and ``completion_tokens`` (mean per sample), ``prompt``/``question``
    and ``reference``/``answer``; every other scalar column is kept as problem metadata
    (a ``split`` column feeds ``harness compare --split-key split``). One run.
a results release (one JSON document)
    ``settings`` (or ``configurations``): a list of ``{"name", "runs" (or "n")}`` with
    optional ``model``, ``temperature``, ``seed``, ``label``, ``cost_per_sample``,
    ``prompt_tokens``, ``completion_tokens``; ``training_instances`` and
    ``testing_instances`` (or ``train_problems``/``test_problems``, or ``problems`` when
    there is no split): problem ids; ``train`` and ``test`` (or ``counts``): for each
    configuration (its index, as OSCA releases, or its name) the correct counts in the
    order of the matching problem list. Each configuration becomes a run under the output
    folder, its problems tagged ``split`` = ``train``, ``test`` or ``both``.

Both are read whole and checked (``read_flat``, ``read_release``) into ``CountsRun``s
before ``harness.ingest.counts`` writes anything.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.core.errors import UsageError
from harness.core.records import Problem
from harness.ingest.formats import (
    ID_FIELDS,
    PROMPT_KEYS,
    REFERENCE_KEYS,
    RELEASE_KEYS,
    first,
    iter_rows,
)
from harness.ingest.meta import ImportMeta

ROW_IDS = (*ID_FIELDS, "id")
TOKEN_FIELDS = ("prompt_tokens", "completion_tokens")
# (problem-list keys, counts key, split label) of a release, in the order they are read.
RELEASE_PARTS = (
    (("training_instances", "train_problems"), "train", "train"),
    (("testing_instances", "test_problems"), "test", "test"),
    (("problems",), "counts", None),
)
CONFIG_FIELDS = {"name", "runs", "n", "model", "temperature", "seed", "label"}
CONFIG_FIELDS |= {"cost_per_sample", *TOKEN_FIELDS}


@dataclass
class CountsRun:
    """One configuration's counts, checked, ready to be written as a run."""

    name: str | None
    problems: list[Problem]
    n: list[int]
    c: list[int]
    tokens: dict[str, list[float]]
    meta: ImportMeta
    options: dict[str, Any]


def _count(value: Any, what: str, where: str, least: int = 0) -> int:
    """A whole number >= ``least`` (``300.0`` from a float column counts as 300)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise UsageError(f"{where}: {what} must be a whole number, got {value!r}")
    if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
        raise UsageError(f"{where}: {what} must be a whole number, got {value!r}")
    if value < least:
        raise UsageError(f"{where}: {what} must be >= {least}, got {value!r}")
    return int(value)


def _tokens(value: Any, what: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise UsageError(f"{where}: {what} must be a number >= 0, got {value!r}")
    return float(value)


def _n_and_c(n_raw: Any, c_raw: Any, where: str) -> tuple[int, int]:
    n = _count(n_raw, "n", where, least=1)
    c = _count(c_raw, "c", where)
    if c > n:
        raise UsageError(f"{where}: c > n ({c} correct of {n} samples)")
    return n, c


def read_flat(path: Path, meta: ImportMeta) -> CountsRun:
    """The rows of a flat counts file, checked.

    Raises:
        UsageError: naming the row: a missing id, n or c; c > n; a repeated problem id;
            token counts that are not numbers >= 0.
    """
    problems: dict[str, Problem] = {}
    ns: list[int] = []
    cs: list[int] = []
    tokens: dict[str, list[float | None]] = {k: [] for k in TOKEN_FIELDS}
    for number, row in iter_rows(path, batch_rows=4096):
        where = f"{path}:{number}"
        pid_raw = first(row, ROW_IDS)
        if pid_raw is None or "n" not in row or "c" not in row:
            raise UsageError(f"{where}: needs fields 'problem_id' (or 'task_id', 'id'), 'n', 'c'")
        pid = str(pid_raw)
        if pid in problems:
            raise UsageError(f"{where}: duplicate problem id {pid!r}")
        n, c = _n_and_c(row["n"], row["c"], where)
        for key in TOKEN_FIELDS:
            tokens[key].append(None if row.get(key) is None else _tokens(row[key], key, where))
        skip = {*ROW_IDS, "n", "c", *TOKEN_FIELDS, *PROMPT_KEYS, *REFERENCE_KEYS}
        metadata = {
            k: v
            for k, v in row.items()
            if k not in skip and isinstance(v, str | int | float | bool)
        }
        prompt, reference = first(row, PROMPT_KEYS), first(row, REFERENCE_KEYS)
        problems[pid] = Problem(
            pid,
            "" if prompt is None else str(prompt),
            None if reference is None else str(reference),
            metadata=metadata,
        )
        ns.append(n)
        cs.append(c)
    if not problems:
        raise UsageError(f"{path}: no rows")
    kept: dict[str, list[float]] = {}
    for key, values in tokens.items():
        known = [v for v in values if v is not None]
        if known and len(known) < len(values):
            raise UsageError(
                f"{path}: {key!r} is given for {len(known)} of {len(values)} problems; "
                "give it for all or none"
            )
        if known:
            kept[key] = known
    return CountsRun(None, list(problems.values()), ns, cs, kept, meta, {})


def _config_meta(
    entry: dict[str, Any], name: str, defaults: ImportMeta, pattern: re.Pattern[str] | None
) -> ImportMeta:
    """A configuration's facts: its own fields, then what ``pattern`` reads from its name,
    then the import's flags."""
    found: dict[str, Any] = {}
    if pattern is not None:
        match = pattern.fullmatch(name)
        if match is None:
            raise UsageError(f"configuration {name!r} does not match --name-pattern")
        found = {k: v for k, v in match.groupdict().items() if v is not None}
    found |= {
        k: entry[k]
        for k in ("model", "temperature", "seed", "label", "cost_per_sample")
        if entry.get(k) is not None
    }
    try:
        own = ImportMeta(
            model=str(found.get("model", "")) or defaults.model,
            temperature=None if "temperature" not in found else float(found["temperature"]),
            seed=None if "seed" not in found else int(found["seed"]),
            label=str(found.get("label", name)),
            cost_per_sample=(
                None if "cost_per_sample" not in found else float(found["cost_per_sample"])
            ),
            cost_unit=defaults.cost_unit,
        )
    except (TypeError, ValueError) as e:
        raise UsageError(f"configuration {name!r}: {e}") from None
    return own.with_defaults(defaults).check(f"configuration {name!r}")


def _problem_list(doc: dict[str, Any], keys: tuple[str, ...], path: Path) -> list[str] | None:
    key = next((k for k in keys if k in doc), None)
    if key is None:
        return None
    ids = doc[key]
    if not isinstance(ids, list) or not all(isinstance(i, str | int) for i in ids):
        raise UsageError(f"{path}: {key!r} must be a list of problem ids")
    names = [str(i) for i in ids]
    if len(set(names)) != len(names):
        raise UsageError(f"{path}: {key!r} names a problem twice")
    return names


def read_release(
    path: Path, doc: dict[str, Any], defaults: ImportMeta, pattern: str | None = None
) -> list[CountsRun]:
    """Every configuration of a results release, checked (see the module docstring).

    Raises:
        UsageError: naming the configuration and problem: a missing list, a count list
            of the wrong length, c > runs, a problem in both lists with other counts, an
            unknown configuration key, or a name that ``pattern`` does not match.
    """
    if defaults.label is not None:
        raise UsageError("--label names one run; a release's runs are named by its configurations")
    regex = None
    if pattern is not None:
        try:
            regex = re.compile(pattern)
        except re.error as e:
            raise UsageError(f"--name-pattern {pattern!r}: {e}") from None
    configs = next(doc[k] for k in RELEASE_KEYS if k in doc)
    if not isinstance(configs, list) or not configs:
        raise UsageError(f"{path}: the list of configurations is empty or not a list")
    parts = []
    for keys, counts_key, label in RELEASE_PARTS:
        ids = _problem_list(doc, keys, path)
        if ids is not None:
            if not isinstance(doc.get(counts_key), dict):
                raise UsageError(
                    f"{path}: {keys[0]!r} needs {counts_key!r}: configuration -> counts"
                )
            parts.append((ids, doc[counts_key], counts_key, label))
    if not parts:
        raise UsageError(
            f"{path}: no problem lists (training_instances, testing_instances or problems)"
        )
    names: list[str] = []
    for index, entry in enumerate(configs):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str | int):
            raise UsageError(f"{path}: configuration {index} needs a 'name'")
        names.append(str(entry["name"]))
    if len(set(names)) != len(names):
        raise UsageError(f"{path}: two configurations share a name")
    for _, table, counts_key, _ in parts:
        unknown = sorted(set(map(str, table)) - set(names) - {str(i) for i in range(len(names))})
        if unknown:
            raise UsageError(
                f"{path}: {counts_key!r} has counts of unknown configuration(s) "
                + ", ".join(unknown)
            )
    return [
        _release_config(path, index, names[index], entry, parts, defaults, regex)
        for index, entry in enumerate(configs)
    ]


def _release_config(
    path: Path,
    index: int,
    name: str,
    entry: dict[str, Any],
    parts: list[tuple[list[str], dict[str, Any], str, str | None]],
    defaults: ImportMeta,
    regex: re.Pattern[str] | None,
) -> CountsRun:
    where = f"{path}: configuration {name!r}"
    runs = entry.get("runs", entry.get("n"))
    n = _count(runs, "'runs' (samples per problem)", where, least=1)
    split: dict[str, str | None] = {}
    counts: dict[str, int] = {}
    for ids, table, counts_key, label in parts:
        values = table.get(str(index), table.get(name))
        if values is None:
            raise UsageError(f"{where}: no counts in {counts_key!r}")
        if not isinstance(values, list) or len(values) != len(ids):
            got = len(values) if isinstance(values, list) else type(values).__name__
            raise UsageError(f"{where}: {counts_key!r} has {got} counts for {len(ids)} problems")
        for pid, value in zip(ids, values, strict=True):
            _, c = _n_and_c(n, value, f"{where}, problem {pid!r}")
            if pid in counts and counts[pid] != c:
                raise UsageError(
                    f"{where}: problem {pid!r} is in two lists with different counts "
                    f"({counts[pid]} and {c})"
                )
            counts[pid] = c
            before = split.get(pid, label)
            split[pid] = label if before == label else "both"
    tokens = {k: float(_tokens(entry[k], k, where)) for k in TOKEN_FIELDS if k in entry}
    problems = [
        Problem(pid, "", metadata={} if label is None else {"split": label})
        for pid, label in split.items()
    ]
    extra = {k: v for k, v in entry.items() if k not in CONFIG_FIELDS}
    return CountsRun(
        name,
        problems,
        [n] * len(problems),
        [counts[p.id] for p in problems],
        {k: [v] * len(problems) for k, v in tokens.items()},
        _config_meta(entry, name, defaults, regex),
        {"configuration": name, **({"release": extra} if extra else {})},
    )
