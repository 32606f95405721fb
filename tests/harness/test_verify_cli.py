"""``harness verify`` with a selector and bad input: one line, exit code 2, nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.harness.test_cli import harness
from tests.verifiers.judge_runs import make_math_run


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.fixture
def run(tmp_path: Path) -> Path:
    return make_math_run(tmp_path / "run", problems=2, n=3).root


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (
            ["--verifier", "reward", "--verifier-opt", "model=/no/such/rm"],
            "reward model path '/no/such/rm' does not exist",
        ),
        (
            ["--verifier", "reward", "--verifier-opt", "model={lm}"],
            "is not a sequence classifier (architectures: LlamaForCausalLM)",
        ),
        (["--verifier", "judge", "-n", "9"], "-n 9: problem 0 has only 3 samples"),
        (
            ["--verifier", "judge", "--verifier-opt", "model=/no/such/judge"],
            "model path '/no/such/judge' does not exist",
        ),
        (["--verifier", "pairwise", "--verifier-opt", "backend=nope"], "unknown backend 'nope'"),
        (
            ["--verifier", "judge", "--verifier-opt", "mode=vibes"],
            "option mode must be one of logprob, sampled",
        ),
    ],
)
def test_bad_input_is_one_line_and_leaves_the_run_as_it_was(
    run: Path, tmp_path: Path, args: list[str], needle: str
) -> None:
    lm = tmp_path / "lm"
    lm.mkdir()
    (lm / "config.json").write_text(
        json.dumps({"architectures": ["LlamaForCausalLM"], "model_type": "llama"})
    )
    before = snapshot(run)
    proc = harness("verify", str(run), *[a.format(lm=lm) for a in args])
    assert proc.returncode == 2, proc.stderr[-2000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("harness: error:")]
    assert len(errors) == 1 and needle in errors[0], proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert snapshot(run) == before  # nothing written, nothing removed


def test_run_with_a_selector_verifies_the_truth_too_and_never_crashes(tmp_path: Path) -> None:
    # The scripted backend answers every judge prompt with an empty text: nothing the judge
    # can read, so every verdict is unparsed, counted, and the run still ends in a report.
    out = tmp_path / "run"
    proc = harness(
        "run",
        "--task",
        "arith",
        "--backend",
        "scripted",
        "--limit",
        "3",
        "-n",
        "4",
        "--out",
        str(out),
        "--verifier",
        "judge",
        "--verifier-opt",
        "backend=scripted",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (out / "verdicts" / "exact.jsonl").exists()  # the task's verifier: the truth
    summary = json.loads((out / "analysis" / "summary.json").read_text())
    assert summary["verifier"] == "exact"
    assert summary["selectors"]["judge"]["statuses"] == {"unparsed": 12}
    assert summary["selectors"]["judge"]["unparsed_judgements"] == 12
    assert "verification:judge" in proc.stdout  # printed beside coverage and majority
    assert (out / "report.html").exists()
