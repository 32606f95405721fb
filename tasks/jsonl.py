"""``jsonl``: a user task from any JSONL / JSON / parquet file of questions and answers.

Options (``--field NAME=COLUMN`` or ``--task-opt KEY=VALUE``):

- ``question`` / ``answer`` / ``id``: the columns holding the question, the reference
  answer and the problem id (default ``question``, ``answer``, and the 0-based row index).
- ``verifier``: the answer verifier, ``math`` (equivalence through math-verify, default)
  or ``exact`` (exact number).
- ``prompt``: the completion prompt, a template where ``{question}`` is the question and
  ``{column}`` any other column (``\\n`` written literally on the command line means a
  newline); default ``Question: {question}\\nAnswer:``.
- ``instruction``: text added to the question in the chat form of the prompt.

An answer holding a whole solution (``\\boxed{...}`` or ``#### N``) is reduced to its final
answer. Short scalar columns are kept as problem metadata, so analysis can group by them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from harness.core.answers import extract_answer, normalise_number
from harness.core.errors import UsageError
from harness.core.options import option
from harness.core.records import Problem
from harness.core.task import Task
from tasks._files import Row, load_local

VERIFIERS = ("math", "exact")
MAX_METADATA_CHARS = 200


class _Missing(dict[str, str]):
    def __missing__(self, key: str) -> str:
        raise KeyError(key)


def reference_of(value: Any) -> str:
    """The reference answer held by an answer cell (a solution is reduced to its answer)."""
    text = str(value).strip()
    if "\\boxed" in text or "\\fbox" in text or "####" in text:
        return extract_answer(text) or text
    return text


@dataclass(frozen=True)
class JsonlOptions:
    question: str = option("question", "column holding the question")
    answer: str = option("answer", "column holding the reference answer (or a solution)")
    id: str = option("", "column holding the problem id (default: the row number)")
    verifier: str = option("math", "verifier judging the answers (math or exact)")
    prompt: str = option(
        "Question: {question}\\nAnswer:", "completion prompt template ({column} fields)"
    )
    instruction: str = option("", "text after the question in the chat prompt")


class JsonlTask(Task):
    """Questions and reference answers from a local file, with a field mapping."""

    name: ClassVar[str] = "jsonl"
    description: ClassVar[str] = "your own questions/answers from --data-file (JSONL or parquet)"
    default_verifier: ClassVar[str] = "math"
    Options: ClassVar[type] = JsonlOptions
    stop: ClassVar[tuple[str, ...]] = ("\nQuestion:",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        verifier = str(self.options.verifier)
        if verifier not in VERIFIERS:
            raise UsageError(
                f"jsonl: verifier must be one of {', '.join(VERIFIERS)}, got {verifier!r}"
            )
        # The option decides the verifier of this instance (the class default is math).
        vars(self)["default_verifier"] = verifier
        if self.data_file is None:
            raise UsageError("task 'jsonl' needs --data-file PATH (a JSONL or parquet file)")

    def _prompt(self, row: Row, question: str) -> str:
        template = str(self.options.prompt).replace("\\n", "\n")
        fields = _Missing({k: str(v) for k, v in row.data.items()})
        fields["question"] = question
        try:
            return template.format_map(fields)
        except KeyError as e:
            raise UsageError(f"{row.where}: prompt template names a missing column {e}") from None
        except (ValueError, IndexError) as e:
            raise UsageError(f"jsonl: bad prompt template {template!r} ({e})") from None

    def _metadata(self, row: Row, used: set[str]) -> dict[str, Any]:
        return {
            k: v
            for k, v in row.data.items()
            if k not in used
            and isinstance(v, str | int | float | bool)
            and len(str(v)) <= MAX_METADATA_CHARS
        }

    def load(self) -> list[Problem]:
        q_field, a_field = str(self.options.question), str(self.options.answer)
        id_field = str(self.options.id)
        required = (q_field, a_field, id_field) if id_field else (q_field, a_field)
        assert self.data_file is not None
        rows = load_local(self.data_file, required, self.name)
        instruction = str(self.options.instruction).replace("\\n", "\n").strip()
        problems: list[Problem] = []
        seen: dict[str, str] = {}
        for i, row in enumerate(rows):
            pid = str(row.data[id_field]) if id_field else str(i)
            if pid in seen:
                raise UsageError(f"{row.where}: duplicate id {pid!r} (first at {seen[pid]})")
            seen[pid] = row.where
            question = str(row.data[q_field]).strip()
            reference = reference_of(row.data[a_field])
            if self.default_verifier == "exact" and normalise_number(reference) is None:
                raise UsageError(
                    f"{row.where}: answer {reference!r} is not a number (verifier exact)"
                )
            content = f"{question}\n\n{instruction}" if instruction else question
            problems.append(
                Problem(
                    id=pid,
                    prompt=self._prompt(row, question),
                    reference=reference,
                    messages=({"role": "user", "content": content},),
                    metadata=self._metadata(row, {q_field, a_field, id_field}),
                )
            )
        return problems
