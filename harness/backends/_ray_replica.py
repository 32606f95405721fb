"""One replica of the ``ray`` backend: an engine that keeps batching while requests arrive.

``EnginePump`` owns an engine (``VLLMBackend``'s ``submit``/``step``/``abort``) in one
thread: every call into vLLM happens there. Other threads hand it requests through a
queue; between engine steps the pump takes whatever arrived, adds it to the running batch
(continuous batching, as ``vllm serve`` does) and calls each request's callback the moment
the engine finishes one of its samples. ``ReplicaActor`` wraps a pump as an asyncio Ray
actor: each ``run(key, request)`` call is one awaiting coroutine (the whole request), each
``stream(key, request)`` call an async generator that hands back every sample as it is
done, so thousands of requests in flight cost no threads. Neither class imports Ray; the
driver applies ``ray.remote``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import threading
import traceback
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from harness.core.backend import BackendConfig, GenRequest, GenResult, merge

Done = Callable[[GenResult | None, BaseException | None], None]
"""Called for a submitted request with (result, None) for each group of its samples the
engine finished (their ``request`` names them), until all are back; or once with
(None, error), which ends the request."""


class RequestAborted(RuntimeError):
    """The request was dropped before it finished (the driver gave up on it, or shutdown)."""


class StepEngine(Protocol):
    """An engine that takes requests at any time and is advanced one step at a time."""

    def describe(self) -> dict[str, Any]: ...

    def submit(self, requests: Sequence[GenRequest]) -> list[str]: ...

    def step(self) -> list[tuple[str, GenResult]]:
        """(id, result) for the samples finished in this step: a result holds some or all
        of the request's samples, and the request is done when all are back."""
        ...

    def abort(self, ids: Sequence[str]) -> None: ...

    def close(self) -> None: ...


def vllm_engine(config: BackendConfig) -> StepEngine:
    """The real engine of a replica: the ``vllm`` backend, built in the replica."""
    from harness.backends.vllm import VLLMBackend

    return VLLMBackend(config)


class EnginePump:
    """Runs a ``StepEngine`` in a thread of its own; any thread may submit work to it.

    Args:
        make_engine: Builds the engine; called in the pump's thread, so the engine is
            created and used by that thread alone.
    """

    def __init__(self, make_engine: Callable[[], StepEngine]) -> None:
        self._inbox: queue.SimpleQueue[tuple[Any, ...]] = queue.SimpleQueue()
        self._ready = threading.Event()
        self.error: BaseException | None = None  # why the engine could not be built
        self.error_trace = ""
        self.description: dict[str, Any] = {}
        self._thread = threading.Thread(
            target=self._run, args=(make_engine,), name="engine-pump", daemon=True
        )
        self._thread.start()
        self._ready.wait()

    # -- any thread ----------------------------------------------------------------------
    def submit(self, key: int, request: GenRequest, done: Done) -> None:
        """Queue ``request``; ``done`` is called from the pump's thread when it ends."""
        if self.error is not None:
            done(None, self.error)
            return
        self._inbox.put(("run", key, request, done))

    def abort(self, keys: Iterable[int]) -> None:
        """Drop unfinished requests; their callbacks get ``RequestAborted``."""
        self._inbox.put(("abort", list(keys)))

    def close(self, timeout: float = 120.0) -> None:
        """Abort what is left, shut the engine down and stop the thread."""
        if self._thread.is_alive():
            self._inbox.put(("stop",))
            self._thread.join(timeout)

    # -- the pump's thread ---------------------------------------------------------------
    def _run(self, make_engine: Callable[[], StepEngine]) -> None:
        try:
            engine = make_engine()
            self.description = engine.describe()
        except BaseException as e:  # reported to the driver by ReplicaActor.ready
            self.error, self.error_trace = e, traceback.format_exc()
            self._ready.set()
            return
        self._ready.set()
        by_id: dict[str, int] = {}  # engine id -> key
        waiting: dict[int, _Waiting] = {}
        try:
            while True:
                # Sleep on the inbox only when the engine has nothing to do.
                messages = self._drain(block=not waiting)
                runs = [m[1:] for m in messages if m[0] == "run"]
                if runs:
                    self._start(engine, runs, by_id, waiting)
                for m in messages:
                    if m[0] == "abort":
                        self._drop(engine, m[1], by_id, waiting, RequestAborted("aborted"))
                if any(m[0] == "stop" for m in messages):
                    return
                if waiting:
                    self._advance(engine, by_id, waiting)
        finally:
            self._drop(engine, list(waiting), by_id, waiting, RequestAborted("replica shut down"))
            engine.close()

    def _drain(self, block: bool) -> list[tuple[Any, ...]]:
        messages = [self._inbox.get()] if block else []
        while True:
            try:
                messages.append(self._inbox.get_nowait())
            except queue.Empty:
                return messages

    def _start(
        self,
        engine: StepEngine,
        runs: list[tuple[Any, ...]],
        by_id: dict[str, int],
        waiting: dict[int, _Waiting],
    ) -> None:
        """Add new requests to the engine: all in one call, one by one if that fails,
        so a bad request (prompt too long) fails alone."""
        try:
            ids = engine.submit([r[1] for r in runs])
        except Exception:
            for key, request, done in runs:
                try:
                    (eid,) = engine.submit([request])
                except Exception as e:
                    done(None, e)
                else:
                    by_id[eid], waiting[key] = key, _Waiting(eid, done, request.n)
            return
        for eid, (key, request, done) in zip(ids, runs, strict=True):
            by_id[eid], waiting[key] = key, _Waiting(eid, done, request.n)

    def _advance(
        self, engine: StepEngine, by_id: dict[str, int], waiting: dict[int, _Waiting]
    ) -> None:
        """One engine step; a broken engine fails every waiting request."""
        try:
            finished = engine.step()
        except Exception as e:
            self._drop(engine, list(waiting), by_id, waiting, e)
            return
        for eid, result in finished:
            key = by_id.get(eid)
            if key is None:
                continue
            entry = waiting[key]
            entry.left -= result.request.n
            if entry.left <= 0:  # its last samples
                del by_id[eid], waiting[key]
            entry.done(result, None)

    @staticmethod
    def _drop(
        engine: StepEngine,
        keys: Iterable[int],
        by_id: dict[str, int],
        waiting: dict[int, _Waiting],
        error: BaseException,
    ) -> None:
        dropped = []
        for key in keys:
            if key in waiting:
                entry = waiting.pop(key)
                by_id.pop(entry.engine_id, None)
                dropped.append(entry.engine_id)
                entry.done(None, error)
        if dropped:
            with contextlib.suppress(Exception):  # a broken engine has nothing to abort
                engine.abort(dropped)


@dataclass
class _Waiting:
    """A request in the engine: its engine id, its callback, samples not yet returned."""

    engine_id: str
    done: Done
    left: int


class ReplicaActor:
    """A Ray actor (asyncio) holding one engine; the driver calls ``run`` per request.

    Args:
        config: The replica backend's configuration (the ``vllm`` backend's options).
        make_engine: Builds the engine from ``config``; the ``vllm`` backend by default.
        omp_threads: The driver's ``OMP_NUM_THREADS``. Ray sets it to the actor's CPU
            count when unset; vLLM takes a set value as the user's choice and keeps that
            many torch threads spinning in its engine loop, so unless the driver set it the
            replica unsets it and the engine behaves as under the ``vllm`` backend.
    """

    def __init__(
        self,
        config: BackendConfig,
        make_engine: Callable[[BackendConfig], StepEngine] | None,
        omp_threads: str | None = None,
    ) -> None:
        if omp_threads is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = omp_threads
        factory = make_engine or vllm_engine
        self.pump = EnginePump(lambda: factory(config))

    async def ready(self) -> dict[str, Any] | tuple[BaseException, str]:
        """The engine's description, or (error, traceback text) if it could not be built."""
        if self.pump.error is not None:
            return self.pump.error, self.pump.error_trace
        return self.pump.description

    async def run(self, key: int, request: GenRequest) -> GenResult:
        """Generate ``request``; returns when the engine has finished all its samples."""
        parts = [part async for part in self.stream(key, request)]
        return merge(request, parts)

    async def stream(self, key: int, request: GenRequest) -> AsyncIterator[GenResult]:
        """Generate ``request``; yields its samples as the engine finishes them."""
        loop = asyncio.get_running_loop()
        arrived: asyncio.Queue[tuple[GenResult | None, BaseException | None]] = asyncio.Queue()

        def done(result: GenResult | None, error: BaseException | None) -> None:
            loop.call_soon_threadsafe(arrived.put_nowait, (result, error))

        self.pump.submit(key, request, done)
        left = request.n
        try:
            while left > 0:
                result, error = await arrived.get()
                if error is not None:
                    left = 0
                    raise error
                assert result is not None
                left -= result.request.n
                yield result
        finally:
            if left > 0:  # cancelled, or the consumer stopped: free the engine's slots too
                self.pump.abort([key])

    async def abort(self, keys: list[int]) -> None:
        """Drop requests the driver no longer wants."""
        self.pump.abort(keys)

    async def shutdown(self) -> None:
        """Abort what is left and free the engine (before the actor is killed)."""
        await asyncio.get_running_loop().run_in_executor(None, self.pump.close)
