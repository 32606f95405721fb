"""``harness report`` and ``harness compare``: pages, plots, tables; rendering in Chromium."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from analysis_runs import make_run

from harness.analyze import AnalysisSettings, analyze
from harness.core.errors import UsageError
from harness.report import report
from harness.report.compare import compare

FAST = AnalysisSettings(n_boot=200)


@pytest.fixture(scope="module")
def analysed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("report") / "run"
    make_run(root)
    analyze(root, settings=FAST)
    report(root)
    return root


def test_report_has_every_section_and_plot(analysed: Path) -> None:
    page = (analysed / "report.html").read_text()
    for heading in (
        "Coverage",
        "Selection",
        "Compute",
        "Allocation across problems",
        "Subgroups",
        "Per-problem success rates",
        "Verifier errors",
        "Run",
    ):
        assert f"<h2>{heading}" in page, heading
    for src in re.findall(r'<img src="([^"]+)"', page):
        assert (analysed / src).stat().st_size > 5_000, src
        assert (analysed / src).with_suffix(".pdf").exists()
    # Provenance on the page and in every caption: model, task, seed, versions.
    captions = re.findall(r"<figcaption>(.*?)</figcaption>", page)
    assert len(captions) >= 7
    assert all("smollm2-135m" in c and "task arith" in c and "seed 0" in c for c in captions)
    assert "numpy" in captions[0]
    assert "backtest" in page.lower() and "bootstrap" in page.lower()
    # Tables are linked as CSV.
    assert 'href="analysis/coverage_ci.csv"' in page and 'href="analysis/fit.json"' in page


def test_report_without_analysis_is_a_usage_error(tmp_path: Path) -> None:
    make_run(tmp_path / "run", extra_verifiers=False)
    with pytest.raises(UsageError, match="analyze"):
        report(tmp_path / "run")


def test_compare_runs_on_shared_axes(
    analysed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Neither model has a list price: the user's price table gives them one.
    prices = {"input": 0.01, "output": 0.02}
    table = tmp_path / "prices.json"
    table.write_text(json.dumps({"models": {"smollm2-135m": prices, "qwen2.5-0.5b": prices}}))
    monkeypatch.setenv("HARNESS_PRICES", str(table))
    other = make_run(
        tmp_path / "big", model="qwen2.5-0.5b", seed=1, temperature=0.6, extra_verifiers=False
    )
    analyze(other.root, settings=FAST)
    page = compare([analysed, other.root], tmp_path / "cmp")
    html = page.read_text()
    assert "smollm2-135m T=0.8" in html and "qwen2.5-0.5b T=0.6" in html
    for name in ("coverage_k", "coverage_flops", "coverage_dollars"):
        assert (tmp_path / "cmp" / "plots" / f"{name}.png").exists()
    fits = pd.read_csv(tmp_path / "cmp" / "fits.csv")
    assert len(fits) == 2 and fits["a"].notna().all()
    eq = pd.read_csv(tmp_path / "cmp" / "equal_flops.csv")
    assert {"flops", "best"} <= set(eq.columns)
    osca = pd.read_csv(tmp_path / "cmp" / "osca.csv")
    assert (osca["unit"] == "FLOPs per problem").all()
    assert np.all(osca["mix_train"] >= osca["single_train"] - 1e-9)


def test_compare_needs_analysed_runs(tmp_path: Path) -> None:
    make_run(tmp_path / "raw", extra_verifiers=False)
    with pytest.raises(UsageError, match="analyze"):
        compare([tmp_path / "raw"], tmp_path / "cmp")


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.slow
def test_report_renders_in_headless_chromium(analysed: Path, tmp_path: Path) -> None:
    browser = _chromium()
    if browser is None:
        pytest.skip("chromium not installed (make system-deps WITH_BROWSER=1 installs it)")
    shot = tmp_path / "shot.png"
    proc = subprocess.run(
        [
            browser,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--window-size=1280,2400",
            f"--screenshot={shot}",
            "--enable-logging=stderr",
            "--v=0",
            (analysed / "report.html").resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shot.exists(), proc.stderr[-2000:]
    # Console messages (a failed image load included, see harness.report.page.figure) are logged
    # as CONSOLE lines; the page must produce none.
    console = [line for line in proc.stderr.splitlines() if ":CONSOLE" in line]
    assert console == []
    import matplotlib.image

    pixels = matplotlib.image.imread(shot)[..., :3]
    assert pixels.shape[0] >= 2000 and pixels.shape[1] >= 1200
    not_white = (pixels < 0.9).any(axis=-1).mean()
    assert not_white > 0.05 and pixels.std() > 0.05  # text, plots and tables drawn


@pytest.mark.slow
def test_chromium_check_catches_a_broken_image(analysed: Path, tmp_path: Path) -> None:
    """The rendering test above can fail: a missing plot shows up as a console line."""
    browser = _chromium()
    if browser is None:
        pytest.skip("chromium not installed (make system-deps WITH_BROWSER=1 installs it)")
    page = tmp_path / "report.html"
    page.write_text((analysed / "report.html").read_text())  # plots/ not copied
    proc = subprocess.run(
        [
            browser,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            f"--screenshot={tmp_path / 'shot.png'}",
            "--enable-logging=stderr",
            "--v=0",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert any("missing image" in line for line in proc.stderr.splitlines())


def test_compare_command_line(analysed: Path, tmp_path: Path) -> None:
    import sys

    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness",
            "compare",
            str(analysed),
            str(analysed),
            "--out",
            str(tmp_path / "cmp"),
        ],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "cmp" / "compare.html").exists()
    proc = subprocess.run(
        [sys.executable, "-m", "harness", "compare", str(tmp_path / "nope")],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2 and "not a run directory" in proc.stderr


def test_report_says_how_the_verdicts_ended_beyond_pass_and_fail(tmp_path: Path) -> None:
    root = tmp_path / "run"
    make_run(root, problems=4, n=8, extra_verifiers=False)
    analyze(root, settings=FAST)
    report(root)
    assert "verdicts passed" not in (root / "report.html").read_text()  # pass/fail only
    path = root / "verdicts" / "exact.jsonl"
    rows = [json.loads(x) for x in path.read_text().splitlines()]
    for i, row in enumerate(r for r in rows if not r["correct"]):
        row["status"] = ["timeout", "error", "failed"][i % 3]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    analyze(root, settings=FAST)
    page = report(root).read_text()
    passed = sum(r["correct"] for r in rows) / len(rows)
    timeouts = sum(r["status"] == "timeout" for r in rows)
    assert re.search(rf"verdicts passed</div><div class=\"v\">{passed:.1%}", page)
    assert f"timeout {timeouts:,}" in page


def test_compare_allocates_in_flops_eflops_and_dollars(
    analysed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = tmp_path / "prices.json"
    table.write_text(
        json.dumps({"models": {"qwen2.5-0.5b": {"input": 0.02, "output": 0.04, "date": "x"}}})
    )
    monkeypatch.setenv("HARNESS_PRICES", str(table))
    other = make_run(tmp_path / "q", model="qwen2.5-0.5b", seed=2, extra_verifiers=False)
    analyze(other.root, settings=FAST)
    html = compare([analysed, other.root], tmp_path / "cmp").read_text()
    by_unit = pd.read_csv(tmp_path / "cmp" / "allocation_by_unit.csv")
    # Only qwen has a price: dollars are not a unit both runs can be compared in.
    assert {"best_flops", "best_eflops", "agree"} <= set(by_unit.columns)
    assert "best_dollars" not in by_unit
    assert "Which model a budget should go to, by unit" in html
    assert ("The unit changes the answer" in html) != by_unit["agree"].all()
    assert "No dollar figures for smollm2-135m" in html and "prices used: qwen2.5-0.5b" in html
    assert (tmp_path / "cmp" / "plots" / "coverage_eflops.png").exists()
    assert "Where the next sample should go" in html  # each run's sentences for its next run
