"""Scheduling of the ``ray`` backend without Ray: the dispatcher and the replica's engine pump.

The dispatcher runs against a simulated cluster whose replicas finish requests at known
times, so which request went where, and in which order results come back, is exact. The
pump and the asyncio actor run a fake step engine in a real thread.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Sequence
from typing import Any

import pytest

from harness.backends._dispatch import ReplicaLost, dispatch
from harness.backends._ray_replica import Done, EnginePump, ReplicaActor, RequestAborted
from harness.core.backend import BackendConfig, Completion, GenRequest, GenResult
from harness.core.errors import UsageError
from harness.core.records import Problem, SamplingConfig


def _req(pid: str, *indices: int) -> GenRequest:
    return GenRequest(Problem(id=pid, prompt=f"question {pid}"), tuple(indices))


def _result(req: GenRequest, tag: str = "") -> GenResult:
    texts = [f"{req.problem.id}/{i}{tag}" for i in req.sample_indices]
    return GenResult(req, [Completion(t, 1, "stop") for t in texts], prompt_tokens=3)


# -- the dispatcher on a simulated cluster ------------------------------------------------


class SimCluster:
    """Replica ``i`` needs ``speed[i]`` time units per sample, one request at a time."""

    def __init__(self, speed: Sequence[float]) -> None:
        self.speed = list(speed)
        self.clock = 0.0
        self.busy_until = [0.0] * len(speed)
        self.done_at: dict[int, float] = {}
        self.where: dict[int, tuple[int, GenRequest]] = {}
        self.dead: set[int] = set()
        self.out = [0] * len(speed)  # samples out now, per replica
        self.peak = [0] * len(speed)
        self.log: list[tuple[int, str, tuple[int, ...]]] = []  # (replica, problem, indices)
        self.abandoned: list[tuple[int, int]] = []

    def submit(self, replica: int, req: GenRequest) -> int:
        handle = len(self.where)
        start = max(self.clock, self.busy_until[replica])
        self.busy_until[replica] = start + self.speed[replica] * req.n
        self.done_at[handle] = self.busy_until[replica]
        self.where[handle] = (replica, req)
        self.out[replica] += req.n
        self.peak[replica] = max(self.peak[replica], self.out[replica])
        self.log.append((replica, req.problem.id, req.sample_indices))
        return handle

    def wait(self, handles: list[int]) -> list[int]:
        self.clock = min(self.done_at[h] for h in handles)
        return [h for h in handles if self.done_at[h] <= self.clock]

    def collect(self, handle: int) -> GenResult:
        replica, req = self.where[handle]
        self.out[replica] -= req.n
        if replica in self.dead:
            raise ReplicaLost(f"replica {replica} is gone")
        return _result(req, f"@{replica}")

    def abandon(self, out: list[tuple[int, int]]) -> None:
        self.abandoned += out

    def run(self, requests: list[GenRequest], inflight: int, **kw: Any) -> list[GenResult]:
        return list(
            dispatch(
                requests,
                len(self.speed),
                inflight,
                self.submit,
                self.wait,
                self.collect,
                self.abandon,
                **kw,
            )
        )


def _keys(results: list[GenResult]) -> list[tuple[str, int]]:
    return [(r.request.problem.id, i) for r in results for i in r.request.sample_indices]


def test_every_request_once_and_no_replica_over_its_bound() -> None:
    sim = SimCluster([1.0, 1.0, 1.0])
    reqs = [_req(str(p), *range(c, c + 2)) for p in range(20) for c in (0, 2, 4)]
    results = sim.run(reqs, inflight=6)
    assert sorted(_keys(results)) == sorted((str(p), i) for p in range(20) for i in range(6))
    assert sim.peak == [6, 6, 6]  # full, never over
    per_replica = [sum(1 for r, _, _ in sim.log if r == i) for i in range(3)]
    assert per_replica == [20, 20, 20]


def test_results_stream_in_completion_order_and_the_fast_replica_does_more() -> None:
    sim = SimCluster([1.0, 4.0])  # replica 0 is four times faster
    reqs = [_req(str(p), 0) for p in range(40)]
    results = sim.run(reqs, inflight=2)
    # Yielded in the order the replicas finished them, not the order submitted.
    finish = [int(r.completions[0].text.split("@")[1]) for r in results]
    assert finish[:3] == [0, 0, 0] and 1 in finish
    assert sum(1 for r, _, _ in sim.log if r == 0) >= 3 * sum(1 for r, _, _ in sim.log if r == 1)


def test_a_request_bigger_than_the_bound_still_goes_to_an_idle_replica() -> None:
    sim = SimCluster([1.0, 1.0])
    results = sim.run([_req("a", *range(10)), _req("b", *range(10)), _req("c", 0)], inflight=4)
    assert sorted(len(r.completions) for r in results) == [1, 10, 10]
    assert sim.peak == [10, 10]  # one big request each, never two
    assert sim.log[2][0] in (0, 1) and len(sim.log) == 3


def test_empty_requests_are_skipped_and_the_source_is_read_lazily() -> None:
    pulled: list[int] = []

    def source():
        for p in range(6):
            pulled.append(p)
            yield _req(str(p)) if p == 1 else _req(str(p), 0)

    sim = SimCluster([1.0])
    stream = dispatch(source(), 1, 2, sim.submit, sim.wait, sim.collect, sim.abandon)
    first = next(stream)
    # Two requests were out and one more read but held for want of room.
    assert first.request.problem.id == "0" and pulled == [0, 1, 2, 3]
    rest = list(stream)
    assert [r.request.problem.id for r in rest] == ["2", "3", "4", "5"]


def test_a_lost_replica_has_its_requests_sent_to_the_others() -> None:
    sim = SimCluster([1.0, 1.0, 1.0])
    lost: list[int] = []

    def kill_one(replica: int, error: ReplicaLost) -> None:
        lost.append(replica)

    sim.dead.add(1)  # everything replica 1 was given fails
    reqs = [_req(str(p), 0, 1) for p in range(12)]
    results = sim.run(reqs, inflight=4, on_lost=kill_one)
    assert lost == [1]  # reported once, though several of its requests failed
    assert sorted(_keys(results)) == sorted((str(p), i) for p in range(12) for i in (0, 1))
    assert all(not r.completions[0].text.endswith("@1") for r in results)
    assert len(_keys(results)) == len(set(_keys(results)))


def test_all_replicas_lost_is_an_error() -> None:
    sim = SimCluster([1.0, 1.0])
    sim.dead.update({0, 1})
    with pytest.raises(RuntimeError, match="all 2 replica"):
        sim.run([_req(str(p), 0) for p in range(5)], inflight=1)


def test_a_consumer_that_stops_early_abandons_what_is_out() -> None:
    sim = SimCluster([1.0, 1.0])
    stream = dispatch(
        [_req(str(p), 0) for p in range(10)], 2, 2, sim.submit, sim.wait, sim.collect, sim.abandon
    )
    next(stream)
    stream.close()
    # 4 were out (2 per replica), 2 finished together at t=1: one yielded, one not taken.
    assert len(sim.abandoned) == 3 and {r for r, _ in sim.abandoned} == {0, 1}


# -- the engine pump with a fake step engine ----------------------------------------------


class FakeEngine:
    """Finishes each request after ``steps`` steps; records how requests joined."""

    def __init__(self, steps: int = 3, step_s: float = 0.005) -> None:
        self.steps, self.step_s = steps, step_s
        self.live: dict[str, list[Any]] = {}
        self.counter = 0
        self.joined_running = 0  # requests submitted while others were mid-generation
        self.aborted: list[str] = []
        self.closed = False
        self.threads: set[str] = set()

    def describe(self) -> dict[str, Any]:
        return {"backend": "fake"}

    def submit(self, requests: Sequence[GenRequest]) -> list[str]:
        self.threads.add(threading.current_thread().name)
        for r in requests:
            if r.problem.prompt == "too long":
                raise UsageError(f"problem {r.problem.id}: prompt has 99999 tokens")
        if self.live:
            self.joined_running += len(requests)
        ids = []
        for r in requests:
            self.counter += 1
            steps = 10**9 if r.problem.prompt == "endless" else self.steps
            self.live[str(self.counter)] = [r, steps]
            ids.append(str(self.counter))
        return ids

    def step(self) -> list[tuple[str, GenResult]]:
        self.threads.add(threading.current_thread().name)
        time.sleep(self.step_s)
        done = []
        for eid, entry in list(self.live.items()):
            entry[1] -= 1
            if entry[1] == 0:
                del self.live[eid]
                done.append((eid, _result(entry[0])))
        return done

    def abort(self, ids: Sequence[str]) -> None:
        for eid in ids:
            if self.live.pop(eid, None) is not None:
                self.aborted.append(eid)

    def close(self) -> None:
        self.closed = True


def _collect(
    pump: EnginePump, reqs: list[GenRequest], first_key: int = 0, timeout: float = 10
) -> dict[int, Any]:
    got: dict[int, Any] = {}
    finished = threading.Event()

    def done_for(key: int):
        def done(result: GenResult | None, error: BaseException | None) -> None:
            got[key] = error if error is not None else result
            if len(got) == len(reqs):  # the pump calls back from its one thread
                finished.set()

        return done

    for key, r in enumerate(reqs, first_key):
        pump.submit(key, r, done_for(key))
    assert finished.wait(timeout), f"only {len(got)} of {len(reqs)} finished"
    return got


def test_pump_runs_the_engine_in_its_own_thread_and_batches_new_arrivals() -> None:
    engine = FakeEngine(steps=3)
    pump = EnginePump(lambda: engine)
    endless: list[BaseException | None] = []
    pump.submit(
        99, GenRequest(Problem(id="x", prompt="endless"), (0,)), lambda r, e: endless.append(e)
    )
    while not engine.live:  # the endless request is generating
        time.sleep(0.001)
    try:
        results: dict[int, Any] = {}

        def client(key: int) -> None:
            results.update(_collect(pump, [_req(str(key), 0)], first_key=key))

        # Requests from several threads join a batch that is already generating.
        threads = [threading.Thread(target=client, args=(k,)) for k in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        assert sorted(results) == list(range(6))
        assert [r.request.problem.id for _, r in sorted(results.items())] == list("012345")
        assert engine.joined_running == 6 and not endless  # still running
        assert engine.threads == {"engine-pump"}
    finally:
        pump.close()
    assert engine.closed and isinstance(endless[0], RequestAborted)


def test_pump_fails_a_bad_request_alone() -> None:
    pump = EnginePump(lambda: FakeEngine())
    try:
        bad = GenRequest(Problem(id="huge", prompt="too long"), (0,))
        got = _collect(pump, [_req("a", 0), bad, _req("b", 0)])
        assert isinstance(got[1], UsageError) and "problem huge" in str(got[1])
        assert isinstance(got[0], GenResult) and isinstance(got[2], GenResult)
    finally:
        pump.close()


def test_pump_abort_and_close_drop_unfinished_requests() -> None:
    engine = FakeEngine(steps=10_000)
    pump = EnginePump(lambda: engine)
    errors: dict[int, BaseException | None] = {}

    def done_for(key: int) -> Done:
        return lambda result, error: errors.update({key: error})

    for key in range(3):
        pump.submit(key, _req(str(key), 0), done_for(key))
    pump.abort([1])
    deadline = time.monotonic() + 5
    while 1 not in errors and time.monotonic() < deadline:
        time.sleep(0.01)
    assert isinstance(errors.get(1), RequestAborted) and len(engine.aborted) == 1
    pump.close()
    assert isinstance(errors[0], RequestAborted) and isinstance(errors[2], RequestAborted)
    assert len(engine.aborted) == 3 and engine.closed


def test_engine_that_cannot_be_built_is_reported_by_ready(monkeypatch) -> None:
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)  # the actor sets it (restored after)

    def broken(config: BackendConfig) -> FakeEngine:
        raise UsageError("model 'nope' could not be loaded by vLLM: no such file")

    actor = ReplicaActor(BackendConfig(model="nope", sampling=SamplingConfig()), broken)
    state = asyncio.run(actor.ready())
    assert isinstance(state, tuple) and isinstance(state[0], UsageError)
    assert "broken" in state[1]  # the replica's traceback travels with it


def test_actor_runs_concurrent_requests_through_one_engine(monkeypatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # as Ray sets it in an actor
    seen: list[str | None] = []

    def build(config: BackendConfig) -> FakeEngine:
        seen.append(os.environ.get("OMP_NUM_THREADS"))
        return engine

    engine = FakeEngine(steps=4)
    actor = ReplicaActor(BackendConfig(model="m", sampling=SamplingConfig()), build, "3")
    assert seen == ["3"]  # the driver's value, not Ray's

    async def main() -> list[GenResult]:
        assert await actor.ready() == {"backend": "fake"}
        calls = [actor.run(k, _req(str(k), k, k + 1)) for k in range(8)]
        try:
            return list(await asyncio.gather(*calls))
        finally:
            await actor.shutdown()

    results = asyncio.run(main())
    assert [r.request.sample_indices for r in results] == [(k, k + 1) for k in range(8)]
    assert engine.closed
