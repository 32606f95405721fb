"""Selectors in the report and the comparison page: their curves beside coverage and
majority, what they did, and accuracy against generation + verification compute."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from harness.analyze import AnalysisSettings, analyze
from harness.report import report
from harness.report.compare import compare
from harness.verify import verify
from tests.verifiers.judge_runs import ScriptedJudge, make_math_run, scripted_backend

FAST = AnalysisSettings(n_boot=50, fit_points=8)


def test_report_shows_every_selector_beside_coverage_and_majority(tmp_path: Path) -> None:
    store = make_math_run(tmp_path / "run", problems=6, n=8, rate=0.3)
    verify(store, "judge", {"subsets": 4}, backend=scripted_backend(ScriptedJudge(p=0.8)))
    verify(store, "pairwise", {"subsets": 4}, backend=scripted_backend(ScriptedJudge(p=0.8)))
    analyze(store.root, settings=FAST)
    sel = pd.read_csv(store.analysis_dir / "selection.csv")
    assert list(sel.columns[:3]) == ["k", "coverage", "majority"]
    assert {
        "best_of_k:judge",
        "weighted_vote:judge",
        "verification:judge",
        "tournament:pairwise",
    } <= set(sel.columns)
    assert "best_of_k:pairwise" not in sel  # match wins rank no sample on their own
    page = report(store.root).read_text()
    assert (store.root / "plots" / "selection.png").exists()
    assert (store.root / "plots" / "selection_flops.png").exists()
    for words in (
        "knockout tournament by pairwise",
        "verification:judge",
        "judge calls",
        "Selection against compute",
        "bootstrap over problems",
    ):
        assert words in page, words
    cost = pd.read_csv(store.analysis_dir / "selection_compute.csv")
    tour = cost[cost["method"] == "tournament:pairwise"].set_index("k")
    best = cost[cost["method"] == "best_of_k:judge"].set_index("k")
    assert tour.loc[1, "verification_flops"] == 0  # one sample: no match to play
    assert (tour["total_flops"] >= tour["generation_flops"]).all()
    assert best.loc[8, "verification_flops"] == pytest.approx(8 * best.loc[1, "verification_flops"])


def test_compare_puts_more_samples_beside_more_verification(tmp_path: Path) -> None:
    many = make_math_run(tmp_path / "many", problems=6, n=16, rate=0.3)
    few = make_math_run(tmp_path / "few", problems=6, n=4, rate=0.3, seed=1)
    verify(few, "judge", {"subsets": 4}, backend=scripted_backend(ScriptedJudge(p=0.9)))
    for store in (many, few):
        analyze(store.root, settings=FAST)
    page = compare([many.root, few.root], tmp_path / "cmp", allow_mixed=True).read_text()
    assert "Selection at equal compute" in page
    equal = pd.read_csv(tmp_path / "cmp" / "selection_equal_flops.csv")
    names = [c for c in equal.columns if c not in ("total_flops", "best")]
    assert any("majority" in c for c in names) and any("best-of-k by judge" in c for c in names)
    assert not any("coverage" in c for c in names)  # the oracle is no method to compare
    # Somewhere both a majority curve and the judge's curve reach the same budget.
    maj = next(c for c in names if "many" in c and "majority" in c)
    judge = next(c for c in names if "best-of-k by judge" in c)
    assert (equal[maj].notna() & equal[judge].notna()).any()
