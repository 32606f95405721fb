"""The ``harness`` command run as a user runs it (a fresh process, a bare environment), and
the one-line error a usage error must be."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def harness(
    *args: str | Path, cwd: Path, pythonpath: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(cwd), "COLUMNS": "80"}
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run(
        [sys.executable, "-m", "harness", *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def one_error(proc: subprocess.CompletedProcess[str]) -> str:
    """The single ``harness: error: ...`` line of a run that exited with code 2."""
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = [x for x in proc.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("harness: error: "), proc.stderr
    return lines[0]


def chromium_console(page: Path, shot: Path, height: int = 3000) -> list[str]:
    """The console lines (a missing image is one, see ``harness.report.page.figure``) of
    ``page`` loaded in headless Chromium, whose screenshot goes to ``shot``; skips the test
    where Chromium is not installed."""
    import shutil

    import pytest

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium not installed (make system-deps WITH_BROWSER=1 installs it)")
    flags = ["--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    flags += [f"--window-size=1280,{height}", f"--screenshot={shot}", "--enable-logging=stderr"]
    proc = subprocess.run(
        [browser, *flags, "--v=0", page.resolve().as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shot.exists(), proc.stderr[-2000:]
    return [line for line in proc.stderr.splitlines() if ":CONSOLE" in line]
