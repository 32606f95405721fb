"""Published dumps (Large Language Monkeys format, judged JSONL) -> analyze -> report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from harness.core.errors import UsageError
from harness.core.store import RunStore
from harness.ingest.dumps import detect_format, import_dump

ROOT = Path(__file__).resolve().parents[2]


def harness(*args: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def monkey_rows(problems: int = 12, n: int = 60, seed: int = 0) -> list[dict[str, object]]:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(problems):
        rate = rng.beta(0.5, 1.5)
        ok = (rng.random(n) < rate).tolist()
        rows.append(
            {
                "question": f"What is {i} + {i}?",
                "gt_answer": str(2 * i),
                "samples": [f"The answer is {2 * i if o else i}." for o in ok],
                "is_corrects": ok,
                "level": f"Level {1 + i % 2}",
                "type": "Algebra",
            }
        )
    return rows


def write_jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_monkeys_jsonl_import_then_analyze_and_report(tmp_path: Path) -> None:
    rows = monkey_rows()
    dump = write_jsonl(tmp_path / "gsm8k_llama.jsonl", rows)
    run = tmp_path / "run"
    proc = harness("import", dump, "--task", "gsm8k", "--out", run, "--model", "llama-3.1-8b")
    assert proc.returncode == 0, proc.stderr
    assert "monkeys" in proc.stdout + proc.stderr
    store = RunStore(run)
    manifest = store.read_manifest()
    assert (manifest.verifier, manifest.source, manifest.n) == ("imported", "import", 60)
    problems = store.read_problems()
    assert [p.reference for p in problems[:2]] == ["0", "2"]
    assert problems[1].metadata == {"level": "Level 2", "type": "Algebra"}
    assert sum(1 for _ in store.iter_samples()) == 12 * 60
    proc = harness("analyze", run, "--bootstrap", "200", "--bootstrap-seed", "3")
    assert proc.returncode == 0, proc.stderr
    assert "backtest" in proc.stdout
    per = {
        r["problem_id"]: r
        for r in __import__("pandas")
        .read_csv(run / "analysis" / "per_problem.csv", dtype={"problem_id": str})
        .to_dict("records")
    }
    for i, row in enumerate(rows):
        assert per[str(i)]["c"] == sum(row["is_corrects"])  # type: ignore[arg-type]
    fit = json.loads((run / "analysis" / "fit.json").read_text())
    assert {"a", "b", "backtest_error"} <= set(fit)
    assert (fit["bootstrap"]["resamples"], fit["bootstrap"]["seed"]) == (200, 3)
    proc = harness("report", run)
    assert proc.returncode == 0, proc.stderr
    page = (run / "report.html").read_text()
    assert "Coverage" in page and "plots/coverage.png" in page and "(imported)" in page
    assert (run / "plots" / "coverage.png").stat().st_size > 10_000


def test_monkeys_parquet_is_streamed_in_row_batches(tmp_path: Path) -> None:
    rows = monkey_rows(problems=20, n=30, seed=1)
    path = tmp_path / "dump.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=5)
    assert detect_format(path) == "monkeys"
    result = import_dump(path, tmp_path / "run", task="math", model="m")
    assert (result.problems, result.samples) == (20, 600)
    assert result.correct == sum(sum(r["is_corrects"]) for r in rows)  # type: ignore[misc]
    verdicts = list(RunStore(tmp_path / "run").iter_verdicts("imported"))
    assert len(verdicts) == 600 and verdicts[0].problem_id == "0"


def test_judged_jsonl_rows_import(tmp_path: Path) -> None:
    rows = [
        {"problem_id": f"p{i % 3}", "correct": i % 4 == 0, "score": float(i)} for i in range(30)
    ]
    path = write_jsonl(tmp_path / "judged.jsonl", rows)
    assert detect_format(path) == "verdicts"
    proc = harness("import", path, "--task", "mine", "--out", tmp_path / "run")
    assert proc.returncode == 0, proc.stderr
    store = RunStore(tmp_path / "run")
    assert store.read_manifest().n == 10
    assert not store.samples_path.exists()
    proc = harness("analyze", tmp_path / "run")
    assert proc.returncode == 0, proc.stderr


def error_line(proc: subprocess.CompletedProcess[str]) -> str:
    lines = [x for x in proc.stderr.splitlines() if x.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("harness: error: ")
    return lines[0]


def test_missing_is_corrects_is_one_line_exit_2(tmp_path: Path) -> None:
    rows = [{"question": "q", "samples": ["a", "b"], "gt_answer": "1"}]
    path = write_jsonl(tmp_path / "dump.jsonl", rows)
    out = tmp_path / "run"
    proc = harness("import", path, "--task", "gsm8k", "--out", out, "--format", "monkeys")
    assert proc.returncode == 2
    assert "is_corrects" in error_line(proc)
    assert not out.exists()


def test_bad_row_midway_leaves_nothing(tmp_path: Path) -> None:
    rows = monkey_rows(problems=3, n=5)
    rows[2]["samples"] = ["only one"]
    out = tmp_path / "run"
    with pytest.raises(UsageError, match="differ in length"):
        import_dump(write_jsonl(tmp_path / "d.jsonl", rows), out)
    assert not out.exists()
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(UsageError):
        import_dump(tmp_path / "d.jsonl", out)
    assert [p.name for p in out.iterdir() if not p.name.startswith(".")] == ["keep.txt"]


def test_import_into_an_existing_run_is_refused(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", monkey_rows(problems=2, n=4))
    import_dump(path, tmp_path / "run")
    before = (tmp_path / "run" / "verdicts" / "imported.jsonl").read_bytes()
    with pytest.raises(UsageError, match="already holds a run"):
        import_dump(path, tmp_path / "run")
    assert (tmp_path / "run" / "verdicts" / "imported.jsonl").read_bytes() == before


def test_run_without_verdicts_is_one_line_exit_2(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", monkey_rows(problems=2, n=4))
    import_dump(path, tmp_path / "run")
    (tmp_path / "run" / "verdicts" / "imported.jsonl").unlink()
    proc = harness("analyze", tmp_path / "run")
    assert proc.returncode == 2
    assert "no verdicts" in error_line(proc)
    proc = harness("report", tmp_path / "run")
    assert proc.returncode == 2
    assert "analyze" in error_line(proc)


def test_unknown_format_and_undetectable_file(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", [{"foo": 1}])
    proc = harness("import", path, "--task", "t", "--out", tmp_path / "run")
    assert proc.returncode == 2 and "cannot tell the format" in error_line(proc)
    proc = harness("import", path, "--task", "t", "--out", tmp_path / "run", "--format", "xml")
    assert proc.returncode == 2 and "--format" in error_line(proc)
