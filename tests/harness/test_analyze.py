"""``harness analyze`` end to end on a run with samples, several verifiers and metadata."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from analysis_runs import make_run

from analysis.passk import coverage_curve
from harness.analyze import AnalysisSettings, analyze
from harness.core.errors import UsageError


def test_analyze_writes_every_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The embedded model has no list price: the user's price table gives it one.
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({"models": {"smollm2-135m": {"input": 0.01, "output": 0.02}}}))
    monkeypatch.setenv("HARNESS_PRICES", str(prices))
    store = make_run(tmp_path / "run")
    result = analyze(store.root)  # the pipeline entry point the CLI uses
    assert result.verifier == "exact"
    a = store.analysis_dir
    names = {p.name for p in a.iterdir()}
    assert {
        "coverage.csv",
        "per_problem.csv",
        "coverage_ci.csv",
        "fit.json",
        "extrapolation.csv",
        "groups.csv",
        "selection.csv",
        "compute.csv",
        "compute.json",
        "early_stopping.csv",
        "verifier_errors.csv",
        "verifier_curves_judge.csv",
        "summary.json",
    } <= names
    per = pd.read_csv(a / "per_problem.csv")
    cov = pd.read_csv(a / "coverage.csv")
    np.testing.assert_allclose(cov["coverage"], coverage_curve(per["n"], per["c"]))
    assert len(cov) == 48 and set(per["level"]) == {1, 2, 3}
    fit = json.loads((a / "fit.json").read_text())
    assert {"a", "b", "backtest_error", "a_ci", "b_ci", "backtest", "beta_model"} <= set(fit)
    assert fit["bootstrap"] == {
        "resamples": 1000,
        "seed": 0,
        "level": 0.95,
        "over": "problems, with replacement",
    }
    assert fit["backtest"]["head_samples"] == 4 and fit["backtest"]["target_k"] == 48
    sel = pd.read_csv(a / "selection.csv")
    assert {"coverage", "majority", "best_of_k:reward"} <= set(sel.columns)
    # Best-of-k by an informative reward sits between pass@1 and coverage.
    assert (sel["best_of_k:reward"] <= sel["coverage"] + 1e-12).all()
    assert sel["best_of_k:reward"].iloc[-1] > sel["coverage"].iloc[0]
    errs = pd.read_csv(a / "verifier_errors.csv").set_index("verifier")
    assert errs.loc["judge", "truth"] == "exact"
    assert 0.05 < errs.loc["judge", "false_positive_rate"] < 0.3
    compute = pd.read_csv(a / "compute.csv")
    assert (np.diff(compute["flops"]) > 0).all() and compute["dollars"].iloc[-1] > 0
    info = json.loads((a / "compute.json").read_text())
    assert info["available"] and info["params"] > 1e8
    summary = json.loads((a / "summary.json").read_text())
    assert summary["statuses"] == result.statuses
    assert result.statuses["passed"] == per["c"].sum()
    assert result.statuses["failed"] == (per["n"] - per["c"]).sum()
    assert (per["status_passed"] == per["c"]).all()


def test_settings_change_bootstrap_and_are_recorded(tmp_path: Path) -> None:
    store = make_run(tmp_path / "run", extra_verifiers=False)
    analyze(store.root, settings=AnalysisSettings(n_boot=50, seed=7))
    first = pd.read_csv(store.analysis_dir / "coverage_ci.csv")
    analyze(store.root, settings=AnalysisSettings(n_boot=50, seed=7))
    again = pd.read_csv(store.analysis_dir / "coverage_ci.csv")
    pd.testing.assert_frame_equal(first, again)
    summary = json.loads((store.analysis_dir / "summary.json").read_text())
    assert summary["settings"]["seed"] == 7 and summary["settings"]["n_boot"] == 50


def test_unknown_model_skips_compute_with_a_note(tmp_path: Path) -> None:
    store = make_run(tmp_path / "run", model="my-own-model", extra_verifiers=False)
    result = analyze(store.root)
    assert any("compute" in note for note in result.notes)
    info = json.loads((store.analysis_dir / "compute.json").read_text())
    assert not info["available"] and "unknown" in info["reason"]


def test_short_runs_skip_the_backtest(tmp_path: Path) -> None:
    store = make_run(tmp_path / "run", n=12, extra_verifiers=False)
    result = analyze(store.root)
    assert result.fit is not None and result.fit.backtest is None
    assert any("backtest" in note for note in result.notes)


def test_no_verdicts_is_a_usage_error(tmp_path: Path) -> None:
    store = make_run(tmp_path / "run", extra_verifiers=False)
    (store.root / "verdicts" / "exact.jsonl").unlink()
    with pytest.raises(UsageError, match="no verdicts"):
        analyze(store.root)
    (store.root / "verdicts" / "exact.jsonl").write_text("")
    with pytest.raises(UsageError, match="empty"):
        analyze(store.root)
