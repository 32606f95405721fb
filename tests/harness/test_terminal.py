"""What the terminal shows: engines' output kept in their log, the harness's own lines on
the terminal, stage lines when the output is not a terminal, Ctrl-C held over a write."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from rich.console import Console

from harness.commands.progress import Bar, Display, clock
from harness.commands.summary import reading
from harness.core import interrupts, terminal
from harness.core.fits import BacktestRecord, FitSummary, Prediction

ROOT = Path(__file__).resolve().parents[2]

CHILD = r"""
import os, subprocess, sys
from pathlib import Path
from harness.core import terminal

log = Path(sys.argv[1])
print("before", flush=True)
with terminal.engine_log(log):
    print("python print inside", flush=True)
    os.write(2, b"C-level write inside\n")
    subprocess.run([sys.executable, "-c", "import sys; print('a child process', file=sys.stderr)"])
    terminal.notice("a harness line inside")
    terminal.stdout.write("harness stdout inside\n"); terminal.stdout.flush()
print("after", flush=True)
"""


def test_engine_log_takes_descriptors_1_and_2_and_the_harness_keeps_the_terminal(
    tmp_path: Path,
) -> None:
    log = tmp_path / "logs" / "engine.log"
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(log)], cwd=ROOT, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["before", "harness stdout inside", "after"]
    assert proc.stderr.splitlines() == ["a harness line inside"]
    assert log.read_text().splitlines() == [
        "python print inside",
        "C-level write inside",
        "a child process",
    ]


def test_without_a_log_nothing_is_redirected(capsys: pytest.CaptureFixture[str]) -> None:
    with terminal.engine_log(None) as where:
        assert where is None and not terminal.redirected()
        terminal.notice("plain")
    assert capsys.readouterr().err == "plain\n"


def test_a_signal_inside_deferred_is_raised_when_the_block_ends() -> None:
    interrupts.reset()
    previous = signal.getsignal(signal.SIGINT)
    interrupts.install()
    finished = False
    try:
        with pytest.raises(interrupts.Interrupted) as stopped, interrupts.deferred():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)  # the handler runs here, and only notes the signal
            finished = True
        assert finished and stopped.value.signum == signal.SIGINT
        assert interrupts.received() == signal.SIGINT
        # A repeat while stopping is not raised again (the cleanup must finish).
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)
    finally:
        signal.signal(signal.SIGINT, previous)
        interrupts.reset()


def test_not_on_a_terminal_a_stage_prints_a_line_every_few_seconds() -> None:
    buffer = io.StringIO()
    display = Display(Console(file=buffer, width=200), live=False, every_s=0.05)
    bar = Bar("generating", 10, "samples", lambda b: "3/5 solved")
    with display.bar(bar):
        for _ in range(10):
            bar.advance()
            time.sleep(0.02)
    with display.spinner("starting the engine"):
        time.sleep(0.12)
    lines = buffer.getvalue().splitlines()
    states = [x for x in lines if x.startswith("generating ")]
    assert len(states) >= 2 and all("/10 samples · 3/5 solved · 0:0" in x for x in states)
    assert any(x.startswith("starting the engine ... 0:00") for x in lines)
    assert "\r" not in buffer.getvalue() and "\x1b" not in buffer.getvalue()  # no redraws


def test_clock() -> None:
    assert [clock(x) for x in (None, 5.4, 65, 3725)] == ["-:--", "0:05", "1:05", "1:02:05"]


def _fit(backtest: bool, n: int = 40) -> FitSummary:
    bt = BacktestRecord(4, 40, 0.4, 0.43, 0.03, -2.0, -0.3, 0.5, 0.1, 1.0, 2.0, "power law")
    return FitSummary(
        model="log c(k) = a * k^b", a=-2.0, b=-0.3, a_se=0.1, b_se=0.01, a_ci=(-2.2, -1.8),
        b_ci=(-0.35, -0.25), rmse_log_coverage=0.01, fit_k=(1, 2, 4), residuals=(0, 0, 0),
        backtest=bt if backtest else None, beta_model={}, problems=10, N=n, bootstrap={},
        predictions=(
            Prediction(40, 0.40, 0.4, 0.35, 0.45),
            Prediction(400, 0.61, 0.5, 0.52, 0.70),
            Prediction(4000, 0.8, 0.6, 0.7, 0.9),
        ),
    )  # fmt: skip


def test_the_reading_extrapolates_only_beside_a_backtest() -> None:
    coverage = pd.DataFrame({"k": [1, 2, 40], "coverage": [0.09, 0.15, 0.4]})
    assert reading(coverage, _fit(True)) == (
        "coverage grows from 0.09 at k=1 to 0.40 at k=40; the power law predicts 0.61 "
        "[0.52, 0.70] at k=400 (backtest: fitted on k<=4, it missed c(40) by +0.03)"
    )
    assert reading(coverage, _fit(False, n=32)) == (
        "coverage grows from 0.09 at k=1 to 0.40 at k=40 "
        "(no extrapolation: its backtest needs N >= 40)"
    )
    assert reading(coverage, _fit(False)).endswith(
        "(no extrapolation: its backtest could not be fitted)"
    )
    assert reading(coverage, None) == "coverage grows from 0.09 at k=1 to 0.40 at k=40"
