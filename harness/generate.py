"""The driver: asks a backend for the missing samples of every problem, appends them.

Resume is the normal path: the run directory is read first and only the sample indices
not on disk yet are requested, so re-running a command after a crash, or with a larger
``-n`` or ``--limit``, generates exactly what is missing. Nothing is written before the
configuration is known to be valid and compatible with what the directory already holds.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from harness.core.backend import (
    BACKENDS,
    Backend,
    BackendConfig,
    GenRequest,
    GenResult,
    stream_of,
)
from harness.core.config import RESULTS, RunConfig
from harness.core.errors import UsageError
from harness.core.interrupts import Interrupted
from harness.core.manifest import RunManifest, check_compatible, new_manifest
from harness.core.options import build
from harness.core.processes import descendants, stop
from harness.core.records import Problem, Sample
from harness.core.store import RunStore
from harness.core.task import Task, get_task
from harness.core.terminal import engine_log
from harness.models import check_model

ProgressFn = Callable[[Sequence[Sample]], None]  # the samples just written
EngineFn = Callable[[str, Path | None], None]  # ("starting" | "ready", engine log)


@dataclass(frozen=True)
class Plan:
    """What a generate call has to do.

    Attributes:
        store: The run directory chosen (``--out``, a resumed run, or a new one).
        resumed: Whether the directory already held this run.
    """

    task: Task
    problems: list[Problem]
    manifest: RunManifest
    requests: list[GenRequest]
    store: RunStore
    resumed: bool = False
    have: dict[str, set[int]] = field(default_factory=dict)

    @property
    def missing(self) -> int:
        return sum(r.n for r in self.requests)

    @property
    def total(self) -> int:
        return len(self.problems) * self.manifest.n

    @property
    def present(self) -> int:
        """Samples of the planned problems (indices below N) already on disk."""
        n = self.manifest.n
        return sum(sum(1 for i in self.have.get(p.id, ()) if i < n) for p in self.problems)


def _check_writable(path: Path) -> None:
    """Create (and remove) a folder where the run directory would go: the one honest test."""
    probe = path
    while not probe.exists():
        probe = probe.parent
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".harness-probe-", dir=probe))
    except OSError as e:
        raise UsageError(
            f"--out {path}: not writable (cannot write in {probe}: {e.strerror or e})"
        ) from None


def check_backend(cfg: RunConfig) -> None:
    """The backend exists, its options are valid and its model can be found: all before
    any engine starts (one-line errors, within a second)."""
    cls = BACKENDS.get(cfg.backend)
    options = getattr(cls, "Options", None)
    if options is not None:
        build(options, cfg.backend_options, f"backend {cfg.backend!r}")
    if getattr(cls, "local_model", False):
        check_model(cfg.model)


def find_resumable(results: Path, wanted: RunManifest) -> Path | None:
    """The most recent run directory under ``results`` that this configuration continues."""
    found: list[tuple[str, float, Path]] = []
    if not results.is_dir():
        return None
    for candidate in results.iterdir():
        store = RunStore(candidate)
        if not store.exists():
            continue
        try:
            existing = store.read_manifest()
            check_compatible(existing, wanted, candidate)
        except UsageError:
            continue
        found.append((existing.created, store.manifest_path.stat().st_mtime, candidate))
    return max(found)[2] if found else None


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


def make_plan(cfg: RunConfig, store: RunStore | None = None) -> Plan:
    """Load the task, choose and reconcile the run directory, list the missing samples.

    Without ``cfg.out`` (and without ``cfg.new``) the most recent compatible run under
    ``results/`` is resumed; otherwise a new directory is made there.
    """
    cfg.validate()
    task = get_task(
        cfg.task, data_file=cfg.data_file, seed=cfg.sampling.seed, options=cfg.task_options
    )
    check_backend(cfg)
    all_problems = task.load()
    problems = all_problems[: cfg.limit] if cfg.limit else all_problems
    if not problems:
        raise UsageError(f"task {cfg.task!r} has no problems")
    sampling = cfg.sampling
    manifest = new_manifest(
        cfg.run_dir(),
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
    if store is None:
        found = None if cfg.out is not None or cfg.new else find_resumable(RESULTS, manifest)
        store = RunStore(found or cfg.run_dir())
    manifest = manifest.replace(run_id=store.root.name)
    have: dict[str, set[int]] = {}
    resumed = store.exists()
    if resumed:
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
    requests = plan_requests(problems, have, cfg.n, cfg.chunk)
    return Plan(task, problems, manifest, requests, store, resumed, have)


def _samples(result_iter: Iterator[GenResult], store: RunStore, progress: ProgressFn | None) -> int:
    """Append each result's samples the moment it arrives; returns how many were written."""
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
                    mean_logprob=comp.mean_logprob,
                )
                for idx, comp, seed in zip(
                    req.sample_indices, result.completions, seeds, strict=True
                )
            ]
            out.write_batch(samples)
            written += len(samples)
            if progress is not None:
                progress(samples)
    return written


def engine_log_path(store: RunStore) -> Path:
    """Where a run's engine output goes (vLLM, torch, Ray, transformers)."""
    return store.root / "logs" / "engine.log"


def _build_backend(cfg: RunConfig, plan: Plan) -> Backend:
    return BACKENDS.create(
        cfg.backend,
        BackendConfig(
            model=cfg.model,
            sampling=plan.manifest.sampling,
            chat=cfg.chat,
            options=dict(cfg.backend_options),
            completion_stop=tuple(getattr(plan.task, "stop", ())),
        ),
    )


def _forget_new_run(store: RunStore, log: Path | None, keep_log: bool) -> None:
    """A new run directory that never got a manifest: remove what the engine start left
    (its log only when nothing needs it), so no empty run is left behind."""
    if store.exists():
        return
    if log is not None and not keep_log:
        log.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            log.parent.rmdir()
    with contextlib.suppress(OSError):
        store.root.rmdir()


def generate(
    cfg: RunConfig,
    backend: Backend | None = None,
    progress: ProgressFn | None = None,
    on_plan: Callable[[Plan], None] | None = None,
    on_engine: EngineFn | None = None,
    quiet: bool = False,
) -> RunStore:
    """Generate the missing samples of a run; returns its store.

    Args:
        cfg: The run configuration.
        backend: A ready backend (tests, benchmarks); by default one is built from ``cfg``.
        progress: Called with the samples of every written batch (one sample, or the
            samples of one request that finished together).
        on_plan: Called with the work to do: once before the engine starts, and again
            just before generating when another process changed it meanwhile.
        on_engine: Told ``("starting", log)`` before the backend is built and
            ``("ready", log)`` once it is (``log``: where its output goes, or None).
        quiet: Send the output of an engine-loading backend (vLLM, torch, Ray) to
            ``DIR/logs/engine.log`` instead of the terminal.
    """
    plan = make_plan(cfg)
    store = plan.store
    if on_plan is not None:
        on_plan(plan)
    existed = store.root.exists()
    with contextlib.ExitStack() as stack:
        log: Path | None = None
        if plan.requests and backend is None:
            loads = getattr(BACKENDS.get(cfg.backend), "local_model", False)
            log = engine_log_path(store) if quiet and loads else None
            if on_engine is not None:
                on_engine("starting", log)
            before = descendants()
            try:
                stack.enter_context(engine_log(log))
                backend = _build_backend(cfg, plan)
            except BaseException as e:
                # An engine that did not finish starting shuts nothing down: its processes.
                stop(descendants() - before)
                stack.close()
                if not existed:
                    keep = not isinstance(e, UsageError | KeyboardInterrupt | Interrupted)
                    _forget_new_run(store, log, keep_log=keep)
                raise
            if on_engine is not None:
                on_engine("ready", log)
        if backend is not None:
            stack.callback(backend.close)  # runs before the engine log is closed
        with store:
            # Another process may have written since planning: plan again under the lock.
            have = store.sample_indices() if store.exists() else {}
            again = plan_requests(plan.problems, have, cfg.n, cfg.chunk)
            if again != plan.requests:
                plan = replace(plan, requests=again, have=have)
                if on_plan is not None:
                    on_plan(plan)
            manifest = plan.manifest
            if backend is not None:
                described = {f"backend.{k}": str(v) for k, v in backend.describe().items()}
                manifest = manifest.replace(versions={**manifest.versions, **described})
            store.write_manifest(manifest)
            store.write_problems(plan.problems)
            if plan.requests and backend is not None:
                results = stream_of(backend)(iter(plan.requests))
                try:
                    _samples(results, store, progress)
                finally:
                    # Stopped early (Ctrl-C, an error): the backend drops what is still
                    # running now, while its engine is up, not when the stream is collected.
                    close = getattr(results, "close", None)
                    if close is not None:
                        close()
    return store
