"""gsm8k samples made elsewhere: harness import + verify + analyze, majority@k on disk."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.majority import majority_at_k
from harness.analyze import analyze
from harness.core.store import RunStore
from harness.ingest.samples import import_samples
from harness.verify import verify

ROOT = Path(__file__).resolve().parents[2]
ROWS = [
    {"question": "Ann has 2 cats and gets 3 more. How many?", "answer": "2+3=<<2+3=5>>5\n#### 5"},
    {"question": "A box holds 1,000 pins; 1 is lost. How many?", "answer": "#### 999"},
]
TEXTS = {
    "0": ["2+3=5\n#### 5", "The answer is 5.", "#### 6", "I think 5.0", "The answer is 6", "hmm"],
    "1": ["#### 999", "The answer is 1,000.", "#### 1000", "#### 999.0", "\\boxed{998}", "999"],
}


def _files(tmp_path: Path) -> tuple[Path, Path]:
    data = tmp_path / "gsm8k.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    samples = tmp_path / "samples.jsonl"
    lines = [json.dumps({"problem_id": pid, "text": t}) for pid, ts in TEXTS.items() for t in ts]
    samples.write_text("\n".join(lines) + "\n")
    return data, samples


def test_import_verify_analyze_gsm8k(tmp_path: Path) -> None:
    data, samples = _files(tmp_path)
    run = tmp_path / "run"
    import_samples(samples, "gsm8k", run, data, {"fewshot": "builtin"})
    result = verify(run)
    assert result.verifier == "math" and result.new_verdicts == 12
    verdicts = {(v.problem_id, v.sample_index): v for v in RunStore(run).iter_verdicts("math")}
    assert [verdicts["0", i].correct for i in range(6)] == [True, True, False, True, False, False]
    assert [verdicts["0", i].class_id for i in range(6)] == [0, 0, 1, 0, 1, None]
    assert [verdicts["1", i].class_id for i in range(6)] == [0, 1, 1, 0, 2, 0]

    analyze(run)
    majority = pd.read_csv(run / "analysis" / "majority.csv")
    assert list(majority.columns) == ["k", "majority"] and list(majority["k"]) == list(range(1, 7))
    expected = (
        majority_at_k([0, 0, 1, 0, 1, None], [True, True, False, True, False, False])
        + majority_at_k([0, 1, 1, 0, 2, 0], [True, False, False, True, False, True])
    ) / 2
    np.testing.assert_allclose(majority["majority"], expected)
    votes = pd.read_csv(run / "analysis" / "majority_votes.csv")
    assert list(votes["correct"]) == [True, True]
    selection = pd.read_csv(run / "analysis" / "selection.csv")
    assert "majority" in selection.columns


def test_malformed_task_rows_exit_2_with_one_line(tmp_path: Path) -> None:
    _, samples = _files(tmp_path)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(ROWS[0]) + "\n" + json.dumps({"question": "no answer"}) + "\n")
    env = {**os.environ, "HF_ENDPOINT": "http://127.0.0.1:9"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness",
            "import",
            str(samples),
            "--task",
            "gsm8k",
            "--data-file",
            str(bad),
            "--out",
            str(tmp_path / "run"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines == [f"harness: error: {bad}:2: field 'answer' is missing (gsm8k)"]
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("task", ["gsm8k", "math500"])
def test_task_without_data_file_and_hub_exits_2(tmp_path: Path, task: str) -> None:
    _, samples = _files(tmp_path)
    env = {**os.environ, "HF_ENDPOINT": "http://127.0.0.1:9"}
    env.pop("HF_HUB_OFFLINE", None)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness",
            "import",
            str(samples),
            "--task",
            task,
            "--out",
            str(tmp_path / "run"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "pass --data-file PATH" in lines[0]
