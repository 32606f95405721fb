"""Weak and strong verifiers of one run: EvalPlus result files, the visible/hidden test
split of the code tasks judged in the real sandbox, and what analyze and report make of
them (U(k), k*); bad input is one line and exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.analyze import AnalysisSettings, analyze
from harness.core.records import Problem, Sample, Status, Verdict
from harness.core.store import RunStore
from harness.core.values import decode
from harness.core.verifier import Verifier
from harness.ingest import ImportMeta, import_file
from harness.report import report
from harness.verify import verify
from tasks.humaneval import HumanEvalTask
from verifiers.unit_tests import visible_verdict

ROOT = Path(__file__).resolve().parents[2]
FAST = AnalysisSettings(n_boot=100)


def harness(*args: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
    )


def one_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("harness: error:"), proc.stderr
    return lines[0]


# -- EvalPlus result files -------------------------------------------------------------------


def evalplus_results(statuses: dict[str, list[tuple[str, str | None]]]) -> dict[str, object]:
    return {
        "date": "2025-01-01 00:00",
        "hash": "test",
        "eval": {
            task_id: [
                {
                    "task_id": task_id,
                    "solution": f"def f():\n    return {i}\n",
                    "base_status": base,
                    "plus_status": plus,
                    "base_fail_tests": [],
                    "plus_fail_tests": [],
                }
                for i, (base, plus) in enumerate(entries)
            ]
            for task_id, entries in statuses.items()
        },
    }


PASS, FAIL = "pass", "fail"
# Two problems EvalPlus's extra tests settle (all base passes also pass plus), two where
# the only base pass fails the plus tests: the base tests are a weak verifier.
EVALPLUS = {
    "HumanEval/0": [(PASS, PASS)] * 5 + [(FAIL, FAIL)] * 5,
    "HumanEval/1": [(PASS, PASS)] * 5 + [(FAIL, FAIL)] * 5,
    "HumanEval/2": [(PASS, FAIL)] + [(FAIL, FAIL)] * 8 + [("timeout", FAIL)],
    "HumanEval/3": [(PASS, FAIL)] + [(FAIL, FAIL)] * 9,
}


def test_evalplus_results_are_a_weak_and_a_strong_verifier(tmp_path: Path) -> None:
    path = tmp_path / "eval_results.json"
    path.write_text(json.dumps(evalplus_results(EVALPLUS), indent=2))  # pretty-printed
    run = tmp_path / "run"
    done = import_file(path, run, "humaneval", meta=ImportMeta(model="some-model"))
    assert done.format == "evalplus" and done.samples == 40 and done.correct == 10
    store = RunStore(run)
    assert store.verifiers() == ["evalplus_base", "evalplus_plus"]
    assert store.read_manifest().verifier == "evalplus_plus"
    meta = json.loads((run / "verdicts" / "evalplus_base.meta.json").read_text())
    assert meta["weak_of"] == "evalplus_plus"
    assert {p.id for p in store.read_problems()} == set(EVALPLUS)
    statuses = {v.status for v in store.iter_verdicts("evalplus_base")}
    assert Status.TIMEOUT in statuses
    result = analyze(run, settings=FAST)
    info = result.summary["imperfect_verifier"]
    assert info["weak"] == "evalplus_base" and info["strong"] == "evalplus_plus"
    assert info["false_positives"] == 2 and info["problems_with_false_positives"] == 2
    assert info["ceiling"] == pytest.approx(0.5)  # (1 + 1 + 0 + 0) / 4
    table = pd.read_csv(run / "analysis" / "imperfect_verifier.csv")
    assert {"k", "accuracy", "utility_c0", "utility_c1", "utility_c2", "utility_c4"} <= set(
        table.columns
    )
    # c = 2: two problems at +1 saturate fast, two at -2 grow linearly: U(k) rises, then falls.
    u = table["utility_c2"].to_numpy()
    k_star = info["k_star"]["2"]
    assert 1 < k_star < 10 and u[k_star - 1] > u[-1] and u[-1] < 0
    assert any(f"k* = {k_star}" in line for line in result.advice)
    page = report(run).read_text()
    assert "<h2>Imperfect verifier" in page and "plots/imperfect_verifier.png" in page
    assert "For your next run" in page and (run / "plots" / "imperfect_verifier.png").exists()


def test_evalplus_bad_input_is_one_line_exit_2(tmp_path: Path) -> None:
    bad = evalplus_results({"HumanEval/0": [(PASS, PASS)], "HumanEval/9999": [(PASS, PASS)]})
    path = tmp_path / "eval_results.json"
    path.write_text(json.dumps(bad))  # one line, as evalplus writes it
    err = one_error(harness("import", path, "--task", "humaneval", "--out", tmp_path / "run"))
    assert "unknown task id 'HumanEval/9999'" in err and not (tmp_path / "run").exists()
    old = {"eval": {"HumanEval/0": {"nfiles": 1, "base": [["success", []]], "plus": []}}}
    path.write_text(json.dumps(old))
    err = one_error(harness("import", path, "--task", "humaneval", "--out", tmp_path / "run"))
    assert "EvalPlus before 0.2" in err


def test_analysis_flags_bad_input_is_one_line_exit_2(tmp_path: Path) -> None:
    from analysis_runs import make_run

    path = tmp_path / "eval_results.json"
    path.write_text(json.dumps(evalplus_results(EVALPLUS)))
    run = tmp_path / "run"
    import_file(path, run, "humaneval")
    assert "--cost-ratio" in one_error(harness("analyze", run, "--cost-ratio", "0,two"))
    assert "--cost-ratio" in one_error(harness("analyze", run, "--cost-ratio", "-1"))
    assert not (run / "analysis").exists()  # refused before anything was written
    ok = harness("analyze", run, "--bootstrap", "50", "--cost-ratio", "0.5", "--cost-ratio", "3")
    assert ok.returncode == 0, ok.stderr
    assert "next run:" in ok.stdout and "k* = " in ok.stdout
    summary = json.loads((run / "analysis" / "summary.json").read_text())
    assert summary["imperfect_verifier"]["cost_ratios"] == [0.5, 3.0]
    # A model without a config.json, asked for eFLOPs without --model-size.
    other = make_run(tmp_path / "other", model="my-own-model", problems=6, n=8)
    err = one_error(harness("analyze", other.root, "--intensity", "h100"))
    assert "no config.json" in err and "--model-size" in err
    assert "--intensity" in one_error(harness("analyze", other.root, "--intensity", "tpu"))
    assert "--model-size" in one_error(harness("analyze", other.root, "--model-size", "layers=x"))
    assert not other.analysis_dir.exists()
    # With the numbers given, it gets eFLOPs on the accelerator asked for.
    size = "params=1000000000,layers=16,n_heads=32,n_kv_heads=8,head_dim=64"
    ok = harness(
        "analyze", other.root, "--bootstrap", "50", "--intensity", "a100", "--model-size", size
    )
    assert ok.returncode == 0, ok.stderr
    info = json.loads((other.analysis_dir / "compute.json").read_text())
    assert info["accelerator"].startswith("a100") and info["facts_from"] == "--model-size"
    assert info["n_kv_heads"] == 8 and info["eflops"] is True
    compute = pd.read_csv(other.analysis_dir / "compute.csv")
    assert (compute["eflops"] > compute["flops"]).all()
    assert compute["dollars"].isna().all() and (compute["priced_by"] == "none").all()


# -- the visible/hidden split of a code task's tests ------------------------------------------


def test_visible_verdict_reads_the_first_tests_of_the_full_run() -> None:
    def full(status: Status, tests: str | None, **extra: object) -> Verdict:
        detail = {"tests": tests, **extra} if tests is not None else {"error": "no load"}
        return Verdict("p", 0, status is Status.PASSED, status, detail=detail)

    cases = [
        (full(Status.PASSED, "PPPP"), 2, Status.PASSED),
        (full(Status.FAILED, "PPFP"), 2, Status.PASSED),  # fails a hidden test only
        (full(Status.FAILED, "PFPP"), 2, Status.FAILED),
        (full(Status.FAILED, "EPPP"), 2, Status.FAILED),
        (full(Status.TIMEOUT, "PP--"), 2, Status.PASSED),  # hung on a hidden test
        (full(Status.TIMEOUT, "P---"), 2, Status.TIMEOUT),
        (full(Status.ERROR, None), 2, Status.ERROR),  # never loaded
        (full(Status.FAILED, "PPPP", error="output over the size limit"), 2, Status.FAILED),
    ]
    for verdict, k, want in cases:
        got = visible_verdict(verdict, k)
        assert got.status is want and got.correct is (want is Status.PASSED), verdict.detail


def test_visible_tests_option_marks_the_first_tests() -> None:
    problems = HumanEvalTask(options={"visible_tests": "2"}).load()
    assert all(p.tests is not None and p.tests.visible is not None for p in problems)
    many = next(p for p in problems if p.tests is not None and p.tests.test_count() > 4)
    assert many.tests is not None and many.tests.visible == 2
    half = HumanEvalTask(options={"visible_tests": "0.5"}).load()
    p = next(x for x in half if x.id == many.id)
    assert p.tests is not None and p.tests.visible == -(-many.tests.test_count() // 2)
    plain = HumanEvalTask().load()
    assert plain[0].tests is not None and "visible" not in plain[0].tests.to_dict()
    from harness.core.errors import UsageError

    for bad in ("0", "2.5", "-1"):
        with pytest.raises(UsageError, match="visible_tests"):
            HumanEvalTask(options={"visible_tests": bad})


class _Halves(Verifier):
    """Accepts even sample indices; its derived 'loose' verifier accepts every sample."""

    name = "halves"
    calls = 0

    def verify(self, problem: Problem, samples: list[Sample]) -> list[Verdict]:  # type: ignore[override]
        type(self).calls += len(samples)
        return [
            Verdict(s.problem_id, s.sample_index, s.sample_index % 2 == 0, Status.PASSED)
            for s in samples
        ]

    def derived_names(self, problem: Problem) -> tuple[str, ...]:
        return ("loose",)

    def derived(self, problem: Problem, verdicts: list[Verdict]) -> dict[str, list[Verdict]]:  # type: ignore[override]
        return {
            "loose": [Verdict(v.problem_id, v.sample_index, True, Status.PASSED) for v in verdicts]
        }


def test_verify_writes_derived_verdicts_and_resumes_each_file(tmp_path: Path) -> None:
    run = tmp_path / "run"
    samples = tmp_path / "s.jsonl"
    samples.write_text(
        "".join(
            json.dumps({"problem_id": pid, "text": "x"}) + "\n"
            for pid in ("HumanEval/0", "HumanEval/1")
            for _ in range(3)
        )
    )
    import_file(samples, run, "humaneval")
    verify(run, impl=_Halves())
    store = RunStore(run)
    assert store.verifiers() == ["halves", "halves_loose"]
    assert (
        json.loads((run / "verdicts" / "halves_loose.meta.json").read_text())["weak_of"] == "halves"
    )
    assert _Halves.calls == 6
    (run / "verdicts" / "halves_loose.jsonl").unlink()
    verify(run, impl=_Halves())  # only the derived file is missing: judged again for it
    assert _Halves.calls == 12
    assert len(list(store.iter_verdicts("halves"))) == 6  # not written twice
    assert len(list(store.iter_verdicts("halves_loose"))) == 6
    verify(run, impl=_Halves())
    assert _Halves.calls == 12  # nothing left to judge


def crafted_samples() -> tuple[list[dict[str, object]], int]:
    """HumanEval samples: right (the canonical solution), wrong, and 'cheaters' that return
    the first test's expected value: they pass the visible test and fail the hidden ones.

    Three problems get 5 right and 5 wrong samples; two get 1 cheater and 9 wrong ones."""
    problems = HumanEvalTask(options={"visible_tests": "1"}).load()
    picked = []
    for p in problems:
        cases = p.tests.cases if p.tests is not None else ()
        if not (p.tests and p.tests.complete and len(cases) > 1 and p.reference):
            continue
        if cases[0].get("compare") != "eq":
            continue
        first = repr(decode(cases[0]["expected"]))
        if all(repr(decode(c["expected"])) != first for c in cases[1:]):
            picked.append((p, first))
        if len(picked) == 5:
            break
    rows: list[dict[str, object]] = []
    wrong = "    raise NotImplementedError\n"
    for i, (p, first) in enumerate(picked):
        if i < 3:
            texts = [str(p.reference)] * 5 + [wrong] * 5
        else:
            texts = [f"    return {first}\n"] + [wrong] * 9
        rows += [{"task_id": p.id, "completion": t} for t in texts]
    return rows, 2


@pytest.mark.slow
def test_humaneval_visible_split_in_the_sandbox_bends_utility_down(tmp_path: Path) -> None:
    """A real split of HumanEval's tests, judged in the bubblewrap sandbox: the cheaters
    are false positives of the visible tests, and with a false positive costing 2 right
    answers U(k) peaks and then falls."""
    rows, cheaters = crafted_samples()
    samples = tmp_path / "samples.jsonl"
    samples.write_text("".join(json.dumps(r) + "\n" for r in rows))
    run = tmp_path / "run"
    steps = [
        ("import", samples, "--task", "humaneval", "--task-opt", "visible_tests=1", "--out", run),
        ("verify", run),
        ("analyze", run, "--bootstrap", "200"),
        ("report", run),
    ]
    for step in steps:
        proc = harness(*step)
        assert proc.returncode == 0, (step[0], proc.stderr)
    store = RunStore(run)
    assert store.verifiers() == ["unit_tests", "unit_tests_visible"]
    assert store.read_manifest().sandbox == "bwrap"
    full = {(v.problem_id, v.sample_index): v for v in store.iter_verdicts("unit_tests")}
    seen = {(v.problem_id, v.sample_index): v for v in store.iter_verdicts("unit_tests_visible")}
    false_positives = [k for k, v in seen.items() if v.correct and not full[k].correct]
    assert len(false_positives) == cheaters
    assert all(full[k].detail["tests"].startswith("P") for k in false_positives)
    assert sum(v.correct for v in full.values()) == 15
    summary = json.loads((run / "analysis" / "summary.json").read_text())
    info = summary["imperfect_verifier"]
    assert info["weak"] == "unit_tests_visible" and info["false_positives"] == cheaters
    table = pd.read_csv(run / "analysis" / "imperfect_verifier.csv")
    for c in ("1", "2", "4"):
        u = table[info["columns"][c]].to_numpy()
        star = info["k_star"][c]
        assert 1 <= star < 10 and u[star - 1] > u[-1] + 0.05, c  # rises, then bends down
    acc = table["accuracy"].to_numpy()
    # Without a cost, more samples never hurt: k* is where acc(k) reaches its ceiling.
    assert (np.diff(acc) >= -1e-12).all() and acc[info["k_star"]["0"] - 1] == acc.max()
    assert acc.max() == pytest.approx(info["ceiling"])
    page = (run / "report.html").read_text()
    assert "<h2>Imperfect verifier" in page and "k* = " in page
    assert (run / "plots" / "imperfect_verifier.png").stat().st_size > 5_000


def test_runs_made_before_the_option_existed_still_resume(tmp_path: Path) -> None:
    """A task option left unset is the same as one the task did not have yet."""
    from harness.core.manifest import check_compatible, new_manifest

    problems = HumanEvalTask().load()[:2]
    now = HumanEvalTask().record()
    assert now["options"] == {"visible_tests": None}
    old = {**now, "options": {}}  # what the manifest of an older run holds

    def manifest(options: dict[str, object]) -> object:
        return new_manifest(
            tmp_path,
            task="humaneval",
            model="m",
            backend="scripted",
            n=1,
            problems=problems,
            verifier="unit_tests",
            task_options=options,
        )

    check_compatible(manifest(old), manifest(now), tmp_path)  # type: ignore[arg-type]
    split = HumanEvalTask(options={"visible_tests": "1"}).record()
    from harness.core.errors import UsageError

    with pytest.raises(UsageError, match="another configuration"):
        check_compatible(manifest(old), manifest(split), tmp_path)  # type: ignore[arg-type]
