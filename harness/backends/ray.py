"""``ray``: data-parallel sampling with one vLLM engine per replica on a Ray cluster.

The backend starts a local Ray instance (the default) or connects to a running cluster
(``address=auto`` or ``ray://head:10001``), starts ``replicas`` actors that each hold a
``vllm`` backend built from the same configuration, and spreads the requests over them
(``harness.backends._dispatch``): each replica keeps up to ``inflight`` samples, takes new
requests into its running batch as they arrive (``_ray_replica.EnginePump``) and hands every
result back the moment it is done; the driver collects them with ``ray.wait``. Seeds come
from the request (see ``harness.backends.vllm``), so a sample is the same whichever replica drew it,
and a run can be resumed with another backend. A replica that dies has its unfinished
requests re-sent to the others.

Options (``--backend-opt KEY=VALUE``): ``address`` (default: ``$RAY_ADDRESS``, which
``ray job submit`` sets, else ``local``: start a private instance), ``replicas`` (default:
one per ``num_gpus_per_replica`` GPUs in the cluster, else 1), ``num_gpus_per_replica``
(default 1 when the cluster has GPUs, else 0; above 1 it is the tensor-parallel size,
below 1 replicas share a GPU and each gets that share of its memory),
``num_cpus_per_replica`` (default 1 with GPUs, else the CPUs split evenly: vLLM's CPU build
uses as many threads as the replica gets), ``inflight`` (samples per replica, 2048), and
for a local instance ``num_cpus``, ``object_store_mb`` (256: only prompts and texts
travel) and ``temp_dir``. Every ``vllm`` backend option is passed on to the replicas.
Workers of a remote cluster need this package and vLLM installed.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import socket
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, fields
from typing import Any

from harness.backends._dispatch import ReplicaLost, dispatch
from harness.backends._ray_replica import ReplicaActor, StepEngine
from harness.backends.vllm import VLLMOptions, parse_options
from harness.core.backend import BackendConfig, GenRequest, GenResult, gather
from harness.core.errors import UsageError
from harness.core.options import option
from harness.core.terminal import notice


@dataclass(frozen=True)
class RayOptions(VLLMOptions):
    """``--backend-opt`` of the ``ray`` backend; every ``vllm`` option passes through."""

    address: str | None = option(None, "local (default), auto or ray://head:10001")
    replicas: int | None = option(None, "vLLM replicas (default: one per GPU, else 1)", min=1)
    num_gpus_per_replica: float | None = option(
        None, "GPUs per replica (above 1: tensor parallel)", min=0
    )
    num_cpus_per_replica: float | None = option(None, "CPUs per replica", min=0, exclusive=True)
    inflight: int | None = option(None, "samples per replica (default 2048)", min=1)
    num_cpus: int | None = option(None, "CPUs of a local Ray instance", min=1)
    object_store_mb: int | None = option(  # Ray refuses less than 75 MB
        None, "object store of a local instance, MB (default 256)", min=75
    )
    temp_dir: str | None = option(None, "temp folder of a local Ray instance")


RAY_OPTIONS = frozenset(f.name for f in fields(RayOptions)) - {f.name for f in fields(VLLMOptions)}
LOCAL_ONLY = ("num_cpus", "object_store_mb", "temp_dir")
DEFAULT_INFLIGHT = 2048  # samples per replica: a full vLLM batch plus the next one queued
DEFAULT_OBJECT_STORE_MB = 256
INSTALL_HINT = "pip install 'scaling-harness[ray]'"


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def _probe(address: str, doing: str, timeout: float = 5.0) -> None:
    """Fail in seconds, not minutes, when ``host:port`` does not answer (Ray keeps retrying)."""
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not port.isdigit() or address == "auto":
        return  # "auto" or a form Ray resolves itself
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as e:
        raise UsageError(f"backend ray: {doing}: {e.strerror or e}") from None


def split_options(options: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Check and coerce the options; returns (Ray options, options for the vllm replicas)."""
    opts = parse_options(options, RayOptions, backend="ray")
    ray_opts = {k: v for k, v in opts.items() if k in RAY_OPTIONS}
    engine_opts = {k: v for k, v in opts.items() if k not in RAY_OPTIONS}
    gpus = ray_opts.get("num_gpus_per_replica")
    if gpus is not None and gpus > 1 and gpus != int(gpus):
        raise UsageError(
            f"--backend-opt num_gpus_per_replica must be a fraction of one GPU or a whole "
            f"number of GPUs, got {gpus:g}"
        )
    address = ray_opts.setdefault("address", os.environ.get("RAY_ADDRESS") or "local")
    local_set = [k for k in LOCAL_ONLY if k in ray_opts]
    if address != "local" and local_set:
        raise UsageError(
            f"--backend-opt {local_set[0]} only applies to a local Ray instance, not to "
            f"address={address}"
        )
    tp = engine_opts.get("tensor_parallel_size")
    if tp is not None:
        if gpus is None:
            ray_opts["num_gpus_per_replica"] = float(tp)
        elif tp != max(1, int(gpus)):
            raise UsageError(
                f"--backend-opt tensor_parallel_size={tp} does not match "
                f"num_gpus_per_replica={gpus:g}"
            )
    return ray_opts, engine_opts


class RayBackend:
    """Replicas of the ``vllm`` backend on a Ray cluster, fed by one driver.

    Args:
        config: The run's backend configuration.
        make_engine: Builds each replica's engine (default: the ``vllm`` backend); tests
            pass a fake. It is shipped to the replicas, so it must pickle.
    """

    name = "ray"
    Options = RayOptions
    local_model = True

    def __init__(
        self,
        config: BackendConfig,
        make_engine: Callable[[BackendConfig], StepEngine] | None = None,
    ) -> None:
        self.config = config
        ray_opts, engine_opts = split_options(dict(config.options))
        try:
            import ray
        except ImportError:
            raise UsageError(f"backend 'ray' needs Ray: {INSTALL_HINT}") from None
        self._ray = ray
        self.actors: list[Any] = []
        self._ready = False  # every replica's engine is up
        self.address = str(ray_opts["address"])
        self._owns_connection = self._connect(ray_opts)
        try:
            self._plan(ray_opts)
            replica_config = BackendConfig(
                model=config.model,
                sampling=config.sampling,
                chat=config.chat,
                options=replica_options(engine_opts, self.num_gpus_per_replica),
                completion_stop=config.completion_stop,
            )
            self.replica_description = self._start(replica_config, make_engine)
            self._ready = True
        except BaseException:
            self.close()
            raise

    # -- setup -----------------------------------------------------------------------------
    def _connect(self, opts: dict[str, Any]) -> bool:
        """Start or join a cluster; True when this backend opened the connection."""
        ray = self._ray
        if ray.is_initialized():  # the caller set Ray up (Python API): use it as it is
            self.address = "existing connection"
            return False
        kwargs: dict[str, Any] = {"include_dashboard": False, "logging_level": "warning"}
        if self.address == "local":
            # A private, short-lived instance: no usage reporting.
            os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
            mb = opts.get("object_store_mb", DEFAULT_OBJECT_STORE_MB)
            kwargs.update(address="local", object_store_memory=mb * 2**20)
            if "num_cpus" in opts:  # else Ray counts them (within the container's quota)
                kwargs["num_cpus"] = opts["num_cpus"]
            if "temp_dir" in opts:
                kwargs["_temp_dir"] = os.path.abspath(opts["temp_dir"])
            doing = "cannot start a local Ray instance"
        else:
            del kwargs["include_dashboard"]  # the cluster decided that
            kwargs["address"] = self.address
            doing = f"cannot connect to the Ray cluster at {self.address}"
            _probe(self.address, doing)
        try:
            ray.init(**kwargs)
        except (ConnectionError, OSError, RuntimeError, ValueError, TimeoutError) as e:
            raise UsageError(f"backend ray: {doing}: {_first_line(e)}") from None
        return True

    def _plan(self, opts: dict[str, Any]) -> None:
        """Decide replicas and their resources from the options and the cluster."""
        ray = self._ray
        res = ray.cluster_resources()
        nodes = [n for n in ray.nodes() if n.get("Alive")]
        self.cluster_cpus = float(res.get("CPU", 0))
        self.cluster_gpus = float(res.get("GPU", 0))
        self.cluster_nodes = len(nodes)
        self.accelerators = sorted(
            k.split(":", 1)[1] for k in res if k.startswith("accelerator_type:")
        )
        gpus = float(opts.get("num_gpus_per_replica", 1.0 if self.cluster_gpus else 0.0))
        replicas = int(opts.get("replicas", replicas_for(gpus, self.cluster_gpus)))
        node_cpus = max((float(n["Resources"].get("CPU", 0)) for n in nodes), default=0.0)
        default_cpus = 1.0 if gpus > 0 else max(1.0, min(node_cpus, self.cluster_cpus // replicas))
        cpus = float(opts.get("num_cpus_per_replica", default_cpus))
        if replicas * gpus > self.cluster_gpus + 1e-9:
            raise UsageError(
                f"backend ray: {replicas} replica(s) x {gpus:g} GPU need "
                f"{replicas * gpus:g} GPU(s); the cluster has {self.cluster_gpus:g}"
            )
        if replicas * cpus > self.cluster_cpus + 1e-9:
            raise UsageError(
                f"backend ray: {replicas} replica(s) x {cpus:g} CPU need {replicas * cpus:g} "
                f"CPUs; the cluster has {self.cluster_cpus:g} (set num_cpus_per_replica)"
            )
        self.replicas = replicas
        self.num_gpus_per_replica = gpus
        self.num_cpus_per_replica = cpus
        self.inflight = int(opts.get("inflight", DEFAULT_INFLIGHT))

    def _start(
        self, config: BackendConfig, make_engine: Callable[[BackendConfig], StepEngine] | None
    ) -> dict[str, Any]:
        """Start the replicas (engines load in parallel); returns the first one's facts."""
        ray = self._ray
        actor_cls = ray.remote(ReplicaActor).options(
            num_cpus=self.num_cpus_per_replica,
            num_gpus=self.num_gpus_per_replica,
            # One coroutine per request in flight, plus ready/abort/shutdown calls.
            max_concurrency=self.inflight + 8,
        )
        notice(
            f"ray: starting {self.replicas} replica(s) on {self.address} "
            f"({self.num_gpus_per_replica:g} GPU, {self.num_cpus_per_replica:g} CPU each)"
        )
        omp = os.environ.get("OMP_NUM_THREADS")
        self.actors = [actor_cls.remote(config, make_engine, omp) for _ in range(self.replicas)]
        try:
            states = ray.get([a.ready.remote() for a in self.actors])
        except ray.exceptions.RayActorError as e:
            raise RuntimeError(f"a Ray replica died while starting: {e}") from e
        for i, state in enumerate(states):
            if isinstance(state, tuple):
                error, trace = state
                if isinstance(error, UsageError):
                    raise error
                raise RuntimeError(f"Ray replica {i} could not start its engine:\n{trace}")
        first: dict[str, Any] = states[0]
        return first

    # -- Backend protocol ------------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        """Cluster and replica facts for the manifest; ``replica.*`` is the engine's."""
        facts: dict[str, Any] = {
            "backend": self.name,
            "ray": self._ray.__version__,
            "address": self.address,
            "replicas": self.replicas,
            "num_gpus_per_replica": self.num_gpus_per_replica,
            "num_cpus_per_replica": self.num_cpus_per_replica,
            "inflight": self.inflight,
            "cluster_nodes": self.cluster_nodes,
            "cluster_cpus": self.cluster_cpus,
            "cluster_gpus": self.cluster_gpus,
        }
        if self.accelerators:
            facts["cluster_accelerators"] = ",".join(self.accelerators)
        facts.update({f"replica.{k}": v for k, v in self.replica_description.items()})
        return facts

    def stream(self, requests: Iterable[GenRequest]) -> Iterator[GenResult]:
        """Spread the requests over the replicas; yield each sample as it arrives."""
        ray = self._ray
        keys = itertools.count()
        key_of: dict[Any, list[int]] = {}  # handle -> [key, samples still to come]

        def submit(replica: int, request: GenRequest) -> Any:
            key = next(keys)
            # A streaming call: each sample comes back as the replica's engine finishes it.
            handle = self.actors[replica].stream.remote(key, request)
            key_of[handle] = [key, request.n]
            return handle

        def wait(handles: list[Any]) -> list[Any]:
            ready, _ = ray.wait(handles, num_returns=1)
            return list(ready)

        def collect(handle: Any) -> GenResult:
            try:
                result: GenResult = ray.get(next(handle))
            except StopIteration:
                key_of.pop(handle, None)
                raise ReplicaLost("the replica ended a request before all its samples") from None
            except ray.exceptions.RayActorError as e:
                key_of.pop(handle, None)
                raise ReplicaLost(_first_line(e)) from e
            except ray.exceptions.RayTaskError as e:
                # Still "out": the dispatcher's abandon tells the replica to drop it.
                if isinstance(e.cause, UsageError):  # e.g. a prompt longer than the model
                    raise e.cause from None
                raise
            entry = key_of[handle]
            entry[1] -= result.request.n
            if entry[1] <= 0:
                del key_of[handle]
            return result

        def abandon(out: list[tuple[int, Any]]) -> None:
            if not self.actors:  # closed already: the replicas are gone
                return
            by_replica: dict[int, list[int]] = {}
            for replica, handle in out:
                if handle in key_of:
                    by_replica.setdefault(replica, []).append(key_of.pop(handle)[0])
            for replica, dropped in by_replica.items():
                self.actors[replica].abort.remote(dropped)

        def on_lost(replica: int, error: ReplicaLost) -> None:
            notice(f"ray: replica {replica} died ({error}); its requests go to the others")

        yield from dispatch(
            requests,
            replicas=len(self.actors),
            inflight=self.inflight,
            submit=submit,
            wait=wait,
            collect=collect,
            abandon=abandon,
            on_lost=on_lost,
        )

    def generate(self, requests: Iterable[GenRequest]) -> Iterator[GenResult]:
        """Spread the requests over the replicas; yield each request when it is done."""
        return gather(self.stream, requests)

    def close(self) -> None:
        """Stop the replicas (engines first), then the Ray instance if this backend began it."""
        ray = self._ray
        actors, self.actors = self.actors, []
        if actors and self._ready:
            # Let each engine shut down cleanly; a dead or stuck replica fails this wait,
            # and killing it below takes its engine processes with it.
            with contextlib.suppress(Exception):
                ray.get([a.shutdown.remote() for a in actors], timeout=60)
        if actors:
            for actor in actors:
                ray.kill(actor)
        if getattr(self, "_owns_connection", False) and ray.is_initialized():
            self._owns_connection = False
            ray.shutdown()


def replica_options(engine_opts: dict[str, Any], gpus: float) -> dict[str, Any]:
    """The ``vllm`` options of one replica holding ``gpus`` GPUs."""
    opts = dict(engine_opts)
    if gpus > 1:
        opts.setdefault("tensor_parallel_size", int(gpus))
    elif 0 < gpus < 1:
        # Replicas sharing a GPU: each engine may only take its share of the memory.
        opts.setdefault("gpu_memory_utilization", round(0.9 * gpus, 3))
    return opts


def replicas_for(gpus: float, cluster_gpus: float) -> int:
    """Replicas that fit ``cluster_gpus`` at ``gpus`` each (at least one)."""
    return max(1, math.floor(cluster_gpus / gpus)) if gpus > 0 else 1
