"""What the model-based verifiers (``judge``, ``pairwise``) share: their options, prompts,
the parsing of a judge's answer, and asking a backend only for the calls the judgement
log does not hold yet.

Prompts put the problem first, then the candidate(s), then the question, so the engine's
prefix cache shares the problem's tokens across all of a problem's judge calls. Every
prompt is a chat message (the backend applies the model's chat template when it has one)
and also a plain completion prompt ending in ``Answer:`` for models without one.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from harness.core.backend import Backend, BackendConfig, Completion, GenRequest
from harness.core.errors import UsageError
from harness.core.judgements import POINTWISE, Judgement, JudgementLog
from harness.core.options import option, parse_pairs
from harness.core.records import Problem, Sample, SamplingConfig, Verdict
from harness.core.verifier import Verifier

TOP_LOGPROBS = 20  # vLLM's default cap on returned log-probabilities


@dataclass(frozen=True)
class ModelOptions:
    """Options every model-based verifier takes (``--verifier-opt KEY=VALUE``)."""

    model: str = option("smollm2-135m", "judge model: alias, Hugging Face id or local path")
    backend: str = option("vllm", "backend that runs the judge model (vllm, openai, ray)")
    backend_opt: tuple[str, ...] = option(
        (), "the judge backend's options, KEY=VALUE,KEY=VALUE (e.g. base_url=...)"
    )
    subsets: int = option(8, "seeded random subsets per k for the selection@k curves", min=1)
    ks: str = option(
        "auto",
        "subset sizes: all (1..N), log (powers of 2 and N), auto (all up to 32), n (only N)",
        choices=("auto", "all", "log", "n"),
    )
    max_chars: int = option(4000, "characters of a candidate shown (its end is kept)", min=1)
    batch: int = option(16, "problems whose calls are handed to the engine together", min=1)
    seed: int = option(0, "seed of the judge's sampling, subsets and brackets")

    def backend_options(self) -> dict[str, str]:
        return parse_pairs(self.backend_opt, "backend_opt")


def subset_sizes(n: int, how: str) -> list[int]:
    """The k for which selection@k is played: every k, powers of two and n, or n alone."""
    if how == "n":
        return [n]
    if how == "all" or (how == "auto" and n <= 32):
        return list(range(1, n + 1))
    return sorted({1 << i for i in range(n.bit_length()) if 1 << i <= n} | {n})


def subset(candidates: Sequence[int], k: int, seed: int, pid: str, draw: int) -> list[int]:
    """A seeded random size-k subset of a problem's candidates (the same on every run)."""
    if k >= len(candidates):
        return list(candidates)
    return sorted(random.Random(f"subset/{seed}/{pid}/{k}/{draw}").sample(list(candidates), k))


def coin(seed: int, *parts: object) -> float:
    """A seeded uniform number in [0, 1) for a tie-break that must not favour an index."""
    return random.Random("/".join(map(str, (seed, *parts)))).random()


def model_size(name: str) -> dict[str, Any] | None:
    """Parameters, layers and d_model of the judge model (for its compute), if known."""
    from harness.models import model_facts

    facts = model_facts(name)
    if facts.params is None or facts.layers is None or facts.d_model is None:
        return None
    return {
        "params": facts.params,
        "layers": facts.layers,
        "d_model": facts.d_model,
        "source": facts.source,
    }


def describe_judge(opts: Any, asker: Asker) -> dict[str, Any]:
    """What a model-based verifier records beside its verdicts (meta.json)."""
    info: dict[str, Any] = {"prompt": prompt_version(), "model_size": model_size(opts.model)}
    if asker.backend is not None:
        info["backend"] = {k: str(v) for k, v in asker.backend.describe().items()}
    if asker.log is not None:
        info["judgements"] = {"total": len(asker.log), "asked_now": asker.log.asked}
    return info


def backend_request(opts: Any, sampling: SamplingConfig) -> tuple[str, BackendConfig]:
    """The backend a model-based verifier asks for, from its options."""
    return opts.backend, BackendConfig(
        model=opts.model, sampling=sampling, options=opts.backend_options()
    )


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


def _runs(values: Sequence[int]) -> Iterator[tuple[int, ...]]:
    """Consecutive runs of sorted ints (one request each, so each draw keeps its seed)."""
    run: list[int] = []
    for v in values:
        if run and v != run[-1] + 1:
            yield tuple(run)
            run = []
        run.append(v)
    if run:
        yield tuple(run)


class Asker:
    """Asks a backend the calls its judgement log lacks, all in one go, and logs them."""

    def __init__(self, sampling: SamplingConfig, logprob: bool) -> None:
        self.sampling = sampling
        self.logprob = logprob
        self.backend: Backend | None = None
        self.log: JudgementLog | None = None

    def bind(self, backend: Backend | None, log: JudgementLog | None) -> None:
        self.backend, self.log = backend, log

    def missing(self, calls: Iterable[Call]) -> list[Call]:
        log = self.require_log()
        return [c for c in calls if any(c.key(d) not in log for d in c.draws)]

    def ask(self, calls: Sequence[Call]) -> int:
        """Ask every draw of ``calls`` not in the log; returns how many were asked."""
        log = self.require_log()
        requests: list[GenRequest] = []
        by_id: dict[tuple[str, int], Call] = {}
        for call in dict((c.key(c.draws[0]), c) for c in calls).values():
            todo = [d for d in call.draws if call.key(d) not in log]
            for run in _runs(todo):
                req = GenRequest(
                    judge_problem(call.call_id, call.body),
                    run,
                    sampling=self.sampling,
                    top_logprobs=TOP_LOGPROBS if self.logprob else 0,
                )
                by_id[(call.call_id, run[0])] = call
                requests.append(req)
        if not requests:
            return 0
        if self.backend is None:
            raise UsageError("this verifier needs a judge backend and was given none")
        asked = 0
        for result in self.backend.generate(iter(requests)):
            req = result.request
            call = by_id[(req.problem.id, req.sample_indices[0])]
            log.add(
                judgement_of(call, draw, comp, result.prompt_tokens, self.logprob)
                for draw, comp in zip(req.sample_indices, result.completions, strict=True)
            )
            asked += req.n
        log.flush()
        return asked

    def get(self, call: Call, draw: int = 0) -> Judgement:
        found = self.require_log().get(call.key(draw))
        if found is None:
            raise RuntimeError(f"judgement {call.key(draw)} was not asked")
        return found

    def require_log(self) -> JudgementLog:
        if self.log is None:
            raise RuntimeError("the verify stage binds a judgement log before verify_many")
        return self.log


def batches(
    items: Iterable[tuple[Problem, Sequence[Sample]]], size: int
) -> Iterator[list[tuple[Problem, Sequence[Sample]]]]:
    """``size`` problems at a time, so one engine call holds many problems' calls."""
    batch: list[tuple[Problem, Sequence[Sample]]] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


class ModelVerifier(Verifier):
    """What ``judge`` and ``pairwise`` share: the backend they ask (built by the verify
    stage from ``model=``/``backend=``), their judgement log's configuration, and the
    sampling of their calls (``mode=logprob``: one greedy token with its top
    log-probabilities; ``mode=sampled``: ``temperature`` and ``max_tokens``)."""

    needs_context: ClassVar[bool] = True

    def __init__(self, options: Any = None) -> None:
        super().__init__(options)
        self.logprob = self.options.mode == "logprob"
        self.asker = Asker(self.sampling(), self.logprob)

    def sampling(self) -> SamplingConfig:
        o = self.options
        if self.logprob:
            return SamplingConfig(temperature=0.0, max_tokens=1, seed=o.seed)
        return SamplingConfig(temperature=o.temperature, max_tokens=o.max_tokens, seed=o.seed)

    def backend_request(self) -> tuple[str, BackendConfig]:
        return backend_request(self.options, self.sampling())

    def judgement_config(self) -> dict[str, Any]:
        o = self.options
        return {
            "model": o.model,
            "backend": o.backend,
            "mode": o.mode,
            "prompt": prompt_version(),
            "sampling": self.sampling().to_dict(),
        }

    def bind(self, backend: Backend | None, log: JudgementLog | None) -> None:
        self.asker.bind(backend, log)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), **describe_judge(self.options, self.asker)}

    def verify(self, problem: Problem, samples: Sequence[Sample]) -> list[Verdict]:
        return next(iter(self.verify_many([(problem, samples)])))
