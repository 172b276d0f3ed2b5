"""Scoring pools: score many cells in parallel (Ray actors) or in process (serial backend).

Each worker is a long-lived ``Scorer``: it resolves its device, loads the scoring images
once, and scores arch strings sent to it. ``RayPool.map_unordered`` yields evaluations as
they finish; a worker that dies is replaced and its cell retried up to ``max_retries``
times, then reported as failed with the error: a cell is never silently dropped.
"""
from __future__ import annotations

import socket
import time
import traceback
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Mapping, Protocol

import torch

from evonas.cost import dataset_spec
from evonas.datasets import load_images
from evonas.devices import device_name, resolve_device
from evonas.errors import ConfigError, EvonasError
from evonas.scores import ScoreContext, get_score, make_settings
from evonas.space import Cell

__all__ = ["ScorerSpec", "Evaluation", "Scorer", "SerialPool", "RayPool", "make_pool", "Pool"]


@dataclass(frozen=True)
class ScorerSpec:
    """What every worker needs to score cells (plain data: it travels to Ray actors)."""

    scores: tuple[str, ...]
    settings: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    dataset: str = "cifar10"
    data_root: str | None = None
    n_images: int | None = None  # None: as many as the scores read
    seed: int = 0
    C: int = 16
    N: int = 5
    device: str = "auto"
    threads: int = 1

    def validate(self) -> dict[str, Any]:
        """Check score names, settings and data set up front; return the settings objects."""
        dataset_spec(self.dataset)
        settings = {name: make_settings(name, self.settings.get(name)) for name in self.scores}
        extra = set(self.settings) - set(self.scores)
        if extra:
            raise ConfigError(f"scores: settings given for {sorted(extra)}, which no objective or score list uses")
        need = self.images_needed(settings)
        if self.n_images is not None and self.n_images < need:
            raise ConfigError(f"data.n_images: {self.n_images} is too few; the scores read {need} images")
        return settings

    def images_needed(self, settings: Mapping[str, Any]) -> int:
        return max([get_score(n).images_needed(s) for n, s in settings.items()] + [0])


@dataclass
class Evaluation:
    """The outcome of scoring one cell."""

    arch: str
    index: int
    values: dict[str, float] = field(default_factory=dict)
    times: dict[str, float] = field(default_factory=dict)
    status: str = "ok"  # "ok" | "failed"
    error: str = ""
    wall_time: float = 0.0
    device: str = ""
    attempts: int = 1

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def failed(cell: Cell, error: str, attempts: int = 1, device: str = "") -> Evaluation:
    return Evaluation(cell.arch, cell.index, status="failed", error=error, attempts=attempts, device=device)


class Scorer:
    """Scores cells in this process: the device and images are set up once."""

    def __init__(self, spec: ScorerSpec) -> None:
        torch.set_num_threads(spec.threads)
        self.spec = spec
        self.settings = spec.validate()
        self.device = resolve_device(spec.device)
        self.device_name = device_name(self.device)
        self.dataset = dataset_spec(spec.dataset)
        n = spec.n_images or spec.images_needed(self.settings)
        self.data = (load_images(spec.dataset, root=spec.data_root, split="train", n=n, seed=spec.seed)
                     .to(self.device) if n > 0 else None)

    def score(self, arch: str, only: tuple[str, ...] | None = None) -> Evaluation:
        """The configured scores (or ``only`` these) of one cell; an exception fails the evaluation."""
        cell = Cell.from_string(arch)
        start = time.perf_counter()
        ev = Evaluation(arch, cell.index, device=self.device_name)
        ctx = ScoreContext(cell, self.device, self.dataset, self.data, self.spec.seed, self.spec.C, self.spec.N)
        for name, settings in self.settings.items():
            if only is not None and name not in only:
                continue
            t0 = time.perf_counter()
            try:
                torch.manual_seed(self.spec.seed)
                value = get_score(name)(ctx, settings)
            except Exception as err:  # a score's failure marks this cell failed, the run goes on
                ev.status = "failed"
                ev.error = f"{name}: {type(err).__name__}: {err}"
                ev.error += "\n" + traceback.format_exc(limit=3) if not isinstance(err, EvonasError) else ""
                break
            ev.values[name] = value
            ev.times[name] = time.perf_counter() - t0
        ev.wall_time = time.perf_counter() - start
        return ev

    def ping(self) -> str:
        return self.device_name


class Pool(Protocol):
    num_workers: int
    device_kind: str

    def map_unordered(self, cells: Iterable[Cell], only: Mapping[str, tuple[str, ...]] | None = None
                      ) -> Iterator[Evaluation]: ...

    def close(self) -> None: ...


class SerialPool:
    """One in-process scorer: for debugging and small jobs."""

    num_workers = 1

    def __init__(self, spec: ScorerSpec) -> None:
        self.scorer = Scorer(spec)

    @property
    def device_kind(self) -> str:
        return self.scorer.device_name

    def map_unordered(self, cells: Iterable[Cell], only: Mapping[str, tuple[str, ...]] | None = None
                      ) -> Iterator[Evaluation]:
        """Score each cell (``only[arch]``: just these scores of that cell)."""
        for cell in cells:
            yield self.scorer.score(cell.arch, (only or {}).get(cell.arch))

    def close(self) -> None:
        pass

    def __enter__(self) -> "SerialPool":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _check_reachable(address: str, timeout_s: float) -> None:
    """Fail in seconds, with a clear message, when a ``host:port`` address does not answer."""
    if address in ("auto", "local"):
        return
    hostport = address.split("://", 1)[-1]
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(f"ray.address: {address!r} is not 'auto', 'host:port' or 'ray://host:port'")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout_s):
            pass
    except OSError as err:
        raise EvonasError(f"ray.address: nothing answers at {hostport} within {timeout_s:g} s ({err}); "
                          f"start the head with `ray start --head --port {port}` or fix the address") from None


def _use_cluster_token() -> None:
    """Ray >= 2.59 heads started with ``ray start`` require the token in ``~/.ray/auth_token`` when
    one exists, but a driver attaching with ``RAY_AUTH_MODE`` unset does not send it: send it."""
    import os
    from pathlib import Path

    has_token = any(os.environ.get(v) for v in ("RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")) or \
        (Path.home() / ".ray" / "auth_token").is_file()
    if has_token and "RAY_AUTH_MODE" not in os.environ:
        os.environ["RAY_AUTH_MODE"] = "token"
        try:  # Ray caches its config at import: refresh it as Ray itself does for local clusters
            from ray._raylet import Config

            Config.initialize("")
        except (ImportError, AttributeError):
            pass


class RayPool:
    """Persistent Ray actors, one per CPU slot (or per GPU / fraction of a GPU)."""

    def __init__(self, spec: ScorerSpec, *, num_actors: int | None = None, address: str | None = None,
                 max_retries: int = 2, actors_per_gpu: float = 1.0, connect_timeout_s: float = 10.0) -> None:
        if address is not None:
            _check_reachable(address, connect_timeout_s)
            _use_cluster_token()
        import ray

        spec.validate()
        self.spec, self.max_retries = spec, max_retries
        self._started_ray = False
        if not ray.is_initialized():
            ray.init(address=address, include_dashboard=False, logging_level="ERROR",
                     log_to_driver=True, configure_logging=True)
            self._started_ray = address is None
        resources = ray.cluster_resources()
        gpus = resources.get("GPU", 0) if spec.device != "cpu" else 0
        if spec.device.startswith("cuda") and not gpus:
            raise ConfigError(f"device: {spec.device!r} was requested but the Ray cluster has no GPU")
        if gpus:
            options = {"num_gpus": 1.0 / actors_per_gpu, "num_cpus": 1}
            default_n = int(gpus * actors_per_gpu)
        else:
            options = {"num_cpus": 1, "num_gpus": 0}
            default_n = max(1, int(resources.get("CPU", 1)))
        self._actor_cls = ray.remote(**options)(Scorer)
        self.num_workers = num_actors or default_n
        self.actors = [self._actor_cls.remote(spec) for _ in range(self.num_workers)]
        self.device_names = ray.get([a.ping.remote() for a in self.actors])

    def _replace(self, actor: Any) -> Any:
        import ray

        ray.kill(actor, no_restart=True)
        new = self._actor_cls.remote(self.spec)
        self.actors[self.actors.index(actor)] = new
        return new

    @property
    def device_kind(self) -> str:
        return " + ".join(sorted(set(self.device_names)))

    def map_unordered(self, cells: Iterable[Cell], only: Mapping[str, tuple[str, ...]] | None = None
                      ) -> Iterator[Evaluation]:
        """Yield one evaluation per cell, in completion order (``only[arch]``: just these scores)."""
        import ray
        from ray.exceptions import RayActorError, RayTaskError

        queue: deque[tuple[Cell, int]] = deque((c, 1) for c in cells)
        idle = list(self.actors)
        pending: dict[Any, tuple[Any, Cell, int]] = {}
        while queue or pending:
            while idle and queue:
                actor = idle.pop()
                cell, attempt = queue.popleft()
                pending[actor.score.remote(cell.arch, (only or {}).get(cell.arch))] = (actor, cell, attempt)
            (ref,), _ = ray.wait(list(pending), num_returns=1)
            actor, cell, attempt = pending.pop(ref)
            try:
                ev = ray.get(ref)
            except RayActorError as err:  # the worker died: replace it, retry the cell
                idle.append(self._replace(actor))
                if attempt <= self.max_retries:
                    queue.appendleft((cell, attempt + 1))
                else:
                    yield failed(cell, f"worker died {attempt} times: {type(err).__name__}: {err}", attempt)
                continue
            except RayTaskError as err:
                idle.append(actor)
                yield failed(cell, f"{type(err).__name__}: {err}", attempt)
                continue
            idle.append(actor)
            ev.attempts = attempt
            yield ev

    def close(self) -> None:
        import ray

        for actor in self.actors:
            ray.kill(actor, no_restart=True)
        self.actors = []
        if self._started_ray:
            ray.shutdown()

    def __enter__(self) -> "RayPool":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def make_pool(spec: ScorerSpec, *, backend: str = "ray", num_actors: int | None = None,
              address: str | None = None, max_retries: int = 2, actors_per_gpu: float = 1.0,
              connect_timeout_s: float = 10.0) -> SerialPool | RayPool:
    """A pool by backend name: ``ray`` (local or cluster) or ``serial`` (in process)."""
    if backend == "serial":
        return SerialPool(spec)
    if backend == "ray":
        return RayPool(spec, num_actors=num_actors, address=address, max_retries=max_retries,
                       actors_per_gpu=actors_per_gpu, connect_timeout_s=connect_timeout_s)
    raise ConfigError(f"ray.backend: unknown backend {backend!r}; choose from ['ray', 'serial']")
