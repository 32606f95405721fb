"""``harness verify``: judge every sample of a run that its verifier has not judged yet.

Reads ``samples.jsonl`` and ``problems.jsonl``, appends to ``verdicts/<verifier>.jsonl``
and writes ``verdicts/<verifier>.meta.json`` (what the verifier was). Re-running judges
only what is missing, so verification can be interrupted, resumed or redone with another
verifier beside the first.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.core.backend import BACKENDS, Backend, BackendConfig
from harness.core.errors import UsageError
from harness.core.judgements import JudgementLog
from harness.core.options import build
from harness.core.records import Problem, Sample, Verdict
from harness.core.store import RunStore
from harness.core.task import TASKS
from harness.core.verifier import VERIFIERS, Verifier
from harness.models import check_model

ProgressFn = Callable[[Sequence[Verdict]], None]  # the verdicts just written


def run_verifier(store: RunStore) -> str:
    """The verifier a run is judged by unless told otherwise (its manifest says)."""
    manifest = store.read_manifest()
    if manifest.verifier:
        return manifest.verifier
    # Manifests written before the verifier was recorded: the task's default.
    return str(TASKS.get(manifest.task).default_verifier)


_LABEL = re.compile(r"^[A-Za-z0-9_.-]+$")


def plugin_of(name: str) -> str:
    """The verifier plugin behind a run's verifier name: ``judge@sampled`` is ``judge``
    kept under a name of its own (its own verdicts, judgements and selection columns), so
    one run can hold two configurations of one verifier.

    Raises:
        UsageError: a label that cannot be part of a file name.
    """
    plugin, sep, label = name.partition("@")
    if sep and not _LABEL.match(label):
        raise UsageError(f"--verifier {name}: the label after @ may use letters, digits, _ . -")
    return plugin


def load_verifier(name: str, options: Mapping[str, Any] | None = None) -> Verifier:
    """Build the verifier ``name`` (``plugin`` or ``plugin@label``) and check that it can
    run here, before any work.

    Raises:
        UsageError: unknown verifier, a bad option, or a sandbox that cannot start.
    """
    name = plugin_of(name)
    cls = VERIFIERS.get(name)
    fields = {f.name for f in dataclasses.fields(cls.Options)}
    if options and "sandbox" in options and "sandbox" not in fields:
        raise UsageError(
            f"--sandbox applies to verifiers that run code (unit_tests), not to {name!r}"
        )
    impl = VERIFIERS.create(name, options=options)
    try:
        impl.check()
    except BaseException:
        impl.close()
        raise
    return impl


Done = dict[str, set[tuple[str, int]]]


def _work(
    store: RunStore, verifier: Verifier, name: str, limit: int | None = None
) -> tuple[list[tuple[Problem, list[Sample]]], Done]:
    """(problem, samples) items still to verify, and the keys already judged in each
    verdict file (the verifier's own, keyed by its name, and its derived ones).

    Args:
        limit: Judge only the first ``limit`` samples (by index) of each problem.
    """
    problems = {p.id: p for p in store.read_problems()}
    if not problems:
        raise UsageError(f"{store.root} has no problems.jsonl: not a complete run directory")
    derived = {d for p in problems.values() for d in verifier.derived_names(p)}
    done: Done = {name: store.verdict_keys(name)}
    done.update({f"{name}_{d}": store.verdict_keys(f"{name}_{d}") for d in derived})
    by_problem: dict[str, dict[int, Sample]] = defaultdict(dict)
    for s in store.iter_samples():
        by_problem[s.problem_id][s.sample_index] = s
    if limit is not None and by_problem:
        fewest = min(by_problem.items(), key=lambda kv: len(kv[1]))
        if len(fewest[1]) < limit:
            raise UsageError(
                f"-n {limit}: problem {fewest[0]} has only {len(fewest[1])} samples in "
                f"{store.root}; give -n {len(fewest[1])} or fewer, or generate more first"
            )
    items = []
    for pid, samples in by_problem.items():
        if pid not in problems:
            raise UsageError(f"{store.samples_path}: sample of unknown problem {pid!r}")
        ordered = [samples[i] for i in sorted(samples)][:limit]
        files = [name] + [f"{name}_{d}" for d in verifier.derived_names(problems[pid])]
        todo = [s for s in ordered if any((pid, s.sample_index) not in done[f] for f in files)]
        if not todo:
            continue
        # Verifiers that number answer classes see the whole problem in sample order so
        # the numbering of samples judged earlier stays the same (prefix-stable).
        items.append((problems[pid], ordered if verifier.needs_context else todo))
    return items, done


@dataclass(frozen=True)
class VerifyResult:
    """What a verify call wrote.

    Attributes:
        shared: New verdicts judged with another sample's run (an identical program).
        runs: Distinct runs behind the new verdicts that record ``judged_with``.
    """

    verifier: str
    path: Path
    new_verdicts: int
    shared: int = 0
    runs: int = 0

    @property
    def duplicate_rate(self) -> float:
        """Share of the new verdicts that reused another sample's run."""
        return self.shared / self.new_verdicts if self.new_verdicts else 0.0


def build_backend(name: str, config: BackendConfig) -> Backend:
    """The backend a model-based verifier asks for; every check a user can fail (unknown
    backend, bad option, missing model, a model the engine cannot load) is one line."""
    cls = BACKENDS.get(name)
    if getattr(cls, "Options", None) is not None:
        build(cls.Options, config.options, f"backend {name!r}")
    if getattr(cls, "local_model", False):
        check_model(config.model)
    return BACKENDS.create(name, config)


def verify(
    run: RunStore | Path | str,
    verifier: str | None = None,
    options: Mapping[str, Any] | None = None,
    progress: ProgressFn | None = None,
    on_start: Callable[[int], None] | None = None,
    impl: Verifier | None = None,
    backend: Backend | None = None,
    limit: int | None = None,
    on_judgements: Callable[[int], None] | None = None,
) -> VerifyResult:
    """Judge every sample not yet judged by ``verifier``; appends to its verdicts file.

    A verifier that asks a model (judge, pairwise) gets a backend built from its options,
    or ``backend`` when given (an engine shared with generation: it is not closed here),
    and keeps every call in ``judgements/<verifier>.jsonl``: a resumed verify asks only
    the calls not on disk.

    Args:
        run: The run directory (or its open store).
        verifier: Verifier name (default: the run's).
        options: Verifier options.
        progress: Called with the verdicts of each written batch.
        on_start: Called once with the number of samples still to judge.
        impl: A verifier already built by ``load_verifier`` (it is closed here).
        backend: A ready backend for a model-based verifier.
        limit: Judge only the first ``limit`` samples of each problem (``-n``).
        on_judgements: Called with the number of judge calls written at each flush.
    """
    store = run if isinstance(run, RunStore) else RunStore(run)
    name = verifier or (impl.name if impl is not None else run_verifier(store))
    impl = impl or load_verifier(name, options)
    written = shared = 0
    runs: set[tuple[str, int]] = set()
    own: Backend | None = None
    log: JudgementLog | None = None
    try:
        with store:
            items, done = _work(store, impl, name, limit)
            if items:
                # Checked and built before anything is written: a conflicting judge log or
                # a model that cannot load leaves the run directory as it was.
                config = impl.judgement_config()
                if config is not None:
                    log = JudgementLog(store.root, name, config, progress=on_judgements)
                    log.check()
                wanted = impl.backend_request()
                if wanted is not None and backend is None:
                    own = build_backend(*wanted)
                impl.bind(backend or own, log.open() if log is not None else None)
            if on_start is not None:
                on_start(
                    sum(1 for p, s in items for x in s if (p.id, x.sample_index) not in done[name])
                )
            outs = {f: store.verdict_appender(f) for f in done}
            by_id = {problem.id: problem for problem, _ in items}
            try:
                for verdicts in impl.verify_many(iter(items)):
                    files = {name: verdicts}
                    if verdicts:
                        problem = by_id[verdicts[0].problem_id]
                        for d, extra in impl.derived(problem, verdicts).items():
                            files[f"{name}_{d}"] = extra
                    if log is not None:
                        log.flush()  # a verdict is never on disk before its judgements
                    for f, batch in files.items():
                        new = [v for v in batch if (v.problem_id, v.sample_index) not in done[f]]
                        outs[f].write_batch(new)
                        if f != name:
                            continue
                        written += len(new)
                        for v in new:
                            if v.judged_with is not None:
                                runs.add((v.problem_id, v.judged_with))
                                shared += v.judged_with != v.sample_index
                        if progress is not None:
                            progress(new)
            finally:
                for out in outs.values():
                    out.close()
            info = {**impl.describe(), "verifier": name, "plugin": impl.name}
            if limit is not None:
                info["samples_per_problem"] = limit
            (store.root / "verdicts" / f"{name}.meta.json").write_text(
                json.dumps(info, indent=2, default=str) + "\n"
            )
            for f in (f for f in done if f != name):
                derived = impl.describe_derived(f[len(name) + 1 :])
                meta = {"verifier": f, "weak_of": name, **derived}
                (store.root / "verdicts" / f"{f}.meta.json").write_text(
                    json.dumps(meta, indent=2, default=str) + "\n"
                )
            manifest = store.read_manifest()
            if "sandbox" in info and manifest.sandbox != info["sandbox"]:
                # How untrusted code ran is part of what produced the results.
                store.write_manifest(manifest.replace(sandbox=str(info["sandbox"])))
    finally:
        if log is not None:
            log.close()
        if own is not None:
            own.close()
        impl.close()
    return VerifyResult(name, store.verdicts_path(name), written, shared, len(runs))
