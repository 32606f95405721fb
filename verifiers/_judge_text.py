"""The text of a judge's calls: the prompts of the model-based verifiers (``judge``,
``pairwise``), and reading the judge's answer into a ``Judgement``.

Prompts put the problem first, then the candidate(s), then the question, so the engine's
prefix cache shares the problem's tokens across all of a problem's judge calls. Every
prompt is a chat message (the backend applies the model's chat template when it has one)
and also a plain completion prompt ending in ``Answer:`` for models without one. An
answer no rule here can read is ``unparsed``, never an error.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from harness.core.backend import Completion
from harness.core.judgements import POINTWISE, Judgement
from harness.core.records import Problem, Sample

# -- prompts ------------------------------------------------------------------------------

POINTWISE_LOGPROB = "Is the proposed solution correct? Answer Yes or No."
POINTWISE_SAMPLED = (
    "Is the proposed solution correct? Check it step by step, then end with one line: "
    "'Verdict: Yes' if it is correct or 'Verdict: No' if it is not."
)
CHOICE_LOGPROB = "Which response is correct? Answer with the letter A or B."
CHOICE_SAMPLED = (
    "Which response is correct? Compare them step by step, then end with one line: "
    "'Answer: A' or 'Answer: B'."
)
MATCH_SAMPLED = (
    "Judge each response: is its final answer correct? Then end with one line in the form "
    "'A: correct, B: incorrect' (correct or incorrect for each)."
)
TEMPLATES = (POINTWISE_LOGPROB, POINTWISE_SAMPLED, CHOICE_LOGPROB, CHOICE_SAMPLED, MATCH_SAMPLED)


def prompt_version() -> str:
    """A short hash of the prompt texts: part of a judge log's configuration."""
    return hashlib.sha256("\0".join(TEMPLATES).encode()).hexdigest()[:12]


def question_of(problem: Problem) -> str:
    """The problem as a person would read it: the last user message, else the prompt."""
    for message in reversed(problem.messages or ()):
        if message.get("role") == "user":
            return str(message.get("content", "")).strip()
    return problem.prompt.strip()


def shown(text: str, max_chars: int) -> str:
    """A candidate as the judge sees it: its last ``max_chars`` characters (the answer)."""
    text = text.strip()
    return text if len(text) <= max_chars else "…" + text[-max_chars:]


def judge_problem(call_id: str, body: str) -> Problem:
    """A judge prompt as a Problem the backends take (chat message and plain prompt)."""
    return Problem(
        id=call_id,
        prompt=f"{body}\nAnswer:",
        messages=({"role": "user", "content": body},),
    )


def pointwise_body(question: str, candidate: str, sampled: bool) -> str:
    ask = POINTWISE_SAMPLED if sampled else POINTWISE_LOGPROB
    return f"Problem:\n{question}\n\nProposed solution:\n{candidate}\n\n{ask}"


def pair_body(question: str, first: str, second: str, ask: str) -> str:
    return f"Problem:\n{question}\n\nResponse A:\n{first}\n\nResponse B:\n{second}\n\n{ask}"


# -- reading a judge's answer --------------------------------------------------------------

_WORD = re.compile(r"[^a-z]")
_VERDICT = re.compile(r"verdict\W{0,4}(yes|no|correct|incorrect)\b", re.IGNORECASE)
_LEAD = re.compile(r"^\W*(yes|no)\b", re.IGNORECASE)
_CHOICE = re.compile(r"answer\W{0,4}(?:response\s+)?\(?([AB])\)?(?![A-Za-z])", re.IGNORECASE)
_LEAD_CHOICE = re.compile(r"^\W*(?:response\s+)?([AB])(?![A-Za-z])")
_MARK = r"\W{0,4}(correct|incorrect|right|wrong)\b"
_A_MARK = re.compile(r"(?<![A-Za-z])A" + _MARK, re.IGNORECASE)
_B_MARK = re.compile(r"(?<![A-Za-z])B" + _MARK, re.IGNORECASE)
POSITIVE = {"yes", "correct", "right"}


def token_mass(top: Mapping[str, float] | None, words: Iterable[str]) -> float:
    """Probability of the first token being one of ``words`` (case, spaces and
    punctuation ignored), summed over the top candidates."""
    wanted = set(words)
    return sum(
        math.exp(lp) for tok, lp in (top or {}).items() if _WORD.sub("", tok.lower()) in wanted
    )


def read_yes_no(text: str) -> bool | None:
    """A sampled pointwise verdict: the last 'Verdict: Yes/No', else a leading Yes/No."""
    found = _VERDICT.findall(text)
    if found:
        return found[-1].lower() in POSITIVE
    lead = _LEAD.match(text)
    return lead.group(1).lower() == "yes" if lead else None


def read_choice(text: str) -> str | None:
    """A sampled comparison: the last 'Answer: A/B', else a leading A or B."""
    found = _CHOICE.findall(text)
    if found:
        return found[-1].upper()
    lead = _LEAD_CHOICE.match(text)
    return lead.group(1).upper() if lead else None


def read_marks(text: str) -> tuple[bool | None, bool | None]:
    """A sampled match: the last 'A: correct|incorrect' and 'B: ...' marks."""
    a, b = _A_MARK.findall(text), _B_MARK.findall(text)
    return (
        a[-1].lower() in POSITIVE if a else None,
        b[-1].lower() in POSITIVE if b else None,
    )


# -- calls --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One judge question about one problem, asked for ``draws`` sampled answers.

    Attributes:
        kind: ``pointwise`` (is a right?), ``choice`` (which of A and B is right?) or
            ``match`` (is each of A and B right?).
        order: ``a`` for pointwise; ``ab`` / ``ba``: which candidate is shown first.
    """

    problem_id: str
    a: int
    b: int | None
    order: str
    draws: tuple[int, ...]
    body: str
    kind: str

    def key(self, draw: int) -> tuple[str, int, int | None, str, int]:
        return (self.problem_id, self.a, self.b, self.order, draw)

    @property
    def call_id(self) -> str:
        return f"{self.problem_id}|{self.a}|{self.b}|{self.order}"


def pointwise_call(
    problem: Problem, sample: Sample, draws: int, sampled: bool, max_chars: int
) -> Call:
    body = pointwise_body(question_of(problem), shown(sample.text, max_chars), sampled)
    return Call(
        problem.id, sample.sample_index, None, POINTWISE, tuple(range(draws)), body, "pointwise"
    )


def pair_call(
    problem: Problem, first: Sample, second: Sample, kind: str, sampled: bool, max_chars: int
) -> Call:
    """A comparison of ``first`` (shown as A) and ``second``, keyed by the lower index."""
    ask = MATCH_SAMPLED if kind == "match" else (CHOICE_SAMPLED if sampled else CHOICE_LOGPROB)
    body = pair_body(
        question_of(problem), shown(first.text, max_chars), shown(second.text, max_chars), ask
    )
    a, b = sorted((first.sample_index, second.sample_index))
    order = "ab" if first.sample_index == a else "ba"
    return Call(problem.id, a, b, order, (0,), body, kind)


def judgement_of(
    call: Call, draw: int, c: Completion, prompt_tokens: int, logprob: bool
) -> Judgement:
    """Read one answer of the judge into a Judgement (``unparsed`` when it says nothing
    this parser understands)."""
    outcome, score = "unparsed", None
    detail: dict[str, Any] | None = None
    if call.kind == "pointwise":
        if logprob:
            yes, no = token_mass(c.top_logprobs, {"yes"}), token_mass(c.top_logprobs, {"no"})
            detail = {"p_yes": yes, "p_no": no}
            if yes + no > 0:
                score = yes / (yes + no)
                outcome = "yes" if score >= 0.5 else "no"
        else:
            said = read_yes_no(c.text)
            if said is not None:
                outcome, score = ("yes", 1.0) if said else ("no", 0.0)
    else:
        if call.kind == "choice" and logprob:
            first = token_mass(c.top_logprobs, {"a"})
            second = token_mass(c.top_logprobs, {"b"})
            detail = {"p_first": first, "p_second": second}
            p_first = first / (first + second) if first + second > 0 else None
        elif call.kind == "choice":
            pick = read_choice(c.text)
            p_first = None if pick is None else (1.0 if pick == "A" else 0.0)
        else:
            mark_a, mark_b = read_marks(c.text)
            detail = {"first_correct": mark_a, "second_correct": mark_b}
            p_first = None if mark_a is None or mark_b is None else (1 + mark_a - mark_b) / 2
        if p_first is not None:
            score = p_first if call.order == "ab" else 1.0 - p_first
            outcome = "a" if score > 0.5 else ("b" if score < 0.5 else "tie")
    return Judgement(
        call.problem_id,
        call.a,
        call.b,
        call.order,
        draw,
        outcome,
        score,
        prompt_tokens,
        c.completion_tokens,
        c.text,
        detail,
    )
