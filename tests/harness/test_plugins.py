"""A plugin is one file: found by the registry without imports, or by entry point."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from harness.core.errors import UsageError
from harness.core.registry import Registry

ROOT = Path(__file__).resolve().parents[2]

PLUGIN = '''
"""A verifier shipped by another package: a sample is right when it is short."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from harness.core.options import option
from harness.core.records import Status, Verdict
from harness.core.verifier import Verifier


@dataclass(frozen=True)
class ShortOptions:
    max_chars: int = option(3, "longest text that counts as right", min=0)


class ShortVerifier(Verifier):
    name: ClassVar[str] = "short"
    description: ClassVar[str] = "right when the text is short"
    Options: ClassVar[type] = ShortOptions

    def verify(self, problem, samples):
        limit = self.options.max_chars
        return [
            Verdict(
                s.problem_id,
                s.sample_index,
                len(s.text) <= limit,
                Status.PASSED if len(s.text) <= limit else Status.FAILED,
            )
            for s in samples
        ]
'''


def install_plugin(site: Path) -> Path:
    """The plugin module and a dist-info that declares it, as pip would leave them."""
    site.mkdir(parents=True, exist_ok=True)
    (site / "acme_short.py").write_text(PLUGIN)
    info = site / "acme_short-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-short\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[scaling_harness.verifiers]\nshort = acme_short:ShortVerifier\n"
    )
    return site


def harness(*args: str, cwd: Path, site: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(cwd)}
    if site is not None:
        env["PYTHONPATH"] = str(site)
    return subprocess.run(
        [sys.executable, "-m", "harness", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_an_entry_point_plugin_verifies_a_run(tmp_path: Path) -> None:
    site = install_plugin(tmp_path / "site")
    run = tmp_path / "run"
    made = harness(
        "generate", "--backend", "scripted", "--task-opt", "count=3", "-n", "2", "--out", str(run),
        cwd=tmp_path,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    listed = harness("verifiers", cwd=tmp_path, site=site)
    assert listed.returncode == 0, listed.stderr
    assert "short" in listed.stdout and "max_chars" in listed.stdout
    proc = harness(
        "verify", str(run), "--verifier", "short", "--verifier-opt", "max_chars=2",
        cwd=tmp_path, site=site,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    verdicts = [json.loads(x) for x in (run / "verdicts" / "short.jsonl").read_text().splitlines()]
    samples = [json.loads(x) for x in (run / "samples.jsonl").read_text().splitlines()]
    assert len(verdicts) == len(samples) == 6
    by_key = {(s["problem_id"], s["sample_index"]): s["text"] for s in samples}
    for v in verdicts:
        assert v["correct"] == (len(by_key[(v["problem_id"], v["sample_index"])]) <= 2)
    meta = json.loads((run / "verdicts" / "short.meta.json").read_text())
    assert meta["options"] == {"max_chars": 2}
    # Its options get the core's parsing and its one-line errors.
    bad = harness("verify", str(run), "--verifier", "short", "--verifier-opt", "max_chars=x",
                  cwd=tmp_path, site=site)  # fmt: skip
    assert bad.returncode == 2
    assert bad.stderr.strip() == (
        "harness: error: verifier 'short' option max_chars='x' is not a valid int"
    )
    # Without the plugin on the path the name is unknown, and says which are known.
    gone = harness("verify", str(run), "--verifier", "short", cwd=tmp_path)
    assert gone.returncode == 2 and "unknown verifier 'short' (known: " in gone.stderr


def test_a_module_in_the_package_is_a_plugin_found_without_importing(tmp_path: Path) -> None:
    pkg = tmp_path / "acme_tasks"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "_helpers.py").write_text("raise RuntimeError('helpers are not plugins')\n")
    (pkg / "counting.py").write_text(
        textwrap.dedent(
            """
            import sys
            sys.modules[__name__].IMPORTED = True

            class Counting:
                name = "counting"
            """
        )
    )
    sys.path.insert(0, str(tmp_path))
    try:
        registry: Registry[object] = Registry("task", "acme_tasks")
        assert registry.names() == ["counting"]
        assert "counting" in registry and "_helpers" not in registry
        assert "acme_tasks.counting" not in sys.modules  # listed, not imported
        assert registry.get("counting").__name__ == "Counting"
        assert sys.modules["acme_tasks.counting"].IMPORTED
        with pytest.raises(UsageError, match=r"unknown task 'nope' \(known: counting\)"):
            registry.get("nope")
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m.startswith("acme_tasks")]:
            del sys.modules[name]


def test_the_built_in_plugins_are_the_modules_of_their_packages() -> None:
    from harness.core.backend import BACKENDS
    from harness.core.task import TASKS
    from harness.core.verifier import VERIFIERS

    assert TASKS.builtin_names() == [
        "arith", "codecontests", "gsm8k", "humaneval", "jsonl", "math500", "mbpp"
    ]  # fmt: skip
    assert VERIFIERS.builtin_names() == [
        "exact", "judge", "math", "pairwise", "reward", "unit_tests"
    ]  # fmt: skip
    assert BACKENDS.builtin_names() == ["openai", "ray", "scripted", "vllm"]
    for registry in (TASKS, VERIFIERS):
        for name in registry.builtin_names():
            assert registry.get(name).name == name
