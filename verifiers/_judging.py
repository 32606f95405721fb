"""What the model-based verifiers (``judge``, ``pairwise``) share: their options, seeded
subsets and coins, and asking a backend only for the calls the judgement log does not
hold yet (their prompts and the reading of answers: ``verifiers._judge_text``)."""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from harness.core.backend import Backend, BackendConfig, GenRequest
from harness.core.errors import UsageError
from harness.core.judgements import Judgement, JudgementLog
from harness.core.options import option, parse_pairs
from harness.core.records import Problem, Sample, SamplingConfig, Verdict
from harness.core.verifier import Verifier
from verifiers._judge_text import Call, judge_problem, judgement_of, prompt_version

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
    from harness.models.facts import model_facts

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
