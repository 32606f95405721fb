"""Random sequences of import / generate / kill / resume / verify / analyze on one run
directory (scripted backend): the analysed (problem, index) set is always the set on disk,
no sample is ever held twice, and every partial state is refused or labelled."""

from __future__ import annotations

import contextlib
import json
import tempfile
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from harness.analyze import AnalysisSettings, analyze
from harness.backends.scripted import ScriptedBackend
from harness.core.backend import BackendConfig, GenRequest, GenResult
from harness.core.config import RunConfig
from harness.core.errors import UsageError
from harness.core.records import SamplingConfig
from harness.core.store import DuplicateWarning, RunStore, TornLineWarning
from harness.core.task import get_task
from harness.generate import generate
from harness.ingest.samples import import_samples
from harness.verify import verify

PROBLEMS = 3
TASK_OPTIONS = {"count": str(PROBLEMS)}
REFERENCES = {p.id: p.reference or "" for p in get_task("arith", options=TASK_OPTIONS).load()}


class Killed(KeyboardInterrupt):
    """Stands for a Ctrl-C / kill arriving while the backend works."""


class DyingBackend(ScriptedBackend):
    """Gives ``survive`` results, then dies as a killed process would."""

    def __init__(self, config: BackendConfig, survive: int) -> None:
        super().__init__(config)
        self.survive = survive

    def generate(self, requests: Iterable[GenRequest]) -> Iterator[GenResult]:
        for i, result in enumerate(super().generate(requests)):
            if i == self.survive:
                raise Killed
            yield result


def config(run: Path, n: int, limit: int) -> RunConfig:
    return RunConfig(
        task="arith",
        backend="scripted",
        n=n,
        limit=limit,
        out=run,
        sampling=SamplingConfig(seed=0),
        task_options=TASK_OPTIONS,
        chunk=2,
    )


def disk_keys(path: Path) -> list[tuple[str, int]]:
    """(problem, index) of every complete line of a run file, repeats included."""
    if not path.exists():
        return []
    keys = []
    for line in path.read_bytes().split(b"\n"):
        try:
            row = json.loads(line)
        except ValueError:
            continue  # a torn last line is no sample
        keys.append((str(row["problem_id"]), int(row["sample_index"])))
    return keys


ops = st.one_of(
    st.tuples(st.just("generate"), st.integers(1, 4), st.integers(1, PROBLEMS)),
    st.tuples(st.just("kill"), st.integers(1, 4), st.integers(0, 3)),
    st.tuples(st.just("tear"), st.sampled_from(["samples", "verdicts"])),
    st.tuples(st.just("import"), st.integers(0, 3), st.booleans(), st.booleans(), st.booleans()),
    st.tuples(st.just("verify"), st.none() | st.integers(0, 12)),
)


class Run:
    """One run directory and what the test knows must hold for it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.store = RunStore(root)
        self.ever: set[tuple[str, int]] = set()

    def apply(self, op: tuple[Any, ...]) -> None:
        kind = op[0]
        if kind in ("generate", "kill"):
            cfg = config(self.root, op[1], op[2] if kind == "generate" else PROBLEMS)
            backend = BackendConfig("m", cfg.sampling)
            with self.refused_writes_nothing():
                if kind == "generate":
                    generate(cfg, backend=ScriptedBackend(backend))
                else:
                    with contextlib.suppress(Killed):  # (with fewer results due, none dies)
                        generate(cfg, backend=DyingBackend(backend, op[2]))
        elif kind == "tear" and self.store.exists():
            path = (
                self.store.samples_path if op[1] == "samples" else self.store.verdicts_path("exact")
            )
            if path.exists():
                with path.open("ab") as f:  # kill -9 in the middle of a write
                    f.write(b'{"problem_id": "0", "sample_ind')
        elif kind == "import":
            self._import(*op[1:])
        elif kind == "verify" and self.store.exists():
            self._verify(op[1])

    def _import(self, lines: int, indexed: bool, append: bool, other_text: bool) -> None:
        src = self.root.parent / "import.jsonl"
        rows = []
        for p in range(PROBLEMS):
            for i in range(lines):
                # The scripted backend answers each problem's reference: the same text as
                # generated samples, or another one.
                text = f"x{p}" if other_text else REFERENCES[str(p)]
                row: dict[str, Any] = {"problem_id": str(p), "text": text}
                if indexed:
                    row["sample_index"] = i
                rows.append(row)
        src.write_text("".join(json.dumps(r) + "\n" for r in rows))
        with self.refused_writes_nothing():
            import_samples(src, "arith", self.root, task_options=TASK_OPTIONS, append=append)

    @contextlib.contextmanager
    def refused_writes_nothing(self) -> Iterator[None]:
        """A refused command (a conflicting run, an empty file) leaves the samples as they were."""

        def content() -> bytes:
            path = self.store.samples_path
            return path.read_bytes() if path.exists() else b""

        before = content()
        try:
            yield
        except UsageError:
            assert content() == before

    def _verify(self, keep: int | None) -> None:
        if not self.store.samples_path.exists():
            return
        verify(self.root, "exact")
        path = self.store.verdicts_path("exact")
        lines = path.read_text().splitlines()
        if keep is None:
            return
        # Killed during verification: only the first `keep` verdicts made it to disk.
        path.write_text("".join(x + "\n" for x in lines[:keep]))

    def analyze(self, partial: bool) -> bool:
        """Analyse as a user would; False when the analysis was refused as partial."""
        held = set(disk_keys(self.store.samples_path))
        judged = set(disk_keys(self.store.verdicts_path("exact"))) & held
        try:
            result = analyze(self.root, "exact", AnalysisSettings(n_boot=20), partial=partial)
        except UsageError as e:
            message = str(e)
            if not judged:
                event("analyze: nothing judged yet")
                return True  # nothing judged yet: "run harness verify first"
            assert judged != held and not partial and "--partial" in message, message
            event("analyze: partial refused")
            return False
        summary = result.summary
        # The analysed set is the set on disk: counted once each, and all of it unless
        # the analysis says it is partial.
        assert summary["held"]["samples"] == len(held)
        assert summary["judged"]["exact"]["samples"] == len(judged)
        if judged == held:
            event("analyze: complete")
            assert summary["partial"] is None
        else:
            event("analyze: partial, labelled")
            assert partial and summary["partial"].startswith("partial: exact judged")
            assert f"{len(judged)} of {len(held)} samples" in summary["partial"]
        return True

    def check(self) -> None:
        keys = disk_keys(self.store.samples_path)
        raw = set(keys)
        # What was once written is never lost; each (problem, index) is read once.
        assert self.ever <= raw
        self.ever |= raw
        read = [(s.problem_id, s.sample_index) for s in self.store.iter_samples()]
        assert len(read) == len(set(read)) == len(raw)
        # New writes never repeat a (problem, index): duplicates can only come from outside.
        assert len(keys) == len(raw)
        if self.store.verdicts_path("exact").exists() and not self.analyze(partial=False):
            assert self.analyze(partial=True)


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.lists(ops, min_size=1, max_size=12))
def test_random_sequences_keep_one_sample_per_index_and_label_partial_states(
    sequence: list[tuple[Any, ...]],
) -> None:
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore", TornLineWarning)
        warnings.simplefilter("error", DuplicateWarning)  # the harness never makes one
        run = Run(Path(tmp) / "run")
        for op in sequence:
            run.apply(op)
            run.check()
