"""The `harness` command as a user runs it: exit codes, one-line errors, import."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def harness(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def error_line(proc: subprocess.CompletedProcess[str]) -> str:
    lines = [x for x in proc.stderr.splitlines() if x.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("harness: error: ")
    return lines[0]


SCRIPTED = ["--backend", "scripted", "--task-opt", "count=4", "-n", "3"]


def test_help_is_fast_and_imports_nothing_heavy() -> None:
    start = time.monotonic()
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, harness.cli, harness.core.task, harness.core.verifier,"
            " harness.core.backend;"
            "print(sorted(m for m in ('vllm','torch','datasets','ray','transformers') "
            "if m in sys.modules))",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert proc.stdout.strip() == "[]"
    assert harness("--help").returncode == 0
    assert time.monotonic() - start < 30  # generous: only guards against loading an engine


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["run", "--task", "nope"], "unknown task"),
        (["run", "--backend", "nope"], "unknown backend"),
        (["run", "-n", "0"], "at least 1"),
        (["run", "--backend", "scripted", "--task-opt", "oops"], "KEY=VALUE"),
        (["run", "--out", "/proc/harness-cli-test", *SCRIPTED], "cannot write"),
        (["verify", "/nonexistent/run"], "not a run directory"),
        (["analyze", "/nonexistent/run"], "not a run directory"),
    ],
)
def test_bad_input_is_one_line_exit_2(args: list[str], needle: str, tmp_path: Path) -> None:
    proc = harness(*args, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert needle in error_line(proc)
    assert list(tmp_path.iterdir()) == []


def test_unknown_model_writes_nothing(tmp_path: Path) -> None:
    proc = harness(
        "generate",
        "--model",
        str(tmp_path / "no-such-model"),
        "--out",
        str(tmp_path / "run"),
        "--task-opt",
        "count=2",
        "-n",
        "1",
    )
    assert proc.returncode == 2, proc.stderr
    assert "model" in error_line(proc)
    assert not (tmp_path / "run").exists()


def test_run_then_conflicting_rerun(tmp_path: Path) -> None:
    run = tmp_path / "run"
    proc = harness("run", "--out", str(run), *SCRIPTED)
    assert proc.returncode == 0, proc.stderr
    assert (run / "analysis" / "coverage.csv").read_text().splitlines()[0] == "k,coverage"
    assert (run / "report.html").exists()
    before = (run / "samples.jsonl").read_bytes()
    proc = harness("run", "--out", str(run), *SCRIPTED, "--temperature", "0.3")
    assert proc.returncode == 2
    assert "another configuration" in error_line(proc)
    assert (run / "samples.jsonl").read_bytes() == before


def test_import_then_verify_and_analyze(tmp_path: Path) -> None:
    src = tmp_path / "elsewhere.jsonl"
    rows = [
        {"problem_id": "0", "text": "The answer is 11."},
        {"problem_id": "0", "text": "The answer is 12."},
        {"problem_id": "1", "text": "22", "sample_index": 5},
    ]
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    run = tmp_path / "imported"
    proc = harness(
        "import", str(src), "--task", "arith", "--task-opt", "count=4", "--out", str(run)
    )
    assert proc.returncode == 0, proc.stderr
    samples = [json.loads(x) for x in (run / "samples.jsonl").read_text().splitlines()]
    assert [(s["problem_id"], s["sample_index"]) for s in samples] == [("0", 0), ("0", 1), ("1", 5)]
    assert harness("verify", str(run)).returncode == 0
    verdicts = [json.loads(x) for x in (run / "verdicts" / "exact.jsonl").read_text().splitlines()]
    assert [v["correct"] for v in verdicts] == [True, False, True]
    assert harness("analyze", str(run)).returncode == 0


@pytest.mark.parametrize(
    ("line", "needle"),
    [
        ('{"problem_id": "99", "text": "1"}', ":2: unknown problem id '99'"),
        ('{"problem_id": "0"}', ":2: needs fields"),
        ("{broken", ":2: not a valid JSON line"),
        ('{"problem_id": "0", "text": "1", "sample_index": 0}', ":2: duplicate sample"),
    ],
)
def test_import_bad_line_names_it_and_writes_nothing(
    tmp_path: Path, line: str, needle: str
) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text('{"problem_id": "0", "text": "1", "sample_index": 0}\n' + line + "\n")
    run = tmp_path / "run"
    proc = harness(
        "import", str(src), "--task", "arith", "--task-opt", "count=4", "--out", str(run)
    )
    assert proc.returncode == 2
    assert needle in error_line(proc)
    assert not run.exists()  # (nor an empty directory left behind)


def test_human_eval_and_evalplus_samples_files_import_as_they_are(tmp_path: Path) -> None:
    body = "    return [x for x in strings if substring in x]\n"
    program = (
        "from typing import List\n\n"
        "def filter_by_substring(strings: List[str], substring: str) -> List[str]:\n" + body
    )
    rows = [
        {"task_id": "HumanEval/7", "completion": body},  # human-eval's samples file
        {"task_id": "HumanEval/7", "solution": program},  # EvalPlus's, a whole program
        {"task_id": "HumanEval/7", "completion": "    return strings\n"},
    ]
    src = tmp_path / "samples.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    run = tmp_path / "run"
    proc = harness("import", str(src), "--task", "humaneval", "--out", str(run))
    assert proc.returncode == 0, proc.stderr
    texts = [json.loads(x)["text"] for x in (run / "samples.jsonl").read_text().splitlines()]
    assert texts == [body, program, "    return strings\n"]
    assert harness("verify", str(run), "--sandbox", "none").returncode == 0
    verdicts = (run / "verdicts" / "unit_tests.jsonl").read_text().splitlines()
    assert [json.loads(v)["correct"] for v in verdicts] == [True, True, False]
    src.write_text(json.dumps({"task_id": "HumanEval/7", "output": body}) + "\n")
    proc = harness("import", str(src), "--task", "humaneval", "--out", str(tmp_path / "r2"))
    assert proc.returncode == 2
    assert "cannot tell the format" in error_line(proc)


def test_sandbox_mode_is_written_into_the_manifest(tmp_path: Path) -> None:
    src = tmp_path / "code.jsonl"
    body = "    return [x for x in strings if substring in x]\n"
    src.write_text(json.dumps({"problem_id": "HumanEval/7", "text": body}) + "\n")
    run = tmp_path / "run"
    assert harness("import", str(src), "--task", "humaneval", "--out", str(run)).returncode == 0
    proc = harness("verify", str(run), "--sandbox", "none")
    assert proc.returncode == 0, proc.stderr
    assert json.loads((run / "manifest.json").read_text())["sandbox"] == "none"
    verdict = json.loads((run / "verdicts" / "unit_tests.jsonl").read_text())
    assert verdict["correct"] is True
