"""The driver: asks a backend for the missing samples of every problem, appends them.

Resume is the normal path: the run directory is read first and only the sample indices
not on disk yet are requested, so re-running a command after a crash, or with a larger
``-n`` or ``--limit``, generates exactly what is missing. Nothing is written before the
configuration is known to be valid and compatible with what the directory already holds.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from harness.core.backend import BACKENDS, Backend, BackendConfig, GenRequest, GenResult
from harness.core.config import RunConfig
from harness.core.errors import UsageError
from harness.core.manifest import RunManifest, check_compatible, new_manifest
from harness.core.records import Problem, Sample
from harness.core.store import RunStore
from harness.core.task import Task, get_task

ProgressFn = Callable[[int, int], None]  # (samples written now, completion tokens now)


@dataclass(frozen=True)
class Plan:
    """What a generate call has to do."""

    task: Task
    problems: list[Problem]
    manifest: RunManifest
    requests: list[GenRequest]

    @property
    def missing(self) -> int:
        return sum(r.n for r in self.requests)


def _check_writable(path: Path) -> None:
    probe = path
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
        raise UsageError(f"--out {path}: not writable ({probe} is not a writable directory)")


def plan_requests(
    problems: Sequence[Problem], have: dict[str, set[int]], n: int, chunk: int
) -> list[GenRequest]:
    """Requests for the sample indices in [0, n) missing per problem, ``chunk`` at a time.

    Each request covers consecutive indices only, so a backend that seeds sample ``i`` of a
    request as ``seed + (i - first)`` gives every sample index the same seed however the
    run was chunked, interrupted or resumed.
    """
    requests = []
    for p in problems:
        done = have.get(p.id, set())
        start = 0
        while start < n:
            if start in done:
                start += 1
                continue
            stop = start
            while stop < n and stop not in done and stop - start < chunk:
                stop += 1
            requests.append(GenRequest(p, tuple(range(start, stop))))
            start = stop
    return requests


def make_plan(cfg: RunConfig, store: RunStore) -> Plan:
    """Load the task, reconcile with the run directory, list the missing samples."""
    cfg.validate()
    task = get_task(
        cfg.task, data_file=cfg.data_file, seed=cfg.sampling.seed, options=cfg.task_options
    )
    BACKENDS.get(cfg.backend)  # an unknown backend is a one-line error before any work
    all_problems = task.load()
    problems = all_problems[: cfg.limit] if cfg.limit else all_problems
    if not problems:
        raise UsageError(f"task {cfg.task!r} has no problems")
    sampling = cfg.sampling
    manifest = new_manifest(
        store.root,
        task=cfg.task,
        model=cfg.model,
        backend=cfg.backend,
        n=cfg.n,
        problems=problems,
        all_problems=all_problems,
        verifier=cfg.verifier or task.default_verifier,
        sampling=sampling,
        limit=cfg.limit,
        task_options=task.record(),
        backend_options=dict(cfg.backend_options),
        chat=cfg.chat,
    )
    have: dict[str, set[int]] = {}
    if store.exists():
        existing = store.read_manifest()
        check_compatible(existing, manifest, store.root)
        have = store.sample_indices()
        manifest = manifest.replace(
            n=max(existing.n, cfg.n),
            num_problems=max(existing.num_problems, len(problems)),
            limit=None
            if existing.limit is None or cfg.limit is None
            else max(existing.limit, cfg.limit),
            created=existing.created,
            run_id=existing.run_id,
        )
        if manifest.num_problems > len(problems):
            problems = all_problems[: manifest.num_problems]
    else:
        _check_writable(store.root)
    return Plan(task, problems, manifest, plan_requests(problems, have, cfg.n, cfg.chunk))


def _samples(result_iter: Iterator[GenResult], store: RunStore, progress: ProgressFn | None) -> int:
    written = 0
    with store.sample_appender() as out:
        for result in result_iter:
            req = result.request
            seeds = result.sample_seeds()
            samples = [
                Sample(
                    problem_id=req.problem.id,
                    sample_index=idx,
                    text=comp.text,
                    prompt_tokens=result.prompt_tokens,
                    completion_tokens=comp.completion_tokens,
                    finish_reason=comp.finish_reason,
                    seed=seed,
                )
                for idx, comp, seed in zip(
                    req.sample_indices, result.completions, seeds, strict=True
                )
            ]
            out.write_batch(samples)
            written += len(samples)
            if progress is not None:
                progress(len(samples), sum(s.completion_tokens for s in samples))
    return written


def generate(
    cfg: RunConfig,
    backend: Backend | None = None,
    progress: ProgressFn | None = None,
    on_plan: Callable[[Plan], None] | None = None,
) -> RunStore:
    """Generate the missing samples of a run; returns its store.

    Args:
        cfg: The run configuration.
        backend: A ready backend (tests, benchmarks); by default one is built from ``cfg``.
        progress: Called after every written batch with (samples, completion tokens).
        on_plan: Called once the work is known (e.g. to size a progress bar).
    """
    store = RunStore(cfg.run_dir())
    plan = make_plan(cfg, store)
    # Build the backend before anything is written: a missing model is a clean error.
    if plan.requests and backend is None:
        backend = BACKENDS.create(
            cfg.backend,
            BackendConfig(
                model=cfg.model,
                sampling=plan.manifest.sampling,
                chat=cfg.chat,
                options=dict(cfg.backend_options),
                completion_stop=tuple(getattr(plan.task, "stop", ())),
            ),
        )
    try:
        with store:
            # Another process may have written since planning: plan again under the lock.
            have = store.sample_indices() if store.exists() else {}
            plan = replace(plan, requests=plan_requests(plan.problems, have, cfg.n, cfg.chunk))
            if on_plan is not None:
                on_plan(plan)
            manifest = plan.manifest
            if backend is not None:
                described = {f"backend.{k}": str(v) for k, v in backend.describe().items()}
                manifest = manifest.replace(versions={**manifest.versions, **described})
            store.write_manifest(manifest)
            store.write_problems(plan.problems)
            if plan.requests and backend is not None:
                _samples(backend.generate(iter(plan.requests)), store, progress)
    finally:
        if backend is not None:
            backend.close()
    return store
