"""Reading task data files: one clear error naming the file and line for malformed rows."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from harness.core.errors import UsageError
from tasks._files import hub_reachable, load_hub, load_local, read_rows

ROWS = [{"question": "1+1?", "answer": "2"}, {"question": "2+2?", "answer": "4"}]


def _jsonl(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_jsonl_json_array_gz_and_parquet_read_alike(tmp_path: Path) -> None:
    jsonl = _jsonl(tmp_path / "a.jsonl", ["", *(json.dumps(r) for r in ROWS)])
    array = tmp_path / "b.json"
    array.write_text(json.dumps(ROWS))
    gz = tmp_path / "c.jsonl.gz"
    with gzip.open(gz, "wt") as f:
        f.write("\n".join(json.dumps(r) for r in ROWS))
    parquet = tmp_path / "d.parquet"
    pq.write_table(pa.Table.from_pylist(ROWS), parquet)
    for path in (jsonl, array, gz, parquet):
        assert [r.data for r in read_rows(path)] == ROWS
        assert [r.data for r in load_local(path, ("question", "answer"), "t")] == ROWS
    assert [r.where for r in read_rows(jsonl)] == [f"{jsonl}:2", f"{jsonl}:3"]


def test_bad_json_line_names_file_and_line(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "bad.jsonl", [json.dumps(ROWS[0]), "", '{"question": "x", '])
    with pytest.raises(UsageError, match=rf"^{path}:3: not a valid JSON line"):
        load_local(path, ("question", "answer"), "t")


def test_row_that_is_not_an_object(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "list.jsonl", [json.dumps(ROWS[0]), "[1, 2]"])
    with pytest.raises(UsageError, match=rf"^{path}:2: expected a JSON object"):
        read_rows(path)


@pytest.mark.parametrize(
    ("row", "state"), [({"question": "q"}, "missing"), ({"question": "q", "answer": " "}, "empty")]
)
def test_missing_or_empty_field_names_file_and_line(tmp_path: Path, row: dict, state: str) -> None:
    path = _jsonl(tmp_path / "rows.jsonl", [json.dumps(ROWS[0]), json.dumps(row)])
    with pytest.raises(UsageError, match=rf"^{path}:2: field 'answer' is {state}"):
        load_local(path, ("question", "answer"), "t")


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such file"):
        read_rows(tmp_path / "nope.jsonl")
    broken = tmp_path / "x.parquet"
    broken.write_bytes(b"PAR1 not really")
    with pytest.raises(UsageError, match="not a readable parquet file"):
        read_rows(broken)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    with pytest.raises(UsageError, match="no rows"):
        load_local(empty, ("question",), "t")


def test_unreachable_hub_fails_fast_with_a_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    assert not hub_reachable()[0]
    with pytest.raises(UsageError, match="pass --data-file PATH") as err:
        load_hub("openai/gsm8k", "main", "test", "gsm8k")
    assert "\n" not in str(err.value)
