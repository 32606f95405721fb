"""``harness import --format counts``: per-problem counts and results releases become runs
that say how they were made (model, temperature, label, seed, cost) and keep token counts."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from cli_runs import harness, one_error
from releases import NAMES, specialist_release

from harness.core.columns import read_token_counts, read_verdict_columns
from harness.core.errors import UsageError
from harness.core.store import RunStore
from harness.ingest import ImportMeta, import_file
from harness.ingest.counts import correct_positions
from harness.ingest.formats import FORMAT_FIELDS, detect_format
from harness.report.facts import run_facts, title_of
from harness.report.page import provenance

ROWS = [
    {
        "problem_id": "007",
        "n": 20,
        "c": 3,
        "level": "easy",
        "prompt_tokens": 50,
        "completion_tokens": 101.5,
    },
    {
        "problem_id": "8",
        "n": 20,
        "c": 0,
        "level": "hard",
        "prompt_tokens": 70,
        "completion_tokens": 80,
    },
    {
        "problem_id": "9",
        "n": 20,
        "c": 20,
        "level": "easy",
        "prompt_tokens": 60,
        "completion_tokens": 90,
    },
    {
        "problem_id": "10",
        "n": 16,
        "c": 7,
        "level": "hard",
        "prompt_tokens": 40,
        "completion_tokens": 120,
    },
]


def write_csv(path: Path, rows: list[dict[str, object]]) -> Path:
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_flat_counts_keep_metadata_tokens_and_what_the_user_stated(tmp_path: Path) -> None:
    src = write_csv(tmp_path / "counts.csv", ROWS)
    assert detect_format(src) == "counts"
    meta = ImportMeta(
        model="qwen2.5-0.5b", temperature=0.7, seed=5, label="sampler A", cost_per_sample=0.002
    )
    done = import_file(src, tmp_path / "run", "toy", meta=meta)
    assert (done.format, done.samples, done.problems, done.correct) == ("counts", 76, 4, 30)
    store = RunStore(tmp_path / "run")
    m = store.read_manifest()
    assert (m.model, m.sampling.temperature, m.sampling.seed, m.label) == (
        "qwen2.5-0.5b",
        0.7,
        5,
        "sampler A",
    )
    assert (m.cost_per_sample, m.cost_unit, m.sampling_given) == (
        0.002,
        "dollars",
        ("temperature", "seed"),
    )
    assert m.n == 16 and m.source == "import"
    problems = store.read_problems()
    assert [p.id for p in problems] == ["007", "8", "9", "10"]  # ids stay text
    assert problems[0].metadata == {"level": "easy"}
    n, c = read_verdict_columns(store.verdicts_path("imported")).counts()
    assert list(n) == [20, 20, 20, 16] and list(c) == [3, 0, 20, 7]
    tokens = read_token_counts(store.samples_path)
    per_problem = pd.DataFrame(
        {"p": tokens.problem, "prompt": tokens.prompt_tokens, "out": tokens.completion_tokens}
    ).groupby("p")
    assert list(per_problem["out"].sum()) == [2030, 1600, 1800, 1920]  # mean x n
    assert list(per_problem["prompt"].max()) == [50, 70, 60, 40]
    # Where the correct verdicts sit is the same every time (seeded by the problem id).
    flags = correct_positions("007", 20, 3)
    assert flags.sum() == 3 and (flags == correct_positions("007", 20, 3)).all()


def test_imported_run_report_shows_temperature_and_label(tmp_path: Path) -> None:
    src = tmp_path / "counts.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    args = ["import", src, "--task", "toy", "--format", "counts", "--model", "qwen2.5-0.5b"]
    proc = harness(*args, "--temperature", "0.7", "--label", "sampler A", "--seed", "5",
                   "--out", tmp_path / "run", cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "coverage@1" in proc.stdout  # analysed on import
    proc = harness("report", tmp_path / "run", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    page = (tmp_path / "run" / "report.html").read_text()
    assert "toy · sampler A · T=0.7 (imported)" in page
    assert "T=0.7, top_p=unknown" in page and "seed=5" in page
    # Token counts and a known model size: compute is counted for the import.
    assert json.loads((tmp_path / "run" / "analysis" / "compute.json").read_text())["available"]
    # Without --temperature the page says it is unknown, not a default.
    import_file(src, tmp_path / "plain", "toy", meta=ImportMeta(model="qwen2.5-0.5b"))
    manifest = RunStore(tmp_path / "plain").read_manifest()
    assert title_of(manifest) == "toy · qwen2.5-0.5b · T unknown (imported)"
    line = provenance(manifest, "imported")
    assert "T unknown" in line and "seed unknown" in line and "T=0.8" not in line
    facts = dict(run_facts(manifest, {}))
    assert facts["sampling"].startswith("T=unknown, top_p=unknown")


def test_release_becomes_one_run_per_configuration(tmp_path: Path) -> None:
    src = specialist_release(tmp_path / "results.json")
    assert detect_format(src) == "counts"
    done = import_file(src, tmp_path / "runs", "toy", meta=ImportMeta(model="m", temperature=1.0))
    assert [p.name for p in done.runs] == list(NAMES)
    for name in NAMES:
        store = RunStore(tmp_path / "runs" / name)
        m = store.read_manifest()
        assert (m.label, m.model, m.n, m.num_problems) == (name, "m", 8, 24)
        assert m.task_options["configuration"] == name
        assert m.sampling.temperature == 1.0  # the flag is every configuration's default
        split = {p.id: p.metadata["split"] for p in store.read_problems()}
        assert list(split.values()).count("train") == 12 and split["Toy/0"] == "train"
    cols = read_verdict_columns(tmp_path / "runs" / "beta_1.0" / "verdicts" / "imported.jsonl")
    _, c = cols.counts()
    assert dict(zip(cols.problem_ids, c, strict=True))["Toy/1"] == 7


def test_release_problem_in_both_lists_is_tagged_both(tmp_path: Path) -> None:
    release = {
        "settings": [{"name": "a", "runs": 4, "temperature": 0.4}, {"name": "b", "runs": 4}],
        "training_instances": ["x", "y"],
        "testing_instances": ["y", "z"],
        "train": {"a": [1, 2], "b": [0, 4]},
        "test": {"a": [2, 3], "b": [4, 1]},
    }
    (tmp_path / "r.json").write_text(json.dumps(release, indent=2))  # pretty-printed JSON
    import_file(tmp_path / "r.json", tmp_path / "runs", "toy", "counts")
    a = RunStore(tmp_path / "runs" / "a")
    assert {p.id: p.metadata["split"] for p in a.read_problems()} == {
        "x": "train",
        "y": "both",
        "z": "test",
    }
    assert a.read_manifest().sampling.temperature == 0.4  # from the configuration entry
    assert RunStore(tmp_path / "runs" / "b").read_manifest().temperature_text() == "T unknown"


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        (lambda r: r["train"]["1"].__setitem__(3, 9), "c > n (9 correct of 8 samples)"),
        (lambda r: r["test"].pop("2"), "configuration 'gamma_0.6': no counts in 'test'"),
        (lambda r: r["train"]["0"].pop(), "'train' has 11 counts for 12 problems"),
        (lambda r: r["train"].__setitem__("7", []), "unknown configuration(s) 7"),
        (lambda r: r["settings"][0].__setitem__("runs", 0), "must be >= 1"),
    ],
)
def test_bad_release_writes_nothing(tmp_path: Path, change: object, needle: str) -> None:
    src = specialist_release(tmp_path / "results.json")
    release = json.loads(src.read_text())
    change(release)  # type: ignore[operator]
    src.write_text(json.dumps(release))
    with pytest.raises(UsageError, match=re.escape(needle)):
        import_file(src, tmp_path / "runs", "toy", "counts")
    assert not (tmp_path / "runs").exists()


def test_counts_with_c_above_n_are_one_line_and_write_nothing(tmp_path: Path) -> None:
    rows = [dict(ROWS[0]), {**ROWS[1], "c": 21}]
    src = write_csv(tmp_path / "bad.csv", rows)
    line = one_error(
        harness("import", src, "--task", "toy", "--out", tmp_path / "run", cwd=tmp_path)
    )
    assert "bad.csv:3: c > n (21 correct of 20 samples)" in line
    assert not (tmp_path / "run").exists()
    src = specialist_release(tmp_path / "results.json")
    release = json.loads(src.read_text())
    release["test"]["2"][0] = 99
    src.write_text(json.dumps(release))
    line = one_error(
        harness("import", src, "--task", "toy", "--out", tmp_path / "runs", cwd=tmp_path)
    )
    assert "problem 'Toy/16'" in line and "c > n (99 correct of 8 samples)" in line
    assert not (tmp_path / "runs").exists()


def test_import_options_checked_before_writing(tmp_path: Path) -> None:
    src = specialist_release(tmp_path / "results.json")
    with pytest.raises(UsageError, match="--label names one run"):
        import_file(src, tmp_path / "runs", "toy", meta=ImportMeta(label="x"))
    with pytest.raises(UsageError, match="does not match --name-pattern"):
        import_file(src, tmp_path / "runs", "toy", name_pattern=r"(?P<model>\w+)-(?P<seed>\d+)")
    with pytest.raises(UsageError, match="cost per sample must be > 0"):
        import_file(src, tmp_path / "runs", "toy", meta=ImportMeta(cost_per_sample=-1))
    with pytest.raises(UsageError, match="--name-pattern does not apply to --format samples"):
        import_file(src, tmp_path / "runs", "arith", "samples", name_pattern="x")
    assert not (tmp_path / "runs").exists()
    # A release into a folder that already holds its runs is refused, not merged.
    import_file(src, tmp_path / "runs", "toy")
    with pytest.raises(UsageError, match="already exists"):
        import_file(src, tmp_path / "runs", "toy")


def test_import_help_lists_every_format_and_its_fields(tmp_path: Path) -> None:
    proc = harness("import", "--help", cwd=tmp_path)
    assert proc.returncode == 0
    text = " ".join(proc.stdout.split())
    for name in FORMAT_FIELDS:
        assert f"{name}:" in text
    for field in ("is_corrects", "completion", "correct", "training_instances", "n, c"):
        assert field in text
    for flag in ("--temperature", "--label", "--seed", "--cost-per-sample", "--name-pattern"):
        assert flag in text


def test_token_counts_of_judged_rows_are_kept_without_texts(tmp_path: Path) -> None:
    rows = [
        {"problem_id": f"p{i % 3}", "correct": i % 4 == 0, "prompt_tokens": 30 + i % 3,
         "completion_tokens": 100 + i}
        for i in range(12)
    ]  # fmt: skip
    src = tmp_path / "judged.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    meta = ImportMeta(model="qwen2.5-0.5b", temperature=0.6)
    done = import_file(src, tmp_path / "run", "toy", meta=meta)
    assert done.format == "verdicts"
    tokens = read_token_counts(RunStore(tmp_path / "run").samples_path)
    assert sorted(tokens.completion_tokens) == list(range(100, 112))
    assert set(tokens.prompt_tokens) == {30, 31, 32}
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({**rows[0], "completion_tokens": -3}) + "\n")
    with pytest.raises(UsageError, match=r"bad\.jsonl:1: 'completion_tokens' must be"):
        import_file(bad, tmp_path / "run2", "toy")
    assert not (tmp_path / "run2").exists()
