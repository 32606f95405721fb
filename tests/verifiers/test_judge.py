"""The ``judge`` verifier through the real verify stage, judgement log and analysis, with a
scripted judge model (the embedded model's end-to-end run is ``test_judges_e2e.py``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.analyze import AnalysisSettings, analyze
from harness.core.errors import UsageError
from harness.core.judgements import judgements_path, read_selections, selections_path
from harness.verify import verify
from tests.verifiers.judge_runs import ScriptedJudge, make_math_run, scripted_backend

FAST = AnalysisSettings(n_boot=50, fit_points=8)


def lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def test_logprob_judge_scores_every_sample_and_best_of_k_is_coverage(tmp_path: Path) -> None:
    store = make_math_run(tmp_path / "run", problems=5, n=6)
    judge = ScriptedJudge(p=1.0)
    verify(store, "judge", {"mode": "logprob", "subsets": 4}, backend=scripted_backend(judge))
    verdicts = lines(store.verdicts_path("judge"))
    exact = {
        (v["problem_id"], v["sample_index"]): v["correct"]
        for v in lines(store.verdicts_path("exact"))
    }
    assert len(verdicts) == 30 and {v["status"] for v in verdicts} == {"scored"}
    for v in verdicts:  # P(yes) normalised over Yes/No: 0.9 for right answers, 0.1 else
        assert v["score"] == pytest.approx(
            0.9 if exact[(v["problem_id"], v["sample_index"])] else 0.1
        )
        assert v["correct"] is False  # a selector claims nothing
    calls = lines(judgements_path(store.root, "judge"))
    pointwise = [c for c in calls if c["b"] is None]
    assert len(pointwise) == 30 and {c["order"] for c in pointwise} == {"a"}
    # Pairwise calls only where the top scores (all wrong, 0.1) disagree on the answer.
    assert all(c["order"] in ("ab", "ba") for c in calls if c["b"] is not None)
    fields = {"problem_id", "a", "b", "order", "outcome", "prompt_tokens", "completion_tokens"}
    assert fields <= set(calls[0])
    out = analyze(store.root, settings=FAST)
    sel = pd.read_csv(store.analysis_dir / "selection.csv")
    assert list(sel["k"]) == list(range(1, 7))
    for col in ("best_of_k:judge", "weighted_vote:judge", "verification:judge"):
        assert col in sel
    # A judge that is always right picks a right sample whenever there is one.
    np.testing.assert_allclose(sel["best_of_k:judge"], sel["coverage"], atol=1e-12)
    assert sel["verification:judge"].iloc[-1] == pytest.approx(sel["coverage"].iloc[-1])
    assert (sel["verification:judge:lo"] <= sel["verification:judge"] + 1e-12).all()
    assert out.summary["selectors"]["judge"]["judgements"] == len(calls)
    assert "judge" not in out.summary.get("verifier_errors", {})
    assert not (store.analysis_dir / "verifier_curves_judge.csv").exists()  # no claims


def test_sampled_judge_means_k_verif_verdicts_and_counts_unreadable_ones(tmp_path: Path) -> None:
    store = make_math_run(tmp_path / "run", problems=3, n=4)
    texts = {json.loads(x)["text"] for x in store.samples_path.read_text().splitlines()}
    garbled = sorted(texts)[0]
    judge = ScriptedJudge(p=1.0, garble=(garbled,))
    verify(
        store,
        "judge",
        {"mode": "sampled", "k_verif": 3, "subsets": 2},
        backend=scripted_backend(judge),
    )
    calls = lines(judgements_path(store.root, "judge"))
    pointwise = [c for c in calls if c["b"] is None]
    assert len(pointwise) == 3 * 4 * 3
    assert {c["draw"] for c in pointwise} == {0, 1, 2}
    verdicts = lines(store.verdicts_path("judge"))
    bad = [v for v in verdicts if v["status"] == "unparsed"]
    assert bad and all(v["score"] is None and v["detail"]["unparsed"] == 3 for v in bad)
    good = [v for v in verdicts if v["status"] == "scored"]
    assert {v["score"] for v in good} <= {0.0, 1.0}
    out = analyze(store.root, settings=FAST)
    facts = out.summary["selectors"]["judge"]
    assert facts["statuses"]["unparsed"] == len(bad)
    assert facts["unparsed_judgements"] == sum(1 for c in calls if c["outcome"] == "unparsed")


def test_tie_break_settles_equal_scores_by_pairwise_comparisons(tmp_path: Path) -> None:
    store = make_math_run(tmp_path / "run", problems=6, n=5, rate=0.3)
    judge = ScriptedJudge(p=1.0, flat=0.9)  # every candidate looks equally good
    verify(store, "judge", {"subsets": 6}, backend=scripted_backend(judge))
    pairs = [c for c in lines(judgements_path(store.root, "judge")) if c["b"] is not None]
    assert pairs and all(c["order"] in ("ab", "ba") for c in pairs)
    analyze(store.root, settings=FAST)
    sel = pd.read_csv(store.analysis_dir / "selection.csv")
    # Comparisons find the right answer wherever one was sampled; ranking by the flat
    # score alone picks at random.
    assert sel["verification:judge"].iloc[-1] == pytest.approx(sel["coverage"].iloc[-1])
    assert sel["best_of_k:judge"].iloc[-1] < sel["coverage"].iloc[-1]
    picks = pd.read_json(selections_path(store.root, "judge"), lines=True)
    assert (picks["pairwise_calls"] > 0).any() and (picks["method"] == "verification").all()


def test_resume_asks_only_the_missing_judgements(tmp_path: Path) -> None:
    whole = make_math_run(tmp_path / "whole", problems=4, n=5)
    verify(whole, "judge", {"subsets": 3}, backend=scripted_backend(ScriptedJudge(p=0.7)))
    cut = make_math_run(tmp_path / "cut", problems=4, n=5)
    verify(cut, "judge", {"subsets": 3}, backend=scripted_backend(ScriptedJudge(p=0.7)))
    path = judgements_path(cut.root, "judge")
    kept = path.read_bytes().splitlines(keepends=True)[:7]
    path.write_bytes(b"".join(kept) + b'{"problem_id": "2", "a": 1, "b": nu')  # torn
    cut.verdicts_path("judge").unlink()
    judge = ScriptedJudge(p=0.7)
    with pytest.warns(UserWarning, match="torn"):
        verify(cut, "judge", {"subsets": 3}, backend=scripted_backend(judge))
    total = len(lines(judgements_path(whole.root, "judge")))
    assert len(judge.calls) == total - 7  # the 7 on disk are not asked again
    keys = [(c["problem_id"], c["a"], c["b"], c["order"], c["draw"]) for c in lines(path)]
    assert len(keys) == len(set(keys)) == total
    assert lines(cut.verdicts_path("judge")) == lines(whole.verdicts_path("judge"))
    # The same picks (a re-played batch writes its picks again; the last line counts).
    key = ["problem_id", "method", "k", "draw"]
    picks_cut = read_selections(cut.root, "judge").sort_values(key).reset_index(drop=True)
    picks_whole = read_selections(whole.root, "judge").sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(picks_cut, picks_whole)


def test_a_judge_log_of_another_configuration_is_refused(tmp_path: Path) -> None:
    store = make_math_run(tmp_path / "run", problems=2, n=3)
    verify(store, "judge", {"subsets": 1}, backend=scripted_backend(ScriptedJudge()))
    before = {p.name: p.read_bytes() for p in (store.root / "judgements").iterdir()}
    store.verdicts_path("judge").unlink()
    with pytest.raises(UsageError, match=r"mode='logprob' \(now 'sampled'\)"):
        verify(store, "judge", {"mode": "sampled"}, backend=scripted_backend(ScriptedJudge()))
    assert {p.name: p.read_bytes() for p in (store.root / "judgements").iterdir()} == before
    assert not store.verdicts_path("judge").exists()
    # More subsets or a larger k_verif reuse what is there: they change no call's answer.
    verify(store, "judge", {"subsets": 3}, backend=scripted_backend(ScriptedJudge()))


def test_first_n_samples_only_and_n_beyond_the_run_is_refused(tmp_path: Path) -> None:
    store = make_math_run(tmp_path / "run", problems=3, n=6)
    with pytest.raises(UsageError, match=r"-n 9: problem .* has only 6 samples"):
        verify(store, "judge", {}, backend=scripted_backend(ScriptedJudge()), limit=9)
    assert not (store.root / "judgements").exists() and not store.verdicts_path("judge").exists()
    verify(store, "judge", {"subsets": 2}, backend=scripted_backend(ScriptedJudge()), limit=3)
    assert {v["sample_index"] for v in lines(store.verdicts_path("judge"))} == {0, 1, 2}
    analyze(store.root, settings=FAST)
    sel = pd.read_csv(store.analysis_dir / "selection.csv")
    assert sel["best_of_k:judge"].notna().tolist() == [True] * 3 + [False] * 3
    assert sel["verification:judge"].notna().tolist() == [True] * 3 + [False] * 3


def test_analyze_refuses_a_selector_as_the_truth(tmp_path: Path) -> None:
    store = make_math_run(tmp_path / "run", problems=2, n=3)
    verify(store, "judge", {"subsets": 1}, backend=scripted_backend(ScriptedJudge()))
    with pytest.raises(UsageError, match="'judge' is a selector"):
        analyze(store.root, "judge", settings=FAST)


def test_a_second_configuration_under_a_name_of_its_own(tmp_path: Path) -> None:
    store = make_math_run(tmp_path / "run", problems=3, n=4)
    verify(store, "judge", {"subsets": 2}, backend=scripted_backend(ScriptedJudge()))
    opts = {"mode": "sampled", "k_verif": 2, "subsets": 2}
    verify(store, "judge@sampled", opts, backend=scripted_backend(ScriptedJudge()))
    assert judgements_path(store.root, "judge@sampled").exists()
    meta = json.loads((store.root / "verdicts" / "judge@sampled.meta.json").read_text())
    assert meta["verifier"] == "judge@sampled" and meta["plugin"] == "judge"
    analyze(store.root, settings=FAST)
    sel = pd.read_csv(store.analysis_dir / "selection.csv")
    assert {"verification:judge", "verification:judge@sampled"} <= set(sel.columns)
    with pytest.raises(UsageError, match="the label after @"):
        verify(store, "judge@no/slash", {}, backend=scripted_backend(ScriptedJudge()))
