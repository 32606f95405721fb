"""Spreading generation requests over replicas, with a bounded amount of work in each.

``dispatch`` is the scheduling half of the ``ray`` backend, written against four small
callables so it runs without Ray in unit tests: ``submit`` hands a request to a replica
and returns a handle, ``wait`` blocks until some handles have something, ``collect``
turns such a handle into its next result (all of the request's samples, or, for a
streaming handle, the samples finished so far: the handle stays out until every sample
is back), ``abandon`` drops handles nobody will collect. Each replica
holds at most ``inflight`` samples (and always at least one request), so its engine keeps a
full batch while the others get their share; every new request goes to the least loaded
replica. A replica that dies has the samples it still owed sent to the others: their seeds
come from the sample, not the replica, so the samples are the same wherever they ran.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator, Hashable, Iterable
from typing import TypeVar

from harness.core.backend import GenRequest, GenResult

H = TypeVar("H", bound=Hashable)


class ReplicaLost(RuntimeError):
    """Raised by ``collect`` when the replica that held the request is gone for good."""


def _ignore_lost(replica: int, error: ReplicaLost) -> None:
    pass


def dispatch(
    requests: Iterable[GenRequest],
    replicas: int,
    inflight: int,
    submit: Callable[[int, GenRequest], H],
    wait: Callable[[list[H]], list[H]],
    collect: Callable[[H], GenResult],
    abandon: Callable[[list[tuple[int, H]]], None] | None = None,
    on_lost: Callable[[int, ReplicaLost], None] = _ignore_lost,
) -> Generator[GenResult, None, None]:
    """Yield one result per request (requests with no samples are skipped), as they finish.

    Args:
        requests: Read lazily, only as replicas have room.
        replicas: Number of replicas, addressed as ``0 .. replicas - 1``.
        inflight: Samples one replica may hold at once (a bigger request still goes to an
            idle replica).
        submit: ``(replica, request) -> handle``; must not block on the generation.
        wait: Blocks until at least one of the given handles has a result; returns those.
        collect: The next result of such a handle (some or all of the request's samples);
            raises ``ReplicaLost`` if its replica died.
        abandon: Called with the (replica, handle) pairs still out when the consumer stops
            early, so the replicas can drop them.
        on_lost: Told about each replica that died (its requests are re-sent).

    Raises:
        RuntimeError: Every replica died before the work was done.
    """
    alive = set(range(replicas))
    count = [0] * replicas  # requests out per replica
    load = [0] * replicas  # samples out per replica
    out: dict[H, tuple[int, GenRequest]] = {}  # handle -> (replica, samples still owed)
    redo: deque[GenRequest] = deque()
    source = iter(requests)
    held: list[GenRequest] = []  # taken from the source, waiting for room

    def take() -> GenRequest | None:
        if held:
            return held.pop()
        if redo:
            return redo.popleft()
        return next((r for r in source if r.n > 0), None)

    def fill() -> None:
        while (req := take()) is not None:
            room = [i for i in alive if count[i] == 0 or load[i] + req.n <= inflight]
            if not room:
                held.append(req)
                return
            i = min(room, key=lambda j: (load[j], j))
            out[submit(i, req)] = (i, req)
            count[i] += 1
            load[i] += req.n

    last_loss: ReplicaLost | None = None
    try:
        fill()
        while out:
            for handle in wait(list(out)):
                i, req = out[handle]
                try:
                    result = collect(handle)
                except ReplicaLost as e:
                    del out[handle]
                    count[i] -= 1
                    load[i] -= req.n
                    redo.append(req)
                    if i in alive:
                        alive.discard(i)
                        last_loss = e
                        on_lost(i, e)
                    continue
                got = set(result.request.sample_indices)
                owed = req.part(x for x in req.sample_indices if x not in got)
                load[i] -= req.n - owed.n
                if owed.n:
                    out[handle] = (i, owed)
                else:
                    del out[handle]
                    count[i] -= 1
                yield result
            if not alive:
                raise RuntimeError(f"all {replicas} replica(s) died; the last: {last_loss}")
            fill()
    finally:
        if out and abandon is not None:
            abandon([(i, h) for h, (i, _) in out.items()])
