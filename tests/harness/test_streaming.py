"""Samples stream one by one: the core's gather/merge, the generate stage writing each
sample as it arrives, the ray dispatcher and replica with streaming handles."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from test_ray_dispatch import FakeEngine

from harness.backends._dispatch import ReplicaLost, dispatch
from harness.backends._ray_replica import EnginePump, ReplicaActor
from harness.core.backend import Completion, GenRequest, GenResult, gather, merge, stream_of
from harness.core.config import RunConfig
from harness.core.interrupts import Interrupted
from harness.core.records import Problem, Sample, SamplingConfig
from harness.generate import generate


def _req(pid: str, *indices: int) -> GenRequest:
    return GenRequest(Problem(id=pid, prompt=f"question {pid}"), tuple(indices))


def _part(req: GenRequest, *indices: int, seed: int | None = None) -> GenResult:
    sub = req.part(indices)
    comps = [Completion(f"{req.problem.id}/{i}", i + 1, "stop", seed) for i in sub.sample_indices]
    return GenResult(sub, comps, prompt_tokens=3)


def test_part_keeps_the_request_order() -> None:
    r = _req("a", 4, 5, 6, 7)
    assert r.part([7, 5]).sample_indices == (5, 7) and r.part([]).n == 0


def test_merge_puts_samples_back_in_request_order_with_their_seeds() -> None:
    r = _req("a", 3, 4, 5)
    merged = merge(r, [_part(r, 5, seed=105), _part(r, 3, 4, seed=None)])
    assert merged.request == r and [c.text for c in merged.completions] == ["a/3", "a/4", "a/5"]
    assert merged.sample_seeds() == [None, None, 105]
    with pytest.raises(ValueError, match=r"samples \[4\] are missing"):
        merge(r, [_part(r, 3, 5)])


def test_gather_yields_each_request_when_its_last_sample_arrives() -> None:
    a, b, empty = _req("a", 0, 1, 2), _req("b", 0, 1), _req("c")
    pulled: list[str] = []

    def stream(requests: Iterable[GenRequest]) -> Iterator[GenResult]:
        reqs = list(requests)
        pulled.extend(r.problem.id for r in reqs)
        yield _part(a, 1)
        yield _part(b, 0, 1)  # b done first
        yield _part(a, 0, 2)

    got = list(gather(stream, [a, empty, b]))
    assert [r.request for r in got] == [b, a] and pulled == ["a", "b"]
    assert [c.text for c in got[1].completions] == ["a/0", "a/1", "a/2"]


class OneAtATime:
    """A backend with only ``stream``: each sample after the previous one is on disk."""

    name = "one-at-a-time"

    def __init__(self, samples_path: Path) -> None:
        self.path = samples_path
        self.lines_seen: list[int] = []

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name}

    def stream(self, requests: Iterable[GenRequest]) -> Iterator[GenResult]:
        for req in requests:
            for i in req.sample_indices:
                # What the driver wrote before asking for this sample.
                self.lines_seen.append(self.path.read_text().count("\n"))
                yield _part(req, i)

    def generate(self, requests: Iterable[GenRequest]) -> Iterator[GenResult]:
        return gather(self.stream, requests)

    def close(self) -> None:
        pass


def test_the_driver_writes_each_sample_before_the_next_arrives(tmp_path: Path) -> None:
    cfg = RunConfig(
        task="arith", model="m", backend="scripted", n=4, limit=2, out=tmp_path / "run",
        task_options={"count": "2"}, sampling=SamplingConfig(seed=1),
    )  # fmt: skip
    backend = OneAtATime(cfg.out / "samples.jsonl")  # type: ignore[operator]
    assert stream_of(backend) == backend.stream
    seen: list[list[Sample]] = []
    generate(cfg, backend=backend, progress=seen.append)  # type: ignore[arg-type]
    assert backend.lines_seen == list(range(8))  # sample k asked for once k were on disk
    assert [len(batch) for batch in seen] == [1] * 8


def test_a_backend_with_generate_only_still_works(tmp_path: Path) -> None:
    class WholeOnly:
        name = "whole"

        def describe(self) -> dict[str, Any]:
            return {}

        def generate(self, requests: Iterable[GenRequest]) -> Iterator[GenResult]:
            for r in requests:
                yield _part(r, *r.sample_indices)

        def close(self) -> None:
            pass

    cfg = RunConfig(task="arith", model="m", backend="scripted", n=3, limit=2,
                    out=tmp_path / "run", task_options={"count": "2"})  # fmt: skip
    seen: list[int] = []
    store = generate(cfg, backend=WholeOnly(), progress=lambda b: seen.append(len(b)))  # type: ignore[arg-type]
    assert seen == [3, 3] and store.sample_count() == 6


# -- the ray dispatcher with streaming handles -------------------------------------------


class StreamingSim:
    """Replicas that hand back one sample per wait; replica ``dies`` fails after one."""

    def __init__(self, replicas: int, dies: int | None = None) -> None:
        self.replicas, self.dies = replicas, dies
        self.handles: dict[int, list[Any]] = {}  # handle -> [replica, request, next index]
        self.log: list[tuple[int, tuple[int, ...]]] = []

    def submit(self, replica: int, req: GenRequest) -> int:
        handle = len(self.handles)
        self.handles[handle] = [replica, req, 0]
        self.log.append((replica, req.sample_indices))
        return handle

    def wait(self, handles: list[int]) -> list[int]:
        return handles[:1]

    def collect(self, handle: int) -> GenResult:
        replica, req, k = self.handles[handle]
        if replica == self.dies and k == 1:
            raise ReplicaLost("gone")
        self.handles[handle][2] += 1
        return _part(req, req.sample_indices[k])


def test_dispatch_yields_samples_of_a_streaming_handle_and_resends_only_what_was_owed() -> None:
    sim = StreamingSim(replicas=2, dies=1)
    reqs = [_req("a", 0, 1, 2), _req("b", 0, 1, 2)]
    lost: list[int] = []
    results = list(
        dispatch(reqs, 2, 3, sim.submit, sim.wait, sim.collect, on_lost=lambda i, e: lost.append(i))
    )
    assert all(r.request.n == 1 for r in results)
    keys = sorted((r.request.problem.id, r.request.sample_indices[0]) for r in results)
    assert keys == [(p, i) for p in "ab" for i in range(3)]  # each sample once
    assert lost == [1]
    # Replica 1 handed back b/0, then died: only b/1 and b/2 were sent again, to replica 0.
    assert sim.log == [(0, (0, 1, 2)), (1, (0, 1, 2)), (0, (1, 2))]


# -- the replica's pump and actor with an engine that finishes one sample per step --------


class SampleEngine(FakeEngine):
    """Finishes one sample of each request per step (as vLLM does for n=1 children)."""

    def submit(self, requests: Sequence[GenRequest]) -> list[str]:
        ids = []
        for r in requests:
            self.counter += 1
            self.live[str(self.counter)] = [r, 0]
            ids.append(str(self.counter))
        return ids

    def step(self) -> list[tuple[str, GenResult]]:
        time.sleep(0.002)
        done = []
        for eid, entry in list(self.live.items()):
            req, k = entry
            done.append((eid, _part(req, req.sample_indices[k])))
            entry[1] += 1
            if entry[1] == req.n:
                del self.live[eid]
        return done


def test_pump_calls_back_per_sample_and_ends_the_request_with_its_last() -> None:
    pump = EnginePump(SampleEngine)
    got: list[tuple[int, ...]] = []
    done = threading.Event()

    def back(result: GenResult | None, error: BaseException | None) -> None:
        assert error is None and result is not None
        got.append(result.request.sample_indices)
        if len(got) == 3:
            done.set()

    try:
        pump.submit(1, _req("a", 0, 1, 2), back)
        assert done.wait(10)
        assert got == [(0,), (1,), (2,)]
    finally:
        pump.close()


def test_actor_streams_samples_and_run_returns_the_whole_request(monkeypatch) -> None:
    from harness.core.backend import BackendConfig

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    engine = SampleEngine()
    actor = ReplicaActor(BackendConfig(model="m", sampling=SamplingConfig()), lambda c: engine)

    async def main() -> tuple[list[tuple[int, ...]], GenResult, list[str]]:
        parts = [p.request.sample_indices async for p in actor.stream(1, _req("a", 0, 1, 2))]
        whole = await actor.run(2, _req("b", 5, 6))
        # A consumer that stops after the first sample frees the engine's slot.
        stream = actor.stream(3, _req("c", 0, 1, 2, 3))
        await stream.__anext__()
        await stream.aclose()
        await asyncio.sleep(0.1)
        return parts, whole, engine.aborted

    try:
        parts, whole, aborted = asyncio.run(main())
    finally:
        actor.pump.close()
    assert parts == [(0,), (1,), (2,)]
    assert whole.request.sample_indices == (5, 6) and len(whole.completions) == 2
    assert len(aborted) == 1


# -- an engine start that does not finish ------------------------------------------------


class StartsThenStops:
    """A local engine whose start leaves a child process and chatter, then is stopped."""

    name = "starts-then-stops"
    local_model = True
    stopped_by: type[BaseException] = Interrupted

    def __init__(self, config: Any) -> None:
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        StartsThenStops.child = child  # type: ignore[attr-defined]
        # (pytest swaps sys.stdout for its own object: written at the descriptors here.)
        os.write(1, b"engine chatter on stdout\n")
        os.write(2, b"engine chatter on stderr, from C\n")
        raise self.stopped_by()


@pytest.mark.parametrize("stopped_by", [Interrupted, RuntimeError])
def test_an_engine_start_that_does_not_finish_leaves_no_process_and_no_empty_run(
    tmp_path: Path, stopped_by: type[BaseException], capfd: pytest.CaptureFixture[str]
) -> None:
    from harness.core.backend import BACKENDS

    StartsThenStops.stopped_by = stopped_by
    BACKENDS.register("starts-then-stops", StartsThenStops)
    out = tmp_path / "run"
    cfg = RunConfig(task="arith", model="acme/tiny", backend="starts-then-stops", n=2,
                    limit=1, out=out, task_options={"count": "1"})  # fmt: skip
    with pytest.raises(stopped_by):
        generate(cfg, quiet=True)
    child = StartsThenStops.child  # type: ignore[attr-defined]
    assert child.wait(10) is not None  # stopped by the stage, not left running
    printed = capfd.readouterr()
    assert "chatter" not in printed.out + printed.err  # it went to the engine log
    log = out / "logs" / "engine.log"
    if stopped_by is Interrupted:  # nothing written, nothing kept: no directory
        assert not out.exists()
    else:  # a failed start keeps its log (the only trace of why), and nothing else
        assert sorted(p.name for p in out.iterdir()) == ["logs"]
        assert "engine chatter on stderr, from C" in log.read_text()
