"""``judge``: self-verification by an LLM, which is asked whether each candidate is correct.

Two modes (``--verifier-opt mode=...``):

- ``logprob`` (default): one forward pass per candidate; the score is P("Yes") normalised
  over Yes and No, read from the first token's top log-probabilities.
- ``sampled``: ``k_verif`` sampled verdicts per candidate (each ends in "Verdict: Yes" or
  "Verdict: No"); the score is their mean, as in Sample, Scrutinize and Scale (SSS).

Verification picks the top-scored candidate, with SSS's tie-break: candidates within
``tie_break`` (0.05) of the top score that disagree on the final answer (one per answer,
at most ``tie_max``) meet in pairwise comparisons ("which response is correct, A or
B?"), and the one with the most wins is returned (then the higher score, then the lower
index). For verification@k, ``subsets`` seeded random subsets of each size k (``ks``)
are picked from; with k = N every sample is a candidate (the first such pick is every
verdict's ``detail.selected``). Comparisons already judged are looked up in
``judgements/judge.jsonl``, never asked again.

Verdicts have status ``scored`` (``score`` the judge's score, ``answer`` the extracted
final answer) and claim nothing about correctness; a candidate none of whose verdicts
could be read has status ``unparsed`` and no score.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any, ClassVar

from harness.core.answers import extract_answer
from harness.core.judgements import Selection
from harness.core.options import option
from harness.core.records import Problem, Sample, Status, Verdict
from verifiers._judge_text import Call, pair_call, pointwise_call
from verifiers._judging import (
    ModelOptions,
    ModelVerifier,
    batches,
    coin,
    subset,
    subset_sizes,
)


@dataclass(frozen=True)
class JudgeOptions(ModelOptions):
    mode: str = option(
        "logprob",
        "logprob (P(Yes) in one pass) or sampled (mean of k_verif)",
        choices=("logprob", "sampled"),
    )
    k_verif: int = option(4, "sampled verdicts per candidate (sampled mode)", min=1)
    temperature: float = option(0.7, "sampling temperature of the verdicts (sampled)", min=0)
    max_tokens: int = option(256, "tokens per sampled verdict (sampled mode)", min=1)
    tie_break: float = option(
        0.05, "candidates this close to the top score that disagree meet pairwise (0: off)", min=0
    )
    tie_max: int = option(8, "most candidates in one tie-break (best scores kept)", min=2)


@dataclass
class _Pick:
    """One verification pick: a subset, and the finalists that meet when it is a tie."""

    problem: Problem
    k: int
    draw: int
    members: list[int]
    finalists: list[int]


class JudgeVerifier(ModelVerifier):
    """LLM self-verification: P(Yes) or the mean of sampled verdicts, with SSS tie-break."""

    name: ClassVar[str] = "judge"
    description: ClassVar[str] = "LLM self-verification score, logprob or sampled (selector)"
    Options: ClassVar[type] = JudgeOptions

    def __init__(self, options: Any = None) -> None:
        super().__init__(options)
        self.sampled = not self.logprob
        self.draws = self.options.k_verif if self.sampled else 1

    def selector(self) -> tuple[str, ...]:
        return ("best_of_k", "weighted_vote", "verification")

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "draws": self.draws,
            "tie_break": "SSS: within tie_break of the top, one per answer, most pairwise wins",
        }

    # -- scoring ------------------------------------------------------------------------------
    def _scores(
        self, problem: Problem, samples: Sequence[Sample]
    ) -> dict[int, tuple[float | None, int]]:
        """sample index -> (score or None, unreadable verdicts)."""
        out = {}
        for s in samples:
            call = pointwise_call(problem, s, self.draws, self.sampled, self.options.max_chars)
            said = [self.asker.get(call, d) for d in call.draws]
            read = [j.score for j in said if j.outcome != "unparsed" and j.score is not None]
            out[s.sample_index] = (sum(read) / len(read) if read else None, len(said) - len(read))
        return out

    def _finalists(
        self, members: Sequence[int], scores: dict[int, float | None], answers: dict[int, Any]
    ) -> list[int]:
        """Candidates of ``members`` that meet in the tie-break (none when there is none)."""
        o = self.options
        scored = [i for i in members if scores[i] is not None]
        if not scored or o.tie_break <= 0:
            return []
        top = max(scores[i] or 0.0 for i in scored)
        band = sorted(
            (i for i in scored if (scores[i] or 0.0) >= top - o.tie_break - 1e-12),
            key=lambda i: (-(scores[i] or 0.0), i),
        )
        best: dict[Any, int] = {}
        for i in band:  # one per final answer (no answer: a class of its own)
            best.setdefault(answers[i] if answers[i] is not None else ("none", i), i)
        finalists = list(best.values())[: o.tie_max]
        return finalists if len(finalists) > 1 else []

    def _comparisons(self, pick: _Pick, texts: dict[int, Sample]) -> list[Call]:
        o = self.options
        calls = []
        for x, y in combinations(pick.finalists, 2):
            first, second = (
                (x, y) if coin(o.seed, "order", pick.problem.id, *sorted((x, y))) < 0.5 else (y, x)
            )
            calls.append(
                pair_call(
                    pick.problem, texts[first], texts[second], "choice", self.sampled, o.max_chars
                )
            )
        return calls

    def _winner(
        self, pick: _Pick, scores: dict[int, float | None], texts: dict[int, Sample]
    ) -> int:
        o = self.options
        if pick.finalists:
            wins = dict.fromkeys(pick.finalists, 0.0)
            for call in self._comparisons(pick, texts):
                outcome = self.asker.get(call).outcome
                assert call.b is not None
                if outcome == "a":
                    wins[call.a] += 1
                elif outcome == "b":
                    wins[call.b] += 1
                else:  # a tie or an unreadable answer: half a win each
                    wins[call.a] += 0.5
                    wins[call.b] += 0.5
            return max(pick.finalists, key=lambda i: (wins[i], scores[i] or 0.0, -i))
        scored = [i for i in pick.members if scores[i] is not None]
        if not scored:  # nothing readable: any candidate, by a seeded coin
            pool = sorted(pick.members)
            return pool[int(coin(o.seed, "none", pick.problem.id, pick.k, pick.draw) * len(pool))]
        top = max(scores[i] or 0.0 for i in scored)
        tied = sorted(i for i in scored if scores[i] == top)
        return tied[int(coin(o.seed, "top", pick.problem.id, pick.k, pick.draw) * len(tied))]

    # -- the batch loop ---------------------------------------------------------------------
    def verify_many(
        self, items: Iterable[tuple[Problem, Sequence[Sample]]]
    ) -> Iterator[list[Verdict]]:
        o = self.options
        for batch in batches(items, o.batch):
            # 1. Every candidate's pointwise verdicts (one engine call for the batch).
            calls = [
                pointwise_call(p, s, self.draws, self.sampled, o.max_chars)
                for p, samples in batch
                for s in samples
            ]
            self.asker.ask(self.asker.missing(calls))
            # 2. Picks over all samples and over seeded subsets; their tie-breaks.
            state = {}
            picks: list[_Pick] = []
            for p, samples in batch:
                scored = self._scores(p, samples)
                scores = {i: v[0] for i, v in scored.items()}
                answers = {s.sample_index: extract_answer(s.text) for s in samples}
                texts = {s.sample_index: s for s in samples}
                state[p.id] = (scored, scores, answers, texts)
                index = sorted(texts)
                plan = [(k, d) for k in subset_sizes(len(index), o.ks) for d in range(o.subsets)]
                for k, draw in plan:
                    members = subset(index, k, o.seed, p.id, draw)
                    picks.append(
                        _Pick(p, k, draw, members, self._finalists(members, scores, answers))
                    )
            pair_calls = [
                c for pick in picks for c in self._comparisons(pick, state[pick.problem.id][3])
            ]
            self.asker.ask(self.asker.missing(pair_calls))
            winners = {
                (pick.problem.id, pick.k, pick.draw): self._winner(
                    pick, state[pick.problem.id][1], state[pick.problem.id][3]
                )
                for pick in picks
            }
            self.asker.require_log().add_selections(
                Selection(
                    pick.problem.id,
                    "verification",
                    pick.k,
                    pick.draw,
                    winners[(pick.problem.id, pick.k, pick.draw)],
                    pointwise_calls=len(pick.members) * self.draws,
                    pairwise_calls=len(pick.finalists) * (len(pick.finalists) - 1) // 2,
                )
                for pick in picks
            )
            for p, samples in batch:
                scored, _, answers, texts = state[p.id]
                selected = winners[(p.id, len(texts), 0)]  # the pick over all samples
                yield [
                    Verdict(
                        s.problem_id,
                        s.sample_index,
                        False,
                        Status.SCORED if scored[s.sample_index][0] is not None else Status.UNPARSED,
                        answer=answers[s.sample_index],
                        score=scored[s.sample_index][0],
                        detail={
                            "draws": self.draws,
                            "unparsed": scored[s.sample_index][1],
                            "selected": selected,
                        },
                    )
                    for s in samples
                ]
