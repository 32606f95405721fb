"""Running ``harness`` as a person does and stopping it with a signal, for the tests that
interrupt a real run at every stage (``test_interrupt.py``, ``test_vllm_interrupt.py``).

The process runs in a session of its own and gets the signal as a terminal's Ctrl-C
reaches it: sent to its whole process group, engine processes included. Its output is
read line by line as it comes (not a terminal, so stages print a line every
``HARNESS_PROGRESS_EVERY`` seconds).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
STOPPED = re.compile(
    r"^interrupted: (?P<kept>[\d,]+) of (?P<total>[\d,]+) samples"
    r"(?: and (?P<verdicts>[\d,]+) verdicts)? kept in (?P<dir>\S+); "
    r"run the same command to resume$"
)
NOTHING_YET = re.compile(r"^interrupted: nothing written yet .*run the same command to start$")


def number(text: str) -> int:
    return int(text.replace(",", ""))


class Running:
    """A ``harness`` process whose stdout and stderr lines are collected as they come."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str] | None = None) -> None:
        full_env = {**os.environ, "HARNESS_PROGRESS_EVERY": "0.3", **(env or {})}
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "harness", *args],
            cwd=cwd,
            env=full_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # its own process group, like a job in a terminal
        )
        self.lines: list[tuple[str, str, float]] = []  # (stream, line, seconds since start)
        self._lock = threading.Lock()
        self._readers = [
            threading.Thread(target=self._read, args=(self.proc.stdout, "out"), daemon=True),
            threading.Thread(target=self._read, args=(self.proc.stderr, "err"), daemon=True),
        ]
        for t in self._readers:
            t.start()

    def _read(self, stream: Any, name: str) -> None:
        for line in stream:
            with self._lock:
                self.lines.append((name, line.rstrip("\n"), time.monotonic() - self.started))

    def text(self) -> str:
        with self._lock:
            return "\n".join(f"[{n} {t:6.1f}] {x}" for n, x, t in self.lines)

    def wait_for(
        self, predicate: Callable[[str], bool] | str, timeout: float = 300, poll: float = 0.02
    ) -> float:
        """Seconds since start when a line matching ``predicate`` (a regex or a test) appeared."""
        test = (
            (lambda x: re.search(predicate, x) is not None)
            if isinstance(predicate, str)
            else predicate
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                for _, line, at in self.lines:
                    if test(line):
                        return at
            assert self.proc.poll() is None, (
                f"exited ({self.proc.returncode}) first:\n{self.text()}"
            )
            time.sleep(poll)
        raise AssertionError(f"no such line within {timeout} s:\n{self.text()}")

    def send(self, sig: int = signal.SIGINT, group: bool = True) -> None:
        """The signal to the whole process group, as a terminal's Ctrl-C sends it (or to
        the harness process alone, as ``kill PID`` does)."""
        if group:
            os.killpg(self.proc.pid, sig)
        else:
            os.kill(self.proc.pid, sig)

    def finish(self, timeout: float = 300) -> int:
        code = self.proc.wait(timeout)
        for t in self._readers:
            t.join(10)
        return code

    def stopped(self, pattern: re.Pattern[str] = STOPPED) -> re.Match[str]:
        """The one line the interruption printed; no traceback anywhere."""
        text = self.text()
        assert "Traceback" not in text, text
        found = [m for _, x, _ in self.lines if (m := pattern.match(x))]
        assert len(found) == 1, text
        assert sum(x.startswith("interrupted") for _, x, _ in self.lines) == 1, text
        return found[0]

    def left_behind(self, grace: float = 20) -> list[str]:
        """Processes of its session still alive (engine, workers) after ``grace`` seconds."""
        deadline = time.monotonic() + grace
        while True:
            left = session_processes(self.proc.pid)
            if not left or time.monotonic() > deadline:
                return left
            time.sleep(0.2)


def session_processes(sid: int) -> list[str]:
    """Command lines of the live processes in session ``sid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[3]) != sid or fields[0] == "Z":
                continue
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError, ValueError):
            continue
        found.append(f"{entry.name}: {cmd[:120]}")
    return found


def whole_lines(path: Path) -> list[dict[str, Any]]:
    """Every record of a JSONL file; fails on a torn or unparseable line."""
    if not path.exists():
        return []
    data = path.read_bytes()
    assert not data or data.endswith(b"\n"), f"{path} ends in a torn line"
    return [json.loads(line) for line in data.splitlines()]


def per_problem(rows: list[dict[str, Any]]) -> dict[str, list[int]]:
    """problem_id -> sorted sample indices (repeats kept, so a duplicate shows)."""
    out: dict[str, list[int]] = {}
    for r in rows:
        out.setdefault(str(r["problem_id"]), []).append(int(r["sample_index"]))
    return {k: sorted(v) for k, v in out.items()}


SLOW_VERIFIER = '''
"""A verifier that takes its time: lets a test interrupt verification."""

import time
from typing import ClassVar

from harness.core.records import Status, Verdict
from harness.core.verifier import Verifier


class SlowVerifier(Verifier):
    name: ClassVar[str] = "slow"
    description: ClassVar[str] = "right when the text is the reference, 0.1 s per sample"

    def verify(self, problem, samples):
        out = []
        for s in samples:
            time.sleep(0.1)
            ok = s.text.strip() == (problem.reference or "")
            status = Status.PASSED if ok else Status.FAILED
            out.append(Verdict(s.problem_id, s.sample_index, ok, status))
        return out
'''


def install_slow_verifier(site: Path) -> Path:
    """The ``slow`` verifier as an installed plugin would be (module + entry point)."""
    site.mkdir(parents=True, exist_ok=True)
    (site / "acme_slow.py").write_text(SLOW_VERIFIER)
    info = site / "acme_slow-0.1.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-slow\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[scaling_harness.verifiers]\nslow = acme_slow:SlowVerifier\n"
    )
    return site
