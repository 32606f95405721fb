"""Competitive-programming rows read as stdin/stdout problems, whatever dataset they come from.

Three row formats are told apart by their columns:

* **CodeContests** (``deepmind/code_contests``): ``name``, ``description``,
  ``public_tests`` / ``private_tests`` / ``generated_tests`` (each ``{"input": [...],
  "output": [...]}``), ``time_limit`` (``{"seconds", "nanos"}`` or null),
  ``memory_limit_bytes``, ``difficulty``, ``source``, ``cf_rating``, ``cf_tags``,
  ``solutions`` (``{"language": [...], "solution": [...]}``).
* **APPS** / TACO (``codeparrot/apps``): ``problem_id``, ``question``, ``input_output``
  (JSON text ``{"inputs": [...], "outputs": [...]}``, with ``fn_name`` for call-based
  problems), ``difficulty``, ``url``, ``solutions`` (JSON text).
* **LiveCodeBench** (``livecodebench/code_generation_lite``): ``question_id``,
  ``question_title``, ``question_content``, ``public_test_cases`` and
  ``private_test_cases`` (JSON text of ``[{"input", "output", "testtype"}]``; the
  private ones may be base64 of zlib-compressed pickled JSON text), ``platform``,
  ``difficulty``, ``contest_date``.

Call-based problems (APPS ``fn_name``, LiveCodeBench ``functional`` tests) are not
stdin/stdout programs: ``ContestRow.call_based`` marks them so the task can skip them.
Malformed tests (an input without its output, a problem without any test) raise a
``UsageError`` that names the row.
"""

from __future__ import annotations

import base64
import io
import json
import pickle
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.core.errors import UsageError
from tasks._files import Row

CODECONTESTS_SETS = ("public", "private", "generated")
# CodeContests' language ids: 3 is Python 3 (1 is Python 2).
_PYTHON3 = 3
_IMAGE_TAGS = ("<image>", "[Image]")


@dataclass
class ContestRow:
    """One problem of any of the formats, as the task needs it."""

    id: str
    statement: str
    tests: list[dict[str, str]]
    time_limit_s: float | None = None
    reference: str | None = None
    call_based: bool = False
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def has_images(self) -> bool:
        """Whether the statement refers to a picture the model cannot see."""
        return any(tag in self.statement for tag in _IMAGE_TAGS)


def row_format(data: dict[str, Any]) -> str:
    """``codecontests``, ``apps`` or ``livecodebench``, from a row's columns.

    Raises:
        UsageError: the columns match none of them.
    """
    if "description" in data and any(f"{s}_tests" in data for s in CODECONTESTS_SETS):
        return "codecontests"
    if "question" in data and "input_output" in data:
        return "apps"
    if "question_content" in data and "public_test_cases" in data:
        return "livecodebench"
    raise UsageError(
        "expected CodeContests columns (name, description, public_tests, private_tests, "
        "generated_tests), APPS columns (question, input_output) or LiveCodeBench columns "
        f"(question_content, public_test_cases); got {', '.join(sorted(data)) or 'none'}"
    )


def parse_row(row: Row, sets: Sequence[str]) -> ContestRow:
    """The problem of one row (its format told from its columns).

    Args:
        row: The data row.
        sets: Which test sets to keep (CodeContests' ``public``, ``private``,
            ``generated``; APPS has one set, counted as ``private``; LiveCodeBench has
            ``public`` and ``private``).

    Raises:
        UsageError: unknown columns, a malformed test, or no test at all.
    """
    try:
        fmt = row_format(row.data)
    except UsageError as e:
        raise UsageError(f"{row.where}: {e}") from None
    parsed = {"codecontests": _codecontests, "apps": _apps, "livecodebench": _livecodebench}[fmt](
        row, sets
    )
    parsed.metadata["format"] = fmt
    if not parsed.tests and not parsed.call_based:
        wanted = ", ".join(sets)
        raise UsageError(f"{row.where}: problem {parsed.id!r} has no tests (sets: {wanted})")
    return parsed


def _text(row: Row, name: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        state = "missing" if value is None else "empty" if isinstance(value, str) else "not text"
        raise UsageError(f"{row.where}: field {name!r} is {state}")
    return value


def _pairs(row: Row, pid: str, where: str, inputs: Any, outputs: Any) -> list[tuple[str, str]]:
    """(input, output) pairs of one test list, checked: same length, text on both sides."""
    inputs = [] if inputs is None else inputs
    outputs = [] if outputs is None else outputs
    if not isinstance(inputs, list) or not isinstance(outputs, list):
        raise UsageError(f"{row.where}: problem {pid!r} {where}: input and output must be lists")
    for i in range(max(len(inputs), len(outputs))):
        got_in = inputs[i] if i < len(inputs) else None
        got_out = outputs[i] if i < len(outputs) else None
        if got_in is not None and got_out is None:
            raise UsageError(
                f"{row.where}: problem {pid!r} {where} test {i} has an input but no output"
            )
        if got_in is None:
            raise UsageError(
                f"{row.where}: problem {pid!r} {where} test {i} has an output but no input"
            )
    return [
        (_as_text(row, pid, where, i, a), _as_text(row, pid, where, i, b))
        for i, (a, b) in enumerate(zip(inputs, outputs, strict=True))
    ]


def _as_text(row: Row, pid: str, where: str, i: int, value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "\n".join(value)  # (APPS stores some outputs as a list of lines)
    raise UsageError(f"{row.where}: problem {pid!r} {where} test {i} is not text")


def _codecontests(row: Row, sets: Sequence[str]) -> ContestRow:
    d = row.data
    pid = str(d.get("name") or "").strip() or row.where.rsplit(" ", 1)[-1]
    statement = _text(row, "description", d.get("description"))
    tests = []
    counts = {}
    for name in CODECONTESTS_SETS:
        block = d.get(f"{name}_tests") or {}
        if not isinstance(block, dict):
            raise UsageError(
                f"{row.where}: {name}_tests must be {{'input': [...], 'output': [...]}}"
            )
        pairs = _pairs(row, pid, f"{name}_tests", block.get("input"), block.get("output"))
        counts[name] = len(pairs)
        if name in sets:
            tests += [{"input": a, "output": b, "set": name} for a, b in pairs]
    limit = d.get("time_limit")
    time_limit = None
    if isinstance(limit, dict):
        seconds = float(limit.get("seconds") or 0) + float(limit.get("nanos") or 0) / 1e9
        time_limit = seconds if seconds > 0 else None
    memory = d.get("memory_limit_bytes")
    meta: dict[str, Any] = {
        "tests": counts,
        "time_limit_s": time_limit,
        "memory_limit_mb": int(memory) >> 20 if isinstance(memory, int) and memory > 0 else None,
    }
    for key in ("source", "difficulty", "cf_rating", "cf_contest_id", "cf_index"):
        if d.get(key) is not None:
            meta[key] = d[key]
    if d.get("cf_tags"):
        meta["tags"] = list(d["cf_tags"])
    return ContestRow(pid, statement, tests, time_limit, _python_solution(d), metadata=meta)


def _python_solution(d: dict[str, Any]) -> str | None:
    block = d.get("solutions")
    if not isinstance(block, dict):
        return None
    for lang, code in zip(block.get("language") or [], block.get("solution") or [], strict=False):
        if lang == _PYTHON3 and isinstance(code, str):
            return code
    return None


def _json_field(row: Row, name: str, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    if not value.strip():
        return None
    try:
        return json.loads(value)
    except ValueError:
        raise UsageError(f"{row.where}: field {name!r} is not valid JSON") from None


def _apps(row: Row, sets: Sequence[str]) -> ContestRow:
    d = row.data
    pid = str(d.get("problem_id", d.get("id", row.where.rsplit(" ", 1)[-1])))
    statement = _text(row, "question", d.get("question"))
    io_spec = _json_field(row, "input_output", d.get("input_output")) or {}
    if not isinstance(io_spec, dict):
        raise UsageError(f"{row.where}: 'input_output' must be an object with inputs and outputs")
    meta = {k: d[k] for k in ("difficulty", "url") if d.get(k)}
    if io_spec.get("fn_name"):
        return ContestRow(pid, statement, [], call_based=True, metadata=meta)
    pairs = _pairs(row, pid, "input_output", io_spec.get("inputs"), io_spec.get("outputs"))
    meta["tests"] = {"private": len(pairs)}
    tests = (
        [{"input": a, "output": b, "set": "private"} for a, b in pairs] if "private" in sets else []
    )
    solutions = _json_field(row, "solutions", d.get("solutions"))
    reference = solutions[0] if isinstance(solutions, list) and solutions else None
    return ContestRow(pid, statement, tests, None, reference, metadata=meta)


class _TextOnly(pickle.Unpickler):
    """Unpickles plain data only: no class or function is ever looked up."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"refusing {module}.{name}")


def _lcb_cases(row: Row, name: str, value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    if not isinstance(value, str) or not value.strip():
        return []
    try:
        return list(json.loads(value))
    except ValueError:
        pass
    try:  # LiveCodeBench's packed form: base64(zlib(pickle(json text)))
        text = _TextOnly(io.BytesIO(zlib.decompress(base64.b64decode(value)))).load()
        return list(json.loads(text))
    except Exception:
        raise UsageError(f"{row.where}: field {name!r} is neither JSON nor packed tests") from None


def _livecodebench(row: Row, sets: Sequence[str]) -> ContestRow:
    d = row.data
    pid = str(d.get("question_id") or d.get("question_title") or row.where.rsplit(" ", 1)[-1])
    statement = _text(row, "question_content", d.get("question_content"))
    tests, counts, call_based = [], {}, False
    for name in ("public", "private"):
        cases = _lcb_cases(row, f"{name}_test_cases", d.get(f"{name}_test_cases"))
        if any(isinstance(c, dict) and c.get("testtype") == "functional" for c in cases):
            call_based = True
        if not all(isinstance(c, dict) for c in cases):
            raise UsageError(f"{row.where}: {name}_test_cases must be a list of objects")
        pairs = _pairs(
            row,
            pid,
            f"{name}_test_cases",
            [c.get("input") for c in cases],
            [c.get("output") for c in cases],
        )
        counts[name] = len(pairs)
        if name in sets:
            tests += [{"input": a, "output": b, "set": name} for a, b in pairs]
    meta = {"tests": counts}
    for key in ("platform", "difficulty", "contest_date", "question_title"):
        if d.get(key):
            meta[key] = d[key]
    if call_based:
        return ContestRow(pid, statement, [], call_based=True, metadata=meta)
    return ContestRow(pid, statement, tests, metadata=meta)
