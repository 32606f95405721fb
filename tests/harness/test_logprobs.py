"""Token log-probabilities per sample: carried from the backend into samples.jsonl, used by
confidence stopping, and runs made before they were stored still analyse."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from analysis_runs import make_run

from harness.analyze import AnalysisSettings, analyze
from harness.core.backend import Completion, GenRequest, GenResult
from harness.core.config import RunConfig
from harness.core.records import Sample, SamplingConfig
from harness.core.store import RunStore
from harness.generate import generate

FAST = AnalysisSettings(n_boot=100, stop_cap=16)


class _LogprobBackend:
    """Completions with a mean log-probability, as the vllm backend reports it."""

    name = "logprobs"

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name}

    def generate(self, requests: Iterable[GenRequest]) -> Iterator[GenResult]:
        for req in requests:
            completions = [
                Completion(f"answer {i}", 2, "stop", mean_logprob=-0.1 * (i + 1))
                for i in req.sample_indices
            ]
            yield GenResult(req, completions, prompt_tokens=5)

    def close(self) -> None:
        pass


def test_generate_stores_the_backends_mean_logprob(tmp_path: Path) -> None:
    cfg = RunConfig(
        task="arith",
        n=3,
        limit=2,
        out=tmp_path / "run",
        sampling=SamplingConfig(max_tokens=8),
        backend="scripted",
    )
    store = generate(cfg, backend=_LogprobBackend())  # type: ignore[arg-type]
    lines = [json.loads(x) for x in store.samples_path.read_text().splitlines()]
    assert [x["mean_logprob"] for x in lines[:3]] == [-0.1, -0.2, -0.30000000000000004]
    assert {s.mean_logprob for s in store.iter_samples()} >= {-0.1, -0.2}
    # A sample without one is written as before (no field at all).
    assert "mean_logprob" not in Sample("p", 0, "x").to_dict()


def test_confidence_stopping_by_logprob_and_old_runs_without_it(tmp_path: Path) -> None:
    old = make_run(tmp_path / "old", problems=8, n=16)  # samples without mean_logprob
    result = analyze(old.root, settings=FAST)
    assert not result.summary["stopping"]["logprobs"]
    assert any("no token log-probabilities" in n for n in result.notes)
    rules = set(pd.read_csv(old.analysis_dir / "stopping.csv")["rule"])
    assert "confidence:mean_logprob" not in rules and "confidence:reward" in rules

    new = make_run(tmp_path / "new", problems=8, n=16)
    rng = np.random.default_rng(0)
    verdicts = {(v.problem_id, v.sample_index): v.correct for v in new.iter_verdicts("exact")}
    rows = []
    for s in RunStore(new.root).iter_samples():
        ok = verdicts[(s.problem_id, s.sample_index)]
        rows.append(
            Sample(**{**s.to_dict(), "mean_logprob": float(rng.normal(-0.5 if ok else -1.5, 0.3))})
        )
    new.samples_path.unlink()
    with new.sample_appender() as w:
        w.write_batch(rows)
    result = analyze(new.root, settings=FAST)
    assert result.summary["stopping"]["logprobs"]
    table = pd.read_csv(new.analysis_dir / "stopping.csv")
    conf = table[table["rule"] == "confidence:mean_logprob"]
    assert len(conf) >= 3 and (conf["expected_samples"] <= 16).all()
    # Log-probabilities that separate right from wrong samples beat a fixed majority here.
    assert conf["gain"].max() > 0
    assert "confidence:mean_logprob" in result.summary["stopping"]["best"]


def test_report_of_an_analysis_written_before_these_sections(tmp_path: Path) -> None:
    from harness.report import report

    run = make_run(tmp_path / "run", problems=8, n=16)
    analyze(run.root, settings=FAST)
    a = run.analysis_dir
    summary = json.loads((a / "summary.json").read_text())
    for key in ("advice", "stopping", "imperfect_verifier"):
        summary.pop(key)
    (a / "summary.json").write_text(json.dumps(summary))
    info = json.loads((a / "compute.json").read_text())
    for key in ("prices", "eflops", "accelerator", "n_kv_heads"):
        info.pop(key, None)
    (a / "compute.json").write_text(json.dumps(info))
    page = report(run.root).read_text()
    assert "<h2>Compute" in page and "analysed by an older version" in page
    assert "<h2>Adaptive stopping" not in page
