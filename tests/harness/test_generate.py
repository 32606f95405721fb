"""The driver with the scripted backend: resume, top-up, conflicts, nothing lost."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from harness.analyze import analyze
from harness.backends.scripted import ScriptedBackend
from harness.core.backend import BackendConfig, GenRequest
from harness.core.config import RunConfig
from harness.core.errors import UsageError
from harness.core.records import SamplingConfig
from harness.generate import generate
from harness.verify import verify


def cfg(tmp_path: Path, **kw: object) -> RunConfig:
    base = RunConfig(
        task="arith",
        backend="scripted",
        n=4,
        limit=3,
        out=tmp_path / "run",
        task_options={"count": "5"},
        sampling=SamplingConfig(seed=1),
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def backend(config: RunConfig, script=None) -> ScriptedBackend:  # type: ignore[no-untyped-def]
    return ScriptedBackend(BackendConfig(config.model, config.sampling), script)


def keys(run: Path) -> list[tuple[str, int]]:
    lines = (run / "samples.jsonl").read_text().splitlines()
    return [(json.loads(x)["problem_id"], json.loads(x)["sample_index"]) for x in lines]


def test_generates_n_per_problem_and_resume_adds_nothing(tmp_path: Path) -> None:
    c = cfg(tmp_path)
    generate(c, backend=backend(c))
    assert sorted(keys(c.out)) == [(str(p), i) for p in range(3) for i in range(4)]
    b = backend(c)
    generate(c, backend=b)
    assert b.calls == []
    assert len(keys(c.out)) == 12


def test_top_up_generates_only_the_missing(tmp_path: Path) -> None:
    c = cfg(tmp_path)
    generate(c, backend=backend(c))
    bigger = replace(c, n=10, limit=4)
    b = backend(bigger)
    generate(bigger, backend=b)
    asked = sorted((r.problem.id, i) for r in b.calls for i in r.sample_indices)
    want = [(str(p), i) for p in range(3) for i in range(4, 10)]
    want += [("3", i) for i in range(10)]
    assert asked == sorted(want)
    assert sorted(keys(c.out)) == sorted((str(p), i) for p in range(4) for i in range(10))
    manifest = json.loads((c.out / "manifest.json").read_text())
    assert manifest["n"] == 10 and manifest["num_problems"] == 4


def test_chunks_bound_request_size(tmp_path: Path) -> None:
    c = cfg(tmp_path, n=10, chunk=4)
    b = backend(c)
    generate(c, backend=b)
    assert [r.n for r in b.calls] == [4, 4, 2] * 3


def test_partial_run_is_completed_after_a_crash(tmp_path: Path) -> None:
    c = cfg(tmp_path, n=6, chunk=2)

    class Crash(ScriptedBackend):
        def generate(self, requests):  # type: ignore[no-untyped-def]
            for i, result in enumerate(super().generate(requests)):
                if i == 4:
                    raise RuntimeError("engine died")
                yield result

    with pytest.raises(RuntimeError):
        generate(c, backend=Crash(BackendConfig(c.model, c.sampling)))
    assert len(keys(c.out)) == 8
    b = backend(c)
    generate(c, backend=b)
    assert sum(r.n for r in b.calls) == 10
    got = keys(c.out)
    assert len(got) == len(set(got)) == 18


@pytest.mark.parametrize(
    "change",
    [
        {"model": "other-model"},
        {"task_options": {"count": "6"}},
        {"sampling": SamplingConfig(seed=1, temperature=0.5)},
        {"sampling": SamplingConfig(seed=2)},
        {"chat": True},
    ],
)
def test_conflicting_resume_is_refused_and_nothing_changes(
    tmp_path: Path, change: dict[str, object]
) -> None:
    c = cfg(tmp_path)
    generate(c, backend=backend(c))
    before = {p.name: p.read_bytes() for p in c.out.iterdir() if p.is_file()}
    other = replace(c, **change)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="another configuration"):
        generate(other, backend=backend(other))
    after = {p.name: p.read_bytes() for p in c.out.iterdir() if p.is_file()}
    assert after == before


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"n": 0}, "at least 1"),
        ({"task": "nope"}, "unknown task"),
        ({"backend": "nope"}, "unknown backend"),
        ({"limit": 0}, "--limit"),
        ({"task_options": {"bogus": "1"}}, "no option"),
        ({"task_options": {"count": "x"}}, "not a valid int"),
    ],
)
def test_bad_input_writes_nothing(tmp_path: Path, change: dict[str, object], message: str) -> None:
    c = replace(cfg(tmp_path), **change)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match=message):
        generate(c)
    assert not c.out.exists()


def test_unwritable_out_is_refused(tmp_path: Path) -> None:
    # /proc refuses new entries even to root, so this holds for any user.
    c = cfg(tmp_path, out=Path("/proc/harness-test-run"))
    with pytest.raises(UsageError, match="writ"):
        generate(c, backend=backend(c))
    assert not c.out.exists()


def test_out_that_is_a_file_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "file"
    f.write_text("keep me")
    c = cfg(tmp_path, out=f / "run")
    with pytest.raises(UsageError, match="not writable"):
        generate(c, backend=backend(c))
    assert f.read_text() == "keep me"


def test_pipeline_coverage_grows_with_k(tmp_path: Path) -> None:
    c = cfg(tmp_path, n=8, limit=5)

    def script(req: GenRequest, i: int) -> str:
        # Problem p answers right on samples i % (p + 2) == 0: success rate falls with p.
        right = i % (int(req.problem.id) + 2) == 0
        return f"The answer is {req.problem.reference if right else '-1'}."

    generate(c, backend=backend(c, script))
    v = verify(c.out)
    assert v.verifier == "exact" and v.new_verdicts == 40
    assert verify(c.out).new_verdicts == 0
    cov = analyze(c.out).coverage
    assert list(cov["k"]) == list(range(1, 9))
    assert cov["coverage"].iloc[0] < cov["coverage"].iloc[-1] == pytest.approx(1.0)
    assert (c.out / "analysis" / "coverage.csv").read_text().startswith("k,coverage\n")


def test_verify_after_top_up_keeps_class_ids_stable(tmp_path: Path) -> None:
    c = cfg(tmp_path, n=3, limit=1)

    def script(req: GenRequest, i: int) -> str:
        return f"The answer is {[5, 7, 5, 9, 7, 5][i]}."

    generate(c, backend=backend(c, script))
    verify(c.out)
    generate(replace(c, n=6), backend=backend(c, script))
    verify(c.out)
    rows = [json.loads(x) for x in (c.out / "verdicts" / "exact.jsonl").read_text().splitlines()]
    by_answer = {r["answer"]: set() for r in rows}
    for r in rows:
        by_answer[r["answer"]].add(r["class_id"])
    assert all(len(ids) == 1 for ids in by_answer.values())
    assert len(rows) == 6


def test_results_record_what_produced_them(tmp_path: Path) -> None:
    c = cfg(tmp_path)
    generate(c, backend=backend(c))
    m = json.loads((c.out / "manifest.json").read_text())
    assert m["model"] == "smollm2-135m" and m["task"] == "arith"
    assert m["sampling"]["seed"] == 1
    assert m["dataset_hash"].startswith("sha256:")
    assert "python" in m["versions"] and "numpy" in m["versions"]
    first = json.loads((c.out / "samples.jsonl").read_text().splitlines()[0])
    assert first["seed"] == 1


def test_gen_result_order_follows_request(tmp_path: Path) -> None:
    c = cfg(tmp_path, n=2, limit=1)

    class Reversed(ScriptedBackend):
        def generate(self, requests):  # type: ignore[no-untyped-def]
            results = list(super().generate(requests))
            yield from reversed(results)

    generate(c, backend=Reversed(BackendConfig(c.model, c.sampling)))
    assert sorted(keys(c.out)) == [("0", 0), ("0", 1)]


def test_requests_cover_consecutive_indices_only() -> None:
    from harness.core.records import Problem
    from harness.generate import plan_requests

    p = Problem("p", "Q")
    reqs = plan_requests([p], {"p": {0, 1, 5, 9}}, n=12, chunk=3)
    assert [r.sample_indices for r in reqs] == [(2, 3, 4), (6, 7, 8), (10, 11)]
    assert plan_requests([p], {"p": set(range(12))}, n=12, chunk=3) == []


def test_per_sample_seeds_are_recorded(tmp_path: Path) -> None:
    from dataclasses import replace as dc_replace

    c = cfg(tmp_path, n=3, limit=1)

    class PerSample(ScriptedBackend):
        def generate(self, requests):  # type: ignore[no-untyped-def]
            for r in super().generate(requests):
                first = r.request.sample_indices[0]
                seeds = [100 + first + k for k in range(r.request.n)]
                completions = [
                    dc_replace(c, seed=s) for c, s in zip(r.completions, seeds, strict=True)
                ]
                yield dc_replace(r, seed=100 + first, completions=completions)

    generate(c, backend=PerSample(BackendConfig(c.model, c.sampling)))
    rows = [json.loads(x) for x in (c.out / "samples.jsonl").read_text().splitlines()]
    assert [(r["sample_index"], r["seed"]) for r in rows] == [(0, 100), (1, 101), (2, 102)]
