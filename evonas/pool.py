"""Scoring pools: score many cells in parallel (Ray actors) or in process (serial backend).

Each worker is a long-lived ``Scorer``: it resolves its device, loads the scoring images
once, and scores arch strings sent to it. ``RayPool.map_unordered`` yields evaluations as
they finish; a worker that dies, or gives no result within ``task_timeout_s``, is killed
and replaced and its cell retried up to ``max_retries`` times, then reported as failed with
the reason: a cell is never silently dropped and the run never waits without bound.
"""
from __future__ import annotations

import logging
import socket
import time
import traceback
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Mapping, Protocol

import torch

from evonas.cost import dataset_spec
from evonas.datasets import load_images
from evonas.devices import configure_scoring, device_name, resolve_device
from evonas.errors import ConfigError, EvonasError
from evonas.scores import ScoreContext, get_score, make_settings
from evonas.scores._registry import invalid_value
from evonas.space import Cell

__all__ = ["ScorerSpec", "Evaluation", "Scorer", "SerialPool", "RayPool", "make_pool", "Pool", "start_ray",
           "placeable_workers", "invalid_value"]

log = logging.getLogger("evonas")


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
        configure_scoring(self.device)  # TF32 off, deterministic cuDNN: a GPU score matches its CPU value
        self.device_name = device_name(self.device)
        self.dataset = dataset_spec(spec.dataset)
        n = spec.n_images or spec.images_needed(self.settings)
        self.data = (load_images(spec.dataset, root=spec.data_root, split="train", n=n, seed=spec.seed)
                     .to(self.device) if n > 0 else None)

    def score(self, arch: str, only: tuple[str, ...] | None = None) -> Evaluation:
        """The configured scores (or ``only`` these) of one cell.

        An exception, or a value that is not finite or outside the score's valid range
        (``invalid_value``: the registry's ``valid_range``), fails the evaluation with the reason.
        """
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
            reason = invalid_value(name, value)
            if reason is not None:  # a NaN, an infinity or a degenerate value never becomes an objective
                ev.status, ev.error = "failed", reason
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


def start_ray(address: str | None = None, connect_timeout_s: float = 10.0) -> bool:
    """Connect this process to Ray: check that ``address`` answers, send the cluster token, init.

    ``None`` starts a local Ray unless one is running. Returns True when this call started
    (or attached) Ray, so that the caller shuts it down when done. Shared by the scoring pool
    and the training stage.
    """
    if address is not None:
        _check_reachable(address, connect_timeout_s)
        _use_cluster_token()
    import ray

    if ray.is_initialized():
        return False
    ray.init(address=address, include_dashboard=False, logging_level="ERROR",
             log_to_driver=True, configure_logging=True)
    return True


def placeable_workers(resources: Mapping[str, float], *, gpu: bool, actors_per_gpu: float) -> int:
    """How many scoring actors a cluster with these total ``resources`` can hold at once.

    Each actor takes one CPU, and ``1 / actors_per_gpu`` of a GPU when ``gpu``.
    """
    cpus = int(resources.get("CPU", 0) + 1e-9)
    if not gpu:
        return cpus
    return min(cpus, int(resources.get("GPU", 0) * actors_per_gpu + 1e-9))


def _first_line(err: BaseException) -> str:
    """The root cause of a Ray error in one line (its last non-empty line)."""
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    return lines[-1] if lines else type(err).__name__


@dataclass
class _Task:
    """A call in flight on an actor: scoring ``cell`` (attempt ``attempt``), or its start-up (cell None)."""

    actor: Any
    cell: Cell | None
    attempt: int
    deadline: float


class RayPool:
    """Persistent Ray actors, one per CPU slot (or per GPU / fraction of a GPU).

    Never waits without bound: more actors than the cluster can place are capped (with a
    warning); actors that do not start within ``start_timeout_s`` are given up; a cell with
    no result within ``task_timeout_s`` has its actor killed and replaced and is retried up to
    ``max_retries`` times, then reported failed.
    """

    def __init__(self, spec: ScorerSpec, *, num_actors: int | None = None, address: str | None = None,
                 max_retries: int = 2, actors_per_gpu: float = 1.0, connect_timeout_s: float = 10.0,
                 task_timeout_s: float = 600.0, start_timeout_s: float = 120.0) -> None:
        spec.validate()
        started = start_ray(address, connect_timeout_s)
        import ray

        self.spec, self.max_retries = spec, max_retries
        self.task_timeout_s, self.start_timeout_s = task_timeout_s, start_timeout_s
        self._started_ray = started and address is None
        self.actors: list[Any] = []
        self._starting: dict[Any, Any] = {}  # start-up ping -> replacement actor not yet ready
        try:
            resources = ray.cluster_resources()
            gpus = resources.get("GPU", 0) if spec.device != "cpu" else 0
            if spec.device.startswith("cuda") and not gpus:
                raise ConfigError(f"device: {spec.device!r} was requested but the Ray cluster has no GPU")
            options = {"num_gpus": 1.0 / actors_per_gpu, "num_cpus": 1} if gpus else {"num_cpus": 1, "num_gpus": 0}
            room = placeable_workers(resources, gpu=bool(gpus), actors_per_gpu=actors_per_gpu)
            where = (f"{resources.get('CPU', 0):g} CPU(s)" + (f", {gpus:g} GPU(s) at ray.actors_per_gpu "
                                                              f"{actors_per_gpu:g}" if gpus else ""))
            if room < 1:
                raise EvonasError(f"the Ray cluster ({where}) has no room for one scoring worker "
                                  f"(each takes 1 CPU{' and a GPU share' if gpus else ''})")
            self.num_workers = num_actors or room
            if self.num_workers > room:
                log.warning(f"ray.num_actors: {self.num_workers} workers asked for, but the cluster ({where}) "
                            f"can place {room}; using {room}")
                self.num_workers = room
            self._actor_cls = ray.remote(**options)(Scorer)
            self.actors = [self._actor_cls.remote(spec) for _ in range(self.num_workers)]
            self.device_names = self._await_start(where)
        except BaseException:
            self.close()
            raise

    def _await_start(self, where: str) -> list[str]:
        """Wait up to ``start_timeout_s`` for every actor; keep those ready, kill the rest."""
        import ray
        from ray.exceptions import RayActorError

        pings = {a.ping.remote(): a for a in self.actors}
        ready, _ = ray.wait(list(pings), num_returns=len(pings), timeout=self.start_timeout_s)
        names = []
        for ref in ready:
            try:
                names.append(ray.get(ref))
            except RayActorError as err:
                raise EvonasError(f"a Ray scoring worker could not start: {_first_line(err)}") from None
        if not ready:
            raise EvonasError(f"no Ray worker started within {self.start_timeout_s:g} s (ray.start_timeout_s): "
                              f"the cluster ({where}) has no free slot for one, or starting it takes longer")
        if len(ready) < len(pings):
            live = {pings[r] for r in ready}
            for actor in self.actors:
                if actor not in live:
                    ray.kill(actor, no_restart=True)
            log.warning(f"only {len(ready)} of {len(pings)} Ray workers started within {self.start_timeout_s:g} s "
                        f"(ray.start_timeout_s; the cluster has {where}, some may be in use); going on with "
                        f"{len(ready)}")
            self.actors = [a for a in self.actors if a in live]
            self.num_workers = len(self.actors)
        return names

    def _drop(self, actor: Any) -> None:
        import ray

        ray.kill(actor, no_restart=True)
        if actor in self.actors:
            self.actors.remove(actor)

    def _spawn(self) -> _Task:
        """A replacement actor, tracked through its start-up ping."""
        actor = self._actor_cls.remote(self.spec)
        self.actors.append(actor)
        return _Task(actor, None, 0, time.monotonic() + self.start_timeout_s)

    @property
    def device_kind(self) -> str:
        return " + ".join(sorted(set(self.device_names)))

    def map_unordered(self, cells: Iterable[Cell], only: Mapping[str, tuple[str, ...]] | None = None
                      ) -> Iterator[Evaluation]:
        """Yield one evaluation per cell, in completion order (``only[arch]``: just these scores)."""
        import ray
        from ray.exceptions import RayActorError, RayTaskError

        queue: deque[tuple[Cell, int]] = deque((c, 1) for c in cells)
        pending: dict[Any, _Task] = {ref: _Task(a, None, 0, time.monotonic() + self.start_timeout_s)
                                     for ref, a in self._starting.items()}
        starting = set(self._starting.values())
        idle = [a for a in self.actors if a not in starting]
        self._starting = {}

        def retry_or_fail(task: _Task, reason: str) -> Evaluation | None:
            if task.attempt <= self.max_retries:
                queue.appendleft((task.cell, task.attempt + 1))
                return None
            return failed(task.cell, reason, task.attempt)

        def replace(task: _Task) -> None:
            self._drop(task.actor)
            new = self._spawn()
            pending[new.actor.ping.remote()] = new

        while queue or any(t.cell is not None for t in pending.values()):
            while idle and queue:
                actor = idle.pop()
                cell, attempt = queue.popleft()
                ref = actor.score.remote(cell.arch, (only or {}).get(cell.arch))
                pending[ref] = _Task(actor, cell, attempt, time.monotonic() + self.task_timeout_s)
            if not pending:  # every worker is gone and none could be started again
                while queue:
                    cell, attempt = queue.popleft()
                    yield failed(cell, "no Ray scoring worker is left (replacements failed to start)", attempt)
                break
            wait_s = max(0.0, min(t.deadline for t in pending.values()) - time.monotonic())
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=wait_s)
            if not ready:
                now = time.monotonic()
                for ref in [r for r, t in pending.items() if t.deadline <= now]:
                    task = pending.pop(ref)
                    if task.cell is None:
                        self._drop(task.actor)
                        log.warning(f"a replacement Ray worker did not start within {self.start_timeout_s:g} s; "
                                    f"going on with {len(self.actors)}")
                        continue
                    replace(task)
                    ev = retry_or_fail(task, f"no result within {self.task_timeout_s:g} s (ray.task_timeout_s) "
                                             f"in {task.attempt} attempt(s); the worker was killed")
                    if ev is not None:
                        yield ev
                continue
            task = pending.pop(ready[0])
            try:
                out = ray.get(ready[0])
            except RayActorError as err:
                if task.cell is None:  # a replacement died while starting: the pool shrinks
                    self._drop(task.actor)
                    log.warning(f"a replacement Ray worker could not start: {_first_line(err)}")
                    continue
                replace(task)  # the worker died: replace it, retry the cell
                ev = retry_or_fail(task, f"worker died {task.attempt} times: {type(err).__name__}: {err}")
                if ev is not None:
                    yield ev
                continue
            except RayTaskError as err:
                idle.append(task.actor)
                if task.cell is not None:
                    yield failed(task.cell, f"{type(err).__name__}: {err}", task.attempt)
                continue
            idle.append(task.actor)
            if task.cell is None:
                continue
            out.attempts = task.attempt
            yield out
        self._starting = {ref: t.actor for ref, t in pending.items() if t.cell is None}

    def close(self) -> None:
        import ray

        for actor in self.actors:
            ray.kill(actor, no_restart=True)
        self.actors = []
        self._starting = {}
        if self._started_ray:
            ray.shutdown()
            self._started_ray = False

    def __enter__(self) -> "RayPool":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def make_pool(spec: ScorerSpec, *, backend: str = "ray", num_actors: int | None = None,
              address: str | None = None, max_retries: int = 2, actors_per_gpu: float = 1.0,
              connect_timeout_s: float = 10.0, task_timeout_s: float = 600.0,
              start_timeout_s: float = 120.0) -> SerialPool | RayPool:
    """A pool by backend name: ``ray`` (local or cluster) or ``serial`` (in process)."""
    if backend == "serial":
        return SerialPool(spec)
    if backend == "ray":
        return RayPool(spec, num_actors=num_actors, address=address, max_retries=max_retries,
                       actors_per_gpu=actors_per_gpu, connect_timeout_s=connect_timeout_s,
                       task_timeout_s=task_timeout_s, start_timeout_s=start_timeout_s)
    raise ConfigError(f"ray.backend: unknown backend {backend!r}; choose from ['ray', 'serial']")
