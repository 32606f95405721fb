"""The ``pairwise`` verifier: knockout tournaments judged by a scripted pairwise judge
through the real verify stage, judgement log and analysis."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from harness.analyze import AnalysisSettings, analyze
from harness.core.judgements import judgements_path, read_selections
from harness.verify import verify
from tests.verifiers.judge_runs import ScriptedJudge, make_math_run, scripted_backend
from verifiers.pairwise import decide

FAST = AnalysisSettings(n_boot=50, fit_points=8)


def lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


@pytest.mark.parametrize("both", [False, True])
def test_n_minus_one_matches_and_one_or_two_calls_each(tmp_path: Path, both: bool) -> None:
    store = make_math_run(tmp_path / "run", problems=3, n=7)
    judge = ScriptedJudge(p=1.0)
    opts = {"both_orders": str(both).lower(), "subsets": 3}
    verify(store, "pairwise", opts, backend=scripted_backend(judge))
    verdicts = lines(store.verdicts_path("pairwise"))
    assert {v["detail"]["matches"] for v in verdicts} == {6}  # N - 1
    assert {v["detail"]["rounds"] for v in verdicts} == {3}  # ceil(log2 7)
    picks = read_selections(store.root, "pairwise")
    per_call = 2 if both else 1
    assert (picks["pairwise_calls"] == per_call * (picks["k"] - 1)).all()
    calls = lines(judgements_path(store.root, "pairwise"))
    orders = {(c["problem_id"], c["a"], c["b"]): set() for c in calls}
    for c in calls:
        orders[(c["problem_id"], c["a"], c["b"])].add(c["order"])
    assert all(len(o) == per_call for o in orders.values())
    # Every call answered once, however many subsets' tournaments met the same pair.
    keys = [(c["problem_id"], c["a"], c["b"], c["order"]) for c in calls]
    assert len(keys) == len(set(keys)) == len(judge.calls)
    # A judge that is always right: the winner is right whenever a right sample entered.
    analyze(store.root, settings=FAST)
    sel = pd.read_csv(store.analysis_dir / "selection.csv")
    assert sel["tournament:pairwise"].iloc[-1] == pytest.approx(sel["coverage"].iloc[-1])
    assert (sel["tournament:pairwise:lo"] <= sel["tournament:pairwise:hi"]).all()


def test_same_seed_same_selections_other_seed_other_brackets(tmp_path: Path) -> None:
    picks = []
    for name, seed in (("a", 0), ("b", 0), ("c", 5)):
        store = make_math_run(tmp_path / name, problems=3, n=8)
        opts = {"seed": seed, "subsets": 4}
        verify(store, "pairwise", opts, backend=scripted_backend(ScriptedJudge(p=0.6)))
        picks.append(
            (store.verdicts_path("pairwise").read_text(), read_selections(store.root, "pairwise"))
        )
    assert picks[0][0] == picks[1][0]
    pd.testing.assert_frame_equal(picks[0][1], picks[1][1])
    assert picks[0][0] != picks[2][0]


def test_clustering_enters_one_sample_per_answer(tmp_path: Path) -> None:
    store = make_math_run(tmp_path / "run", problems=4, n=8, rate=0.5)
    verify(
        store,
        "pairwise",
        {"cluster": "true", "subsets": 2},
        backend=scripted_backend(ScriptedJudge()),
    )
    exact = lines(store.verdicts_path("exact"))
    classes = {}
    for v in exact:
        classes.setdefault(v["problem_id"], set()).add(v["answer"])
    for v in lines(store.verdicts_path("pairwise")):
        assert v["detail"]["matches"] == len(classes[v["problem_id"]]) - 1
        # The sample stands for its answer's class: the first sample with that answer.
        first = min(
            e["sample_index"]
            for e in exact
            if e["problem_id"] == v["problem_id"] and e["answer"] == v["answer"]
        )
        assert v["detail"]["entrant"] == first


def test_unreadable_answers_are_unparsed_never_a_crash(tmp_path: Path) -> None:
    store = make_math_run(tmp_path / "run", problems=2, n=4)
    judge = ScriptedJudge(garble=("Adding",))  # every call shows such a text
    verify(store, "pairwise", {"subsets": 2}, backend=scripted_backend(judge))
    calls = lines(judgements_path(store.root, "pairwise"))
    assert calls and {c["outcome"] for c in calls} == {"unparsed"}
    verdicts = lines(store.verdicts_path("pairwise"))
    assert {v["status"] for v in verdicts} == {"unparsed"}
    out = analyze(store.root, settings=FAST)
    assert out.summary["selectors"]["pairwise"]["unparsed_judgements"] == len(calls)
    assert "tournament:pairwise" in pd.read_csv(store.analysis_dir / "selection.csv")


def test_the_match_rule() -> None:
    # Calls naming a winner decide; both orders disagreeing fall to P(win), then class
    # size, then a seeded coin.
    assert decide(3, 7, [("a", None), ("a", None)], None, 0, "p") == 3
    assert decide(7, 3, [("b", None)], None, 0, "p") == 7
    assert decide(3, 7, [("a", 0.6), ("b", 0.3)], None, 0, "p") == 7  # mean P(3 wins) 0.45
    assert decide(3, 7, [("a", None), ("b", None)], {3: 1, 7: 4}, 0, "p") == 7
    coin = {decide(3, 7, [("tie", None)], None, s, "p") for s in range(20)}
    assert coin == {3, 7}
    assert decide(3, 7, [("unparsed", None)], None, 1, "p") == decide(3, 7, [], None, 1, "p")
