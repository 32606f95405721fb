"""Small run directories with known contents, for the analyze / report / compare tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from harness.core.manifest import RunManifest, dataset_hash
from harness.core.records import Problem, Sample, SamplingConfig, Verdict
from harness.core.store import RunStore


def make_run(
    root: Path,
    model: str = "smollm2-135m",
    problems: int = 24,
    n: int = 48,
    seed: int = 0,
    temperature: float = 0.8,
    extra_verifiers: bool = True,
) -> RunStore:
    """A run with samples (token counts), exact verdicts (answer classes), a noisy judge
    verifier and a reward verifier with scores; problems carry a ``level``."""
    rng = np.random.default_rng(seed)
    store = RunStore(root)
    probs = [
        Problem(f"q{i}", f"prompt {i}", str(i), metadata={"level": 1 + i % 3})
        for i in range(problems)
    ]
    rates = rng.beta(0.4, 1.6, size=problems)
    manifest = RunManifest(
        task="arith",
        model=model,
        backend="scripted",
        n=n,
        sampling=SamplingConfig(temperature=temperature, seed=seed),
        dataset_hash=dataset_hash(probs),
        num_problems=problems,
        verifier="exact",
        created="2025-01-01T00:00:00",
        run_id=root.name,
        versions={"numpy": np.__version__},
    )
    store.write_manifest(manifest)
    store.write_problems(probs)
    samples, exact, judge, reward = [], [], [], []
    for p, rate in zip(probs, rates, strict=True):
        for i in range(n):
            ok = bool(rng.random() < rate)
            cls = 0 if ok else int(rng.integers(1, 4))
            samples.append(
                Sample(
                    p.id,
                    i,
                    f"answer {cls}",
                    prompt_tokens=20 + int(p.id[1:]),
                    completion_tokens=int(rng.integers(10, 60)),
                    finish_reason="stop",
                )
            )
            exact.append(Verdict(p.id, i, ok, "passed" if ok else "failed", str(cls), cls))
            said = ok if rng.random() < 0.85 else not ok
            judge.append(Verdict(p.id, i, said, "passed" if said else "failed"))
            score = float(rng.normal(1.0 if ok else 0.0, 0.8))
            reward.append(Verdict(p.id, i, score > 0.5, "passed", score=score))
    with store.sample_appender() as w:
        w.write_batch(samples)
    with store.verdict_appender("exact") as w:
        w.write_batch(exact)
    if extra_verifiers:
        with store.verdict_appender("judge") as w:
            w.write_batch(judge)
        with store.verdict_appender("reward") as w:
            w.write_batch(reward)
    return store
