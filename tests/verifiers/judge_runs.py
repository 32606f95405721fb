"""Small math runs and a scripted judge for the tests of the model-based verifiers.

The scripted judge reads the problem ("What is A + B?") and the candidate(s) out of the
judge prompt the verifier built, works out which are right, and answers in the format the
prompt asks for (first-token log-probabilities, "Verdict: Yes", "Answer: A",
"A: correct, B: incorrect"), right with probability ``p`` (seeded by the prompt).
"""

from __future__ import annotations

import hashlib
import math
import random
import re
from pathlib import Path

import numpy as np

from harness.backends.scripted import ScriptedBackend
from harness.core.answers import extract_answer
from harness.core.backend import BackendConfig, Completion, GenRequest
from harness.core.manifest import RunManifest, dataset_hash
from harness.core.records import Problem, Sample, SamplingConfig
from harness.core.store import RunStore
from harness.verify import verify

QUESTION = re.compile(r"What is (\d+) \+ (\d+)\?")


def make_math_run(
    root: Path, problems: int = 4, n: int = 6, seed: int = 0, rate: float = 0.4
) -> RunStore:
    """Addition problems with n samples each (about ``rate`` of them right, answers drawn
    from a few wrong values so answer classes repeat), judged by ``exact``."""
    rng = np.random.default_rng(seed)
    store = RunStore(root)
    probs = []
    for i in range(problems):
        a, b = 3 + i, 10 + 2 * i
        q = f"What is {a} + {b}?"
        probs.append(
            Problem(
                str(i),
                f"Question: {q}\nAnswer:",
                str(a + b),
                messages=({"role": "user", "content": q},),
            )
        )
    manifest = RunManifest(
        task="arith",
        model="smollm2-135m",
        backend="scripted",
        n=n,
        sampling=SamplingConfig(temperature=0.8, seed=seed),
        dataset_hash=dataset_hash(probs),
        num_problems=problems,
        verifier="exact",
        created="2025-01-01T00:00:00",
        run_id=root.name,
    )
    store.write_manifest(manifest)
    store.write_problems(probs)
    samples = []
    for p in probs:
        right = int(p.reference or 0)
        for i in range(n):
            ok = bool(rng.random() < rate)
            value = right if ok else right + int(rng.integers(1, 4))
            samples.append(
                Sample(
                    p.id,
                    i,
                    f"Adding the numbers step by step.\n#### {value}",
                    prompt_tokens=12,
                    completion_tokens=9,
                    finish_reason="stop",
                )
            )
    with store.sample_appender() as w:
        w.write_batch(samples)
    verify(store, "exact")
    return store


def _is_right(question_match: re.Match[str] | None, candidate: str) -> bool:
    if question_match is None:
        return False
    want = int(question_match.group(1)) + int(question_match.group(2))
    return extract_answer(candidate) == str(want)


class ScriptedJudge:
    """A judge that is right with probability ``p`` (per prompt, seeded).

    Args:
        p: Probability of judging a candidate (or a pair) correctly.
        flat: Pointwise P(yes) for every candidate (a tie for the tie-break to settle).
        garble: Answer gibberish (an unreadable judgement) to every call whose prompt
            holds one of these sample texts.
    """

    def __init__(self, p: float = 1.0, flat: float | None = None, garble: tuple[str, ...] = ()):
        self.p = p
        self.flat = flat
        self.garble = garble
        self.calls: list[tuple[str, int]] = []

    def __call__(self, req: GenRequest, draw: int) -> Completion:
        body = req.problem.messages[0]["content"] if req.problem.messages else req.problem.prompt
        self.calls.append((req.problem.id, draw))
        digest = hashlib.sha256(f"{body}/{draw}".encode()).digest()
        honest = random.Random(digest).random() < self.p
        q = QUESTION.search(body)
        if any(g in body for g in self.garble):
            return Completion("hmm", 1, "stop", top_logprobs={"hmm": -0.1})
        if "Proposed solution:" in body:
            cand = body.split("Proposed solution:\n", 1)[1].rsplit("\n\nIs the proposed", 1)[0]
            ok = _is_right(q, cand) == honest
            if "Verdict:" in body:  # sampled
                return Completion(f"Checked.\nVerdict: {'Yes' if ok else 'No'}", 4, "stop")
            p_yes = self.flat if self.flat is not None else (0.9 if ok else 0.1)
            top = {"Yes": math.log(p_yes), "No": math.log(1 - p_yes), "The": -6.0}
            return Completion("Yes" if p_yes >= 0.5 else "No", 1, "stop", top_logprobs=top)
        first = body.split("Response A:\n", 1)[1].split("\n\nResponse B:\n", 1)[0]
        second = body.split("\n\nResponse B:\n", 1)[1].rsplit("\n\n", 1)[0]
        r1, r2 = _is_right(q, first), _is_right(q, second)
        if not honest:
            r1, r2 = not r1, not r2
        if "A: correct, B: incorrect" in body:  # a pairwise match
            marks = f"A: {'correct' if r1 else 'incorrect'}, B: {'correct' if r2 else 'incorrect'}"
            return Completion(f"Looking at both.\n{marks}", 8, "stop")
        pick = "A" if r1 and not r2 else ("B" if r2 and not r1 else "A")
        if "'Answer: A'" in body:  # sampled comparison
            return Completion(f"Answer: {pick}", 2, "stop")
        p_a = 0.8 if pick == "A" else 0.2
        return Completion(
            pick, 1, "stop", top_logprobs={"A": math.log(p_a), "B": math.log(1 - p_a)}
        )


def scripted_backend(judge: ScriptedJudge) -> ScriptedBackend:
    return ScriptedBackend(BackendConfig(model="scripted", sampling=SamplingConfig()), script=judge)
