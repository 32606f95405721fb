"""Run store: append-only JSONL, torn-line repair, manifest round trip, locking."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from harness.core.errors import UsageError
from harness.core.manifest import RunManifest
from harness.core.records import Sample, SamplingConfig, Verdict
from harness.core.store import (
    JsonlAppender,
    RunStore,
    TornLineWarning,
    iter_jsonl,
    read_jsonl_table,
)


def _samples(pid: str, n: int) -> list[Sample]:
    return [Sample(pid, i, f"text {i}", 3, 5, "stop", 0) for i in range(n)]


def test_append_and_read_back(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "run")
    with store.sample_appender() as out:
        out.write_batch(_samples("a", 3))
        out.write_batch(_samples("b", 2))
    got = list(store.iter_samples())
    assert got == _samples("a", 3) + _samples("b", 2)
    assert store.sample_indices() == {"a": {0, 1, 2}, "b": {0, 1}}


@pytest.mark.parametrize(
    "tail", [b'{"problem_id": "a", "sample_in', b'{"problem_id": "a"}', b"\xff"]
)
def test_torn_last_line_is_dropped_never_parsed(tmp_path: Path, tail: bytes) -> None:
    store = RunStore(tmp_path)
    with store.sample_appender() as out:
        out.write_batch(_samples("a", 2))
    with store.samples_path.open("ab") as f:
        f.write(tail)
    with pytest.warns(TornLineWarning):
        assert [s.sample_index for s in store.iter_samples()] == [0, 1]
    # Appending repairs the file first, so the new line is not glued to the torn one.
    with pytest.warns(TornLineWarning), store.sample_appender() as out:
        out.write_batch([Sample("a", 2, "x")])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lines = store.samples_path.read_text().splitlines()
        assert [json.loads(x)["sample_index"] for x in lines] == [0, 1, 2]


def test_torn_line_with_newline_but_bad_json_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "v.jsonl"
    path.write_text('{"a": 1}\n{"a": 2}\n{"a": \n')
    with pytest.warns(TornLineWarning):
        assert list(iter_jsonl(path)) == [{"a": 1}, {"a": 2}]


def test_corrupt_middle_line_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "v.jsonl"
    path.write_text('{"a": 1}\nnot json\n{"a": 2}\n')
    with pytest.raises(UsageError, match=r"v.jsonl:2"):
        list(iter_jsonl(path))


def test_single_long_torn_line(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_text('{"x": "' + "y" * 200_000)
    with pytest.warns(TornLineWarning):
        assert list(iter_jsonl(path)) == []


def test_verdict_table_is_columnar_and_skips_torn_tail(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    with store.verdict_appender("exact") as out:
        out.write_batch([Verdict("7", i, i % 2 == 0, "passed", answer=str(i)) for i in range(5)])
    with store.verdicts_path("exact").open("a") as f:
        f.write('{"problem_id": "7", "sam')
    table = store.read_verdicts_table("exact", ["problem_id", "sample_index", "correct"])
    assert list(table.columns) == ["problem_id", "sample_index", "correct"]
    assert table["correct"].tolist() == [True, False, True, False, True]
    assert table["problem_id"].tolist() == ["7"] * 5


def test_empty_verdict_file_reads_as_empty_table(tmp_path: Path) -> None:
    (tmp_path / "empty.jsonl").touch()
    assert read_jsonl_table(tmp_path / "empty.jsonl", ["correct"]).empty


def test_manifest_round_trip_and_atomic_write(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    m = RunManifest(
        task="arith",
        model="m",
        backend="scripted",
        n=4,
        sampling=SamplingConfig(stop=("\n",), seed=3),
        dataset_hash="sha256:x",
        num_problems=2,
        task_options={"options": {"count": 2}},
    )
    store.write_manifest(m)
    assert store.read_manifest() == m
    assert not list(tmp_path.glob("*.tmp"))


def test_lock_keeps_a_second_writer_out(tmp_path: Path) -> None:
    a, b = RunStore(tmp_path), RunStore(tmp_path)
    with a, pytest.raises(UsageError, match="in use"):
        b.lock()
    with b:
        pass


def test_a_failed_command_leaves_no_empty_directory_it_made(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh"
    with pytest.raises(UsageError), RunStore(fresh):
        raise UsageError("bad input")
    assert not fresh.exists()
    kept = tmp_path / "kept"
    kept.mkdir()
    with pytest.raises(UsageError), RunStore(kept):
        raise UsageError("bad input")
    assert kept.is_dir()  # it was there before
    written = tmp_path / "written"
    with pytest.raises(UsageError), RunStore(written) as store:
        store.write_manifest(
            RunManifest(
                task="t",
                model="m",
                backend="scripted",
                n=1,
                sampling=SamplingConfig(),
                dataset_hash="sha256:x",
                num_problems=1,
            )
        )
        raise UsageError("after writing")
    assert store.manifest_path.exists()  # what was written stays
    with RunStore(tmp_path / "ok"):
        pass
    assert (tmp_path / "ok").is_dir()


def test_appender_fsyncs_each_batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    monkeypatch.setattr("os.fsync", lambda fd: calls.append(fd))
    with JsonlAppender(tmp_path / "x.jsonl") as out:
        out.write_batch(_samples("a", 3))
        out.write_batch(_samples("b", 3))
    assert len(calls) == 2
