"""``harness verify``: judge every sample of a run that its verifier has not judged yet.

Reads ``samples.jsonl`` and ``problems.jsonl``, appends to ``verdicts/<verifier>.jsonl``
and writes ``verdicts/<verifier>.meta.json`` (what the verifier was). Re-running judges
only what is missing, so verification can be interrupted, resumed or redone with another
verifier beside the first.
"""

from __future__ import annotations

import dataclasses
import json
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.core.errors import UsageError
from harness.core.records import Problem, Sample, Verdict
from harness.core.store import RunStore
from harness.core.task import TASKS
from harness.core.verifier import VERIFIERS, Verifier

ProgressFn = Callable[[Sequence[Verdict]], None]  # the verdicts just written


def run_verifier(store: RunStore) -> str:
    """The verifier a run is judged by unless told otherwise (its manifest says)."""
    manifest = store.read_manifest()
    if manifest.verifier:
        return manifest.verifier
    # Manifests written before the verifier was recorded: the task's default.
    return str(TASKS.get(manifest.task).default_verifier)


def load_verifier(name: str, options: Mapping[str, Any] | None = None) -> Verifier:
    """Build the verifier ``name`` and check that it can run here, before any work.

    Raises:
        UsageError: unknown verifier, a bad option, or a sandbox that cannot start.
    """
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
    store: RunStore, verifier: Verifier, name: str
) -> tuple[list[tuple[Problem, list[Sample]]], Done]:
    """(problem, samples) items still to verify, and the keys already judged in each
    verdict file (the verifier's own, keyed by its name, and its derived ones)."""
    problems = {p.id: p for p in store.read_problems()}
    if not problems:
        raise UsageError(f"{store.root} has no problems.jsonl: not a complete run directory")
    derived = {d for p in problems.values() for d in verifier.derived_names(p)}
    done: Done = {name: store.verdict_keys(name)}
    done.update({f"{name}_{d}": store.verdict_keys(f"{name}_{d}") for d in derived})
    by_problem: dict[str, dict[int, Sample]] = defaultdict(dict)
    for s in store.iter_samples():
        by_problem[s.problem_id][s.sample_index] = s
    items = []
    for pid, samples in by_problem.items():
        if pid not in problems:
            raise UsageError(f"{store.samples_path}: sample of unknown problem {pid!r}")
        ordered = [samples[i] for i in sorted(samples)]
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


def verify(
    run: RunStore | Path | str,
    verifier: str | None = None,
    options: Mapping[str, Any] | None = None,
    progress: ProgressFn | None = None,
    on_start: Callable[[int], None] | None = None,
    impl: Verifier | None = None,
) -> VerifyResult:
    """Judge every sample not yet judged by ``verifier``; appends to its verdicts file.

    Args:
        run: The run directory (or its open store).
        verifier: Verifier name (default: the run's).
        options: Verifier options.
        progress: Called with the verdicts of each written batch.
        on_start: Called once with the number of samples still to judge.
        impl: A verifier already built by ``load_verifier`` (it is closed here).
    """
    store = run if isinstance(run, RunStore) else RunStore(run)
    name = verifier or (impl.name if impl is not None else run_verifier(store))
    impl = impl or load_verifier(name, options)
    written = shared = 0
    runs: set[tuple[str, int]] = set()
    try:
        with store:
            items, done = _work(store, impl, name)
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
            info = {"verifier": name, **impl.describe()}
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
        impl.close()
    return VerifyResult(name, store.verdicts_path(name), written, shared, len(runs))
