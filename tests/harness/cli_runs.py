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
