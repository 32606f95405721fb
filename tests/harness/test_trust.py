"""Numbers a user can trust: each case a new user met (duplicated imports, silent partial
analyses, runs that did not resume, late errors, headlines without a backtest) is now
refused in one line, labelled, or right."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from analysis_runs import make_run

from analysis.allocation import equal_budget_table
from harness.analyze import AnalysisSettings, analyze
from harness.core.columns import read_token_counts
from harness.core.errors import UsageError
from harness.core.records import Sample
from harness.core.store import DuplicateWarning
from harness.report import report
from harness.report.compare import compare

ROOT = Path(__file__).resolve().parents[2]
SCRIPTED = ["--backend", "scripted", "--task-opt", "count=3", "-n", "3"]
FAST = AnalysisSettings(n_boot=50)


def harness(
    *args: str, cwd: Path, pythonpath: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(cwd), "COLUMNS": "80"}
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run(
        [sys.executable, "-m", "harness", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def one_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = [x for x in proc.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("harness: error: "), proc.stderr
    return lines[0]


def lines_of(path: Path) -> list[dict[str, object]]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def samples_file(path: Path, text: str = "The answer is 1") -> Path:
    rows = [{"problem_id": str(p), "text": f"{text} ({p}/{i})"} for p in range(3) for i in range(3)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


# -- one sample per (problem, index) --------------------------------------------------------


def test_importing_the_same_file_twice_keeps_one_sample_each(tmp_path: Path) -> None:
    src = samples_file(tmp_path / "s.jsonl")
    run = tmp_path / "run"
    args = ["import", str(src), "--task", "arith", "--task-opt", "count=3", "--out", str(run)]
    first = harness(*args, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "imported 9 samples of 3 problems" in first.stderr
    second = harness(*args, cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert "imported 0 new samples of 3 problems" in second.stderr
    assert "(9 already there, skipped)" in second.stderr
    rows = lines_of(run / "samples.jsonl")
    assert len(rows) == 9
    assert len({(r["problem_id"], r["sample_index"]) for r in rows}) == 9
    # Another file with other texts at the same places is refused; nothing is written.
    other = samples_file(tmp_path / "other.jsonl", text="The answer is 2")
    refused = one_error(harness(*args[:1], str(other), *args[2:], cwd=tmp_path))
    assert "already in" in refused and "--append" in refused
    assert len(lines_of(run / "samples.jsonl")) == 9
    # Asked to append, it adds them after the samples the run holds.
    appended = harness(*args[:1], str(other), *args[2:], "--append", cwd=tmp_path)
    assert appended.returncode == 0, appended.stderr
    rows = lines_of(run / "samples.jsonl")
    assert len(rows) == 18
    assert sorted(int(str(r["sample_index"])) for r in rows if r["problem_id"] == "0") == list(
        range(6)
    )


def test_the_store_reads_a_duplicated_sample_once_and_says_so(tmp_path: Path) -> None:
    store = make_run(tmp_path / "run", problems=3, n=4, extra_verifiers=False)
    first = next(store.iter_samples())
    with store.sample_appender() as w:  # a duplicate on disk, as old imports left them
        w.write_batch([Sample(first.problem_id, first.sample_index, "again")])
    with pytest.warns(DuplicateWarning, match="1 line"):
        samples = list(store.iter_samples())
    assert len(samples) == 12 and samples[0].text == first.text
    with pytest.warns(DuplicateWarning):
        assert len(read_token_counts(store.samples_path)) == 12
    with pytest.warns(DuplicateWarning):
        result = analyze(store.root, settings=FAST)
    assert result.summary["held"] == {"samples": 12, "problems": 3}
    assert result.summary["judged"]["exact"]["samples"] == 12


# -- no silent partial analysis ------------------------------------------------------------


def test_a_partly_judged_run_is_refused_then_labelled(tmp_path: Path) -> None:
    run = tmp_path / "run"
    made = harness("run", *SCRIPTED, "--out", str(run), cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    verdicts = run / "verdicts" / "exact.jsonl"
    kept = verdicts.read_text().splitlines()[:3]  # 3 of 9 samples judged, all of problem 0
    verdicts.write_text("".join(x + "\n" for x in kept))
    refused = one_error(harness("analyze", str(run), cwd=tmp_path))
    assert "judged 3 of 9 samples (1 of 3 problems)" in refused and "--partial" in refused
    partial = harness("analyze", str(run), "--partial", cwd=tmp_path)
    assert partial.returncode == 0, partial.stderr
    assert "partial: exact judged 3 of 9 samples (1 of 3 problems)" in partial.stdout
    assert "judged by exact: 3 of 9 samples (1 of 3 problems)" in partial.stdout
    summary = json.loads((run / "analysis" / "summary.json").read_text())
    assert summary["partial"].startswith("partial: exact judged 3 of 9")
    assert "is partial" in one_error(harness("report", str(run), cwd=tmp_path))
    shown = harness("report", str(run), "--partial", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "partial: exact judged 3 of 9 samples" in (run / "report.html").read_text()
    assert "is partial" in one_error(harness("compare", str(run), cwd=tmp_path))
    # Judging the rest makes the analysis complete again, and an old one is not reused.
    assert harness("verify", str(run), cwd=tmp_path).returncode == 0
    stale = one_error(harness("report", str(run), "--partial", cwd=tmp_path))
    assert "older than its samples or verdicts" in stale
    whole = harness("analyze", str(run), cwd=tmp_path)
    assert whole.returncode == 0 and "partial" not in whole.stdout


def test_problems_with_fewer_samples_than_n_are_reported(tmp_path: Path) -> None:
    store = make_run(tmp_path / "run", problems=3, n=6, extra_verifiers=False)
    rows = [
        r
        for r in lines_of(store.samples_path)
        if not (r["problem_id"] == "q1" and int(str(r["sample_index"])) >= 2)
    ]
    store.samples_path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    verdicts = store.verdicts_path("exact")
    kept = [
        r
        for r in lines_of(verdicts)
        if not (r["problem_id"] == "q1" and int(str(r["sample_index"])) >= 2)
    ]
    verdicts.write_text("".join(json.dumps(r) + "\n" for r in kept))
    result = analyze(store.root, settings=FAST)
    assert result.summary["short_problems"] == {"count": 1, "of": 3, "fewest": 2, "N": 6}
    assert any("1 of 3 problems have fewer than N=6 samples" in n for n in result.notes)
    assert int(result.coverage["k"].max()) == 2


# -- resume by default -----------------------------------------------------------------------


def test_rerunning_without_out_resumes_the_same_run(tmp_path: Path) -> None:
    first = harness("run", *SCRIPTED, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    runs = list((tmp_path / "results").iterdir())
    assert len(runs) == 1 and "new run results/" in first.stderr
    again = harness("run", *SCRIPTED, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert f"resuming results/{runs[0].name}: 9 of 9 samples present" in again.stderr
    more = harness("generate", *SCRIPTED[:-2], "-n", "5", cwd=tmp_path)
    assert more.returncode == 0, more.stderr
    assert f"resuming results/{runs[0].name}: 9 of 15 samples present" in more.stderr
    assert list((tmp_path / "results").iterdir()) == runs
    assert len(lines_of(runs[0] / "samples.jsonl")) == 15
    # Another configuration, or --new, makes a new directory.
    assert harness("generate", *SCRIPTED, "--temperature", "0.5", cwd=tmp_path).returncode == 0
    assert harness("generate", *SCRIPTED, "--new", cwd=tmp_path).returncode == 0
    assert len(list((tmp_path / "results").iterdir())) == 3


def test_out_alone_continues_that_run_with_its_own_configuration(tmp_path: Path) -> None:
    run = tmp_path / "run"
    made = harness("generate", *SCRIPTED, "--temperature", "0.3", "--out", str(run), cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    more = harness("generate", "--out", str(run), "-n", "4", cwd=tmp_path)
    assert more.returncode == 0, more.stderr
    assert "resuming" in more.stderr and len(lines_of(run / "samples.jsonl")) == 12
    assert json.loads((run / "manifest.json").read_text())["sampling"]["temperature"] == 0.3
    # A mistyped path starts nothing.
    typo = one_error(harness("generate", "--out", str(tmp_path / "rnu"), cwd=tmp_path))
    assert "holds no run" in typo and not (tmp_path / "rnu").exists()
    # An existing folder that is no run is not taken over.
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("keep")
    taken = one_error(
        harness("generate", *SCRIPTED, "--out", str(tmp_path / "notes"), cwd=tmp_path)
    )
    assert "is not a run directory" in taken
    assert [p.name for p in (tmp_path / "notes").iterdir()] == ["todo.txt"]


# -- checks before the expensive part ------------------------------------------------------


@pytest.fixture
def engine_trap(tmp_path: Path) -> tuple[Path, Path]:
    """A ``vllm`` package that records being imported: any engine start would import it."""
    site = tmp_path / "trap"
    (site / "vllm").mkdir(parents=True)
    marker = tmp_path / "engine-started"
    (site / "vllm" / "__init__.py").write_text(
        f"open({str(marker)!r}, 'w').close()\nraise SystemExit('engine started')\n"
    )
    return site, marker


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["run", "--task", "humaneval", "--sandbox", "foo"], "sandbox must be one of bwrap, none"),
        (["run", "--task", "arith", "--sandbox", "none"], "--sandbox applies to verifiers"),
        (["run", "--verifier-opt", "timeout=-1", "--task", "gsm8k"], "timeout must be at least 0"),
        (["run", "--task", "arith", "--out", "/proc/harness-x"], "not writable"),
        (["generate", "--model", "/no/such/model"], "model path '/no/such/model' does not exist"),
        (["generate", "--backend-opt", "max_model_len=big"], "max_model_len='big' is not a valid"),
    ],
)
def test_bad_input_fails_in_about_the_time_of_help_and_starts_no_engine(
    tmp_path: Path, engine_trap: tuple[Path, Path], args: list[str], needle: str
) -> None:
    site, marker = engine_trap
    start = time.perf_counter()
    assert harness("--help", cwd=tmp_path, pythonpath=site).returncode == 0
    help_s = time.perf_counter() - start
    start = time.perf_counter()
    proc = harness(*args, "--limit", "2", cwd=tmp_path, pythonpath=site)
    took = time.perf_counter() - start
    assert needle in one_error(proc)
    assert not marker.exists()  # no engine was started
    # Measured side by side with `harness --help`: the check costs about a second at most.
    assert took < help_s + 1.0, (took, help_s)
    assert not (tmp_path / "results").exists() or not any((tmp_path / "results").iterdir())


def test_a_sandbox_worker_that_fails_to_start_is_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    from verifiers.sandbox import SandboxSettings, SandboxUnavailable, worker

    monkeypatch.setattr(worker, "START_BACKOFF_S", 0.0)
    calls: list[int] = []

    def flaky(self: worker.SandboxWorker) -> None:
        calls.append(1)
        if len(calls) < 3:
            raise SandboxUnavailable("sandbox worker failed to start: worker answered 'timeout'")

    monkeypatch.setattr(worker.SandboxWorker, "_start_once", flaky)
    w = worker.SandboxWorker(SandboxSettings(mode="none"), 0)
    w.start()
    assert len(calls) == 3
    calls.clear()
    monkeypatch.setattr(worker, "START_ATTEMPTS", 2)
    with pytest.raises(SandboxUnavailable, match=r"answered 'timeout' \(tried 2 times\)"):
        w.start()


def test_a_sandbox_that_never_starts_is_one_line_from_verify(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from verifiers.sandbox import SandboxUnavailable, worker
    from verifiers.unit_tests import UnitTestVerifier

    monkeypatch.setattr(worker, "START_BACKOFF_S", 0.0)

    def never(self: worker.SandboxWorker) -> None:
        raise SandboxUnavailable("sandbox worker failed to start: worker answered 'timeout'")

    monkeypatch.setattr(worker.SandboxWorker, "_start_once", never)
    v = UnitTestVerifier({"sandbox": "none", "workers": "1"})
    with pytest.raises(UsageError, match=r"tried 3 times"):
        _ = v.pool


# -- headlines that survive a reviewer -----------------------------------------------------


def test_no_extrapolated_headline_without_a_backtest(tmp_path: Path) -> None:
    store = make_run(tmp_path / "run", problems=24, n=32, extra_verifiers=False)
    result = analyze(store.root, settings=FAST)
    assert result.fit is not None and result.fit.backtest is None
    page = report(store.root).read_text()
    assert "predicted @" not in page
    assert "Extrapolation (no backtest: unchecked)" in page
    backed = make_run(tmp_path / "long", problems=24, n=48, extra_verifiers=False)
    fit = analyze(backed.root, settings=FAST).fit
    assert fit is not None and fit.backtest is not None
    page = report(backed.root).read_text()
    assert "predicted @" in page and "backtest error" in page


def test_intervals_from_few_problems_are_marked_unreliable(tmp_path: Path) -> None:
    store = make_run(tmp_path / "run", problems=1, n=8, extra_verifiers=False)
    analyze(store.root, settings=FAST)
    page = report(store.root).read_text()
    assert "interval unreliable: 1 problem(s)" in page
    assert "are unreliable" in page


def test_the_beta_model_is_shown_only_where_it_follows_the_data(tmp_path: Path) -> None:
    store = make_run(tmp_path / "run", problems=24, n=48, extra_verifiers=False)
    fit = analyze(store.root, settings=FAST).fit
    assert fit is not None and fit.beta_max_error is not None
    page = report(store.root).read_text()
    shown = "Beta model not shown" not in page
    assert shown == fit.beta_fits
    # Forced off: a fit.json whose Beta model missed the data by 0.3.
    path = store.analysis_dir / "fit.json"
    data = json.loads(path.read_text())
    data["beta_max_error"] = 0.3
    path.write_text(json.dumps(data))
    page = report(store.root).read_text()
    assert "Beta model not shown: it misses the observed coverage by up to 0.300" in page
    assert "Beta model</th>" not in page


def test_compare_refuses_runs_of_different_tasks_or_problems(tmp_path: Path) -> None:
    a = make_run(tmp_path / "a", problems=8, n=8, extra_verifiers=False)
    b = make_run(tmp_path / "b", problems=6, n=8, seed=1, extra_verifiers=False)
    for store in (a, b):
        analyze(store.root, settings=FAST)
    with pytest.raises(UsageError, match=r"different problem sets.*--allow-mixed"):
        compare([a.root, b.root], tmp_path / "cmp")
    page = compare([a.root, b.root], tmp_path / "cmp", allow_mixed=True).read_text()
    assert "Mixed comparison: the runs are on different problem sets" in page


def test_no_best_run_where_no_run_has_coverage() -> None:
    cost = np.array([1.0, 2.0, 4.0])
    table = equal_budget_table(
        {"zero": (cost, np.zeros(3)), "late": (cost * 8, np.array([0.1, 0.2, 0.3]))}, points=4
    )
    first = table.iloc[0]  # a budget only "zero" reaches, with coverage 0
    assert first["zero"] == 0.0 and np.isnan(first["late"]) and first["best"] == ""
    assert table.iloc[-1]["best"] == "late"


def test_samples_that_hit_max_tokens_are_counted_and_shown(tmp_path: Path) -> None:
    store = make_run(tmp_path / "run", problems=12, n=8, extra_verifiers=False)
    rows = lines_of(store.samples_path)
    for r in rows[:24]:
        r["finish_reason"] = "length"
    store.samples_path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no duplicate is reported where there is none
        result = analyze(store.root, settings=FAST)
    assert result.summary["truncated"] == {"count": 24, "of": 96, "share": 0.25}
    page = report(store.root).read_text()
    assert "hit --max-tokens" in page and "25.0%" in page
    shown = harness("analyze", str(store.root), cwd=tmp_path)
    assert "samples that hit --max-tokens (finish_reason=length): 24 of 96 (25.0%)" in shown.stdout
