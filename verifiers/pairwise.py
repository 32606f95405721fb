"""``pairwise``: a pairwise judge and a knockout tournament over a problem's samples.

An LLM is shown the problem and two responses, A and B, and asked to judge each as
correct or incorrect (``mode=sampled``, as in PairwiseRM), or which one is correct from
its first token's probabilities (``mode=logprob``, one forward pass). The samples of a
problem meet in a single-elimination tournament: a seeded random bracket, a bye for the
last entrant of a round with an odd count, exactly N-1 matches and ceil(log2 N) rounds.

Deciding a match (``decide``):

1. Each call names a winner (the response judged correct when the other is not, or the
   more probable one in logprob mode) or none (both judged alike: a tie; or unreadable).
   ``both_orders=true`` asks twice, A/B swapped, to cancel the judge's position bias;
   otherwise one order per pair, chosen by a seeded coin so no index is always first.
2. The candidate named by more calls wins.
3. Equal (the two orders disagree, or no call names one): the higher mean P(win) where
   the judge gives probabilities, then the larger answer class (``cluster=true``), then a
   seeded coin.

``cluster=true`` enters one sample per final answer (the first of its class), so equal
answers do not meet each other; the class's size is the tie-break above.

For tournament@k, ``subsets`` seeded random subsets of each size k (``ks``) are played;
with k = N every sample enters, and the first such bracket is the run's tournament
(its winner is every verdict's ``detail.winner``). Matches already judged are looked up
in ``judgements/pairwise.jsonl``, never asked again.
Verdicts have status ``scored`` (``score`` = matches the sample's entrant won in the
full tournament) and claim nothing about correctness.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from harness.core.answers import extract_answer
from harness.core.judgements import Selection
from harness.core.options import option
from harness.core.records import Problem, Sample, Status, Verdict
from verifiers._judge_text import Call, pair_call
from verifiers._judging import (
    ModelOptions,
    ModelVerifier,
    batches,
    coin,
    subset,
    subset_sizes,
)

Match = tuple[int, int, int]


class Bracket:
    """A single-elimination bracket played round by round (so a round's matches can be
    judged together): seeded shuffle, then pairs (0,1), (2,3), ... each round, a bye for
    the last entrant of an odd round."""

    def __init__(self, candidates: Sequence[int], seed: int | str) -> None:
        if not candidates:
            raise ValueError("a tournament needs at least one candidate")
        self.alive = list(candidates)
        random.Random(seed).shuffle(self.alive)
        self.matches: list[Match] = []
        self.rounds = 0

    @property
    def done(self) -> bool:
        return len(self.alive) == 1

    @property
    def winner(self) -> int:
        if not self.done:
            raise RuntimeError("the tournament is not finished")
        return self.alive[0]

    def pairs(self) -> list[tuple[int, int]]:
        """The matches of the current round."""
        a = self.alive
        return [(a[i], a[i + 1]) for i in range(0, len(a) - 1, 2)]

    def advance(self, winners: Sequence[int]) -> None:
        """Play the current round with ``winners`` (one per pair, in order)."""
        pairs = self.pairs()
        if len(winners) != len(pairs):
            raise ValueError(f"{len(winners)} winners for {len(pairs)} matches")
        survivors = []
        for (a, b), w in zip(pairs, winners, strict=True):
            if w not in (a, b):
                raise ValueError(f"the winner of {a} vs {b} cannot be {w}")
            self.matches.append((a, b, w))
            survivors.append(w)
        if len(self.alive) % 2:
            survivors.append(self.alive[-1])  # bye
        self.alive = survivors
        self.rounds += 1


def knockout(
    candidates: Sequence[int], judge: Callable[[int, int], int], seed: int | str
) -> tuple[int, list[Match]]:
    """A knockout tournament over ``candidates`` (sample indices).

    Args:
        candidates: The entrants.
        judge: ``judge(a, b)`` returns the winner of one match (``a`` or ``b``).
        seed: Seeds the bracket; the same seed gives the same bracket and matches.

    Returns:
        (winner, matches) with ``matches`` the ``(a, b, winner)`` played, in order:
        exactly ``len(candidates) - 1`` of them, over ceil(log2 N) rounds.
    """
    bracket = Bracket(candidates, seed)
    while not bracket.done:
        bracket.advance([judge(a, b) for a, b in bracket.pairs()])
    return bracket.winner, bracket.matches


@dataclass(frozen=True)
class PairwiseOptions(ModelOptions):
    mode: str = option(
        "sampled",
        "sampled (judge each response) or logprob (P(A) vs P(B))",
        choices=("sampled", "logprob"),
    )
    both_orders: bool = option(False, "judge every match in both orders (2 calls per match)")
    cluster: bool = option(False, "enter one sample per final answer; class size breaks ties")
    temperature: float = option(0.0, "sampling temperature of the judge (sampled mode)", min=0)
    max_tokens: int = option(256, "tokens the judge may write per match (sampled mode)", min=1)


def orders(seed: int, pid: str, a: int, b: int, both: bool) -> list[tuple[int, int]]:
    """Who is shown first in the call(s) of the match a vs b."""
    lo, hi = sorted((a, b))
    if both:
        return [(lo, hi), (hi, lo)]
    return [(lo, hi)] if coin(seed, "order", pid, lo, hi) < 0.5 else [(hi, lo)]


def decide(
    a: int,
    b: int,
    outcomes: Iterable[tuple[str, float | None]],
    sizes: dict[int, int] | None,
    seed: int,
    pid: str,
) -> int:
    """The winner of a vs b from its calls' (outcome, P(a wins)); the module's rule."""
    lo, hi = sorted((a, b))
    votes, probs = 0, []
    for outcome, p_lo in outcomes:  # outcomes are stated for (lo, hi) as (a, b) fields
        votes += (outcome == "a") - (outcome == "b")
        if p_lo is not None:
            probs.append(p_lo)
    if votes:
        return lo if votes > 0 else hi
    if probs and sum(probs) / len(probs) != 0.5:
        return lo if sum(probs) / len(probs) > 0.5 else hi
    if sizes and sizes.get(lo, 1) != sizes.get(hi, 1):
        return lo if sizes.get(lo, 1) > sizes.get(hi, 1) else hi
    return lo if coin(seed, "tie", pid, lo, hi) < 0.5 else hi


@dataclass
class _Game:
    """One tournament of one problem: of a seeded size-k subset (k = N: all samples)."""

    problem: Problem
    k: int
    draw: int
    bracket: Bracket
    sizes: dict[int, int]


class PairwiseVerifier(ModelVerifier):
    """Knockout tournament of a problem's samples, judged pairwise by an LLM."""

    name: ClassVar[str] = "pairwise"
    description: ClassVar[str] = "pairwise LLM judge + knockout tournament (selector)"
    Options: ClassVar[type] = PairwiseOptions

    def selector(self) -> tuple[str, ...]:
        return ("tournament",)

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "rule": "most calls naming a winner; then mean P(win); then class size; then coin",
        }

    # -- playing ------------------------------------------------------------------------------
    def _calls(self, game: _Game, a: int, b: int, texts: dict[int, Sample]) -> list[Call]:
        o = self.options
        kind = "choice" if self.logprob else "match"
        return [
            pair_call(game.problem, texts[x], texts[y], kind, not self.logprob, o.max_chars)
            for x, y in orders(o.seed, game.problem.id, a, b, o.both_orders)
        ]

    def _entrants(
        self, samples: Sequence[Sample]
    ) -> tuple[list[int], dict[int, int], dict[int, int]]:
        """(entrants, class size of each entrant, entrant of each sample)."""
        if not self.options.cluster:
            idx = [s.sample_index for s in samples]
            return idx, {}, {i: i for i in idx}
        first: dict[str, int] = {}
        size: dict[int, int] = {}
        rep: dict[int, int] = {}
        for s in samples:
            answer = extract_answer(s.text)
            if answer is None:  # no final answer: a class of its own
                rep[s.sample_index] = s.sample_index
                size[s.sample_index] = 1
                continue
            r = first.setdefault(answer, s.sample_index)
            rep[s.sample_index] = r
            size[r] = size.get(r, 0) + 1
        return sorted(size), size, rep

    def _games(self, problem: Problem, samples: Sequence[Sample]) -> list[_Game]:
        o = self.options
        index = [s.sample_index for s in samples]
        games = []
        by_index = {s.sample_index: s for s in samples}
        for k, draw in [(k, d) for k in subset_sizes(len(index), o.ks) for d in range(o.subsets)]:
            chosen = subset(index, k, o.seed, problem.id, draw)
            entrants, sizes, _ = self._entrants([by_index[i] for i in chosen])
            seed = f"bracket/{o.seed}/{problem.id}/{k}/{draw}"
            games.append(_Game(problem, k, draw, Bracket(entrants, seed), sizes))
        return games

    def _play(self, games: list[_Game], texts: dict[str, dict[int, Sample]]) -> None:
        """Play every game to the end, a round at a time; one engine call per round."""
        o = self.options
        while True:
            live = [g for g in games if not g.bracket.done]
            if not live:
                return
            calls = [
                c
                for g in live
                for a, b in g.bracket.pairs()
                for c in self._calls(g, a, b, texts[g.problem.id])
            ]
            self.asker.ask(self.asker.missing(calls))
            for g in live:
                winners = []
                for a, b in g.bracket.pairs():
                    said = [self.asker.get(c) for c in self._calls(g, a, b, texts[g.problem.id])]
                    outcomes = [(j.outcome, j.score) for j in said]
                    winners.append(decide(a, b, outcomes, g.sizes, o.seed, g.problem.id))
                g.bracket.advance(winners)

    def verify_many(
        self, items: Iterable[tuple[Problem, Sequence[Sample]]]
    ) -> Iterator[list[Verdict]]:
        o = self.options
        calls_per_match = 2 if o.both_orders else 1
        for batch in batches(items, o.batch):
            games = [g for p, s in batch for g in self._games(p, s)]
            texts = {p.id: {s.sample_index: s for s in samples} for p, samples in batch}
            self._play(games, texts)
            log = self.asker.require_log()
            log.add_selections(
                Selection(
                    g.problem.id,
                    "tournament",
                    g.k,
                    g.draw,
                    g.bracket.winner,
                    pairwise_calls=len(g.bracket.matches) * calls_per_match,
                )
                for g in games
            )
            # The tournament over all samples: the first bracket of k = N.
            full = {
                g.problem.id: g for g in games if g.k == len(texts[g.problem.id]) and g.draw == 0
            }
            for problem, samples in batch:
                yield self._verdicts(full[problem.id], samples, texts[problem.id])

    def _verdicts(
        self, game: _Game, samples: Sequence[Sample], texts: dict[int, Sample]
    ) -> list[Verdict]:
        """Score = matches won by the sample's entrant in the full tournament; status
        ``unparsed`` when every call of every match it played was unreadable."""
        _, _, rep = self._entrants(samples)
        wins: dict[int, int] = {}
        read: dict[int, int] = {}
        played: dict[int, int] = {}
        for a, b, w in game.bracket.matches:
            wins[w] = wins.get(w, 0) + 1
            said = [self.asker.get(c) for c in self._calls(game, a, b, texts)]
            readable = sum(j.outcome != "unparsed" for j in said)
            for x in (a, b):
                read[x] = read.get(x, 0) + readable
                played[x] = played.get(x, 0) + len(said)
        winner = game.bracket.winner
        verdicts = []
        for s in samples:
            entrant = rep[s.sample_index]
            unreadable = played.get(entrant, 0) > 0 and read.get(entrant, 0) == 0
            verdicts.append(
                Verdict(
                    s.problem_id,
                    s.sample_index,
                    False,
                    Status.UNPARSED if unreadable else Status.SCORED,
                    answer=extract_answer(s.text),
                    score=float(wins.get(entrant, 0)),
                    detail={
                        "winner": winner,
                        "entrant": entrant,
                        "calls": played.get(entrant, 0),
                        "unparsed": played.get(entrant, 0) - read.get(entrant, 0),
                        "matches": len(game.bracket.matches),
                        "rounds": game.bracket.rounds,
                    },
                )
            )
        return verdicts
