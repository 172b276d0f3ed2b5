"""Scoring pools: score many cells in parallel (Ray actors) or in process (serial backend).

Each worker is a long-lived ``Scorer``: it resolves its device, loads the scoring images
once, and scores arch strings sent to it. ``RayPool.map_unordered`` yields evaluations as
they finish; a worker that dies, or gives no result within ``task_timeout_s``, is killed
and replaced and its cell retried up to ``max_retries`` times, then reported as failed with
the reason: a cell is never silently dropped and the run never waits without bound.
"""
from __future__ import annotations

import dataclasses
import logging
import socket
import time
import traceback
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Mapping, Protocol

import torch

from evonas.nn.flops import dataset_spec
from evonas.nn.images import load_images
from evonas.nn.devices import configure_scoring, device_name, plan_actors, resolve_device
from evonas.errors import ConfigError, EvonasError
from evonas.scores import ScoreContext, get_score, make_settings
from evonas.scores.registry import invalid_value
from evonas.scores.latency import EXCLUSIVE_SCORES, split_exclusive
from evonas.space.cell import Cell

__all__ = ["ScorerSpec", "Evaluation", "Scorer", "SerialPool", "RayPool", "make_pool", "Pool", "start_ray",
           "runs_beside_gpu", "invalid_value",
           "map_phased"]

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
    #: per score, wall-clock (``time.time()``) start and end of its computation on the worker
    spans: dict[str, tuple[float, float]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def merge(self, other: "Evaluation") -> "Evaluation":
        """This cell's evaluation with ``other``'s scores (of the same cell) added; failed if either failed."""
        if other.arch != self.arch:
            raise ValueError(f"cannot merge evaluations of {self.arch} and {other.arch}")
        bad = [ev for ev in (self, other) if not ev.ok]
        return Evaluation(self.arch, self.index, {**self.values, **other.values}, {**self.times, **other.times},
                          status="failed" if bad else "ok", error="; ".join(ev.error for ev in bad),
                          wall_time=self.wall_time + other.wall_time,
                          device=" + ".join(dict.fromkeys(d for d in (self.device, other.device) if d)),
                          attempts=max(self.attempts, other.attempts), spans={**self.spans, **other.spans})


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
            t0, began = time.perf_counter(), time.time()
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
            ev.spans[name] = (began, time.time())
        ev.wall_time = time.perf_counter() - start
        return ev

    def ping(self) -> str:
        return self.device_name


class Pool(Protocol):
    num_workers: int
    device_kind: str

    def map_unordered(self, cells: Iterable[Cell], only: Mapping[str, tuple[str, ...]] | None = None
                      ) -> Iterator[Evaluation]: ...

    def map_exclusive(self, cells: Iterable[Cell], only: Mapping[str, tuple[str, ...]] | None = None
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

    #: one in-process scorer always has the device to itself
    map_exclusive = map_unordered

    def device_for(self, score: str) -> str:
        """The device that computes ``score`` (keys its cache)."""
        return self.scorer.device_name

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


def runs_beside_gpu(name: str) -> bool:
    """Whether CPU actors beside GPU actors take score ``name``: it runs no network on the scoring
    images (``needs`` neither data, labels nor gpu) and times nothing (not in ``EXCLUSIVE_SCORES``),
    e.g. FLOPs and parameter counts, table look-ups, synflow."""
    return not (get_score(name).needs & {"data", "labels", "gpu"}) and name not in EXCLUSIVE_SCORES


def _first_line(err: BaseException) -> str:
    """The root cause of a Ray error in one line (its last non-empty line)."""
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    return lines[-1] if lines else type(err).__name__


@dataclass
class _Job:
    """Part of a cell's scoring for one kind of actor (``gpu`` or ``cpu``); ``scores`` None: all."""

    cell: Cell
    kind: str
    scores: tuple[str, ...] | None
    attempt: int = 1


@dataclass
class _Task:
    """A call in flight on an actor: scoring ``job``, or its start-up (job None)."""

    actor: Any
    job: _Job | None
    deadline: float


class RayPool:
    """Persistent Ray actors placed by ``evonas.nn.devices.plan_actors``: GPU actors (``actors_per_gpu``
    per GPU) and CPU actors beside them for the scores ``runs_beside_gpu`` names, or CPU actors only.

    A cell's scores are split between the two kinds and its evaluation merged; a failure of either
    part fails the cell. ``map_exclusive`` scores one cell at a time on one actor of the target
    device (latency, timed with the device to itself). Never waits without bound: more actors than
    the cluster can place are capped (with a warning); actors that do not start within
    ``start_timeout_s`` are given up; a cell with no result within ``task_timeout_s`` has its actor
    killed and replaced and is retried up to ``max_retries`` times, then reported failed.
    """

    def __init__(self, spec: ScorerSpec, *, num_actors: int | None = None, address: str | None = None,
                 max_retries: int = 2, actors_per_gpu: int = 1, cpu_actors: int | str = 0,
                 connect_timeout_s: float = 10.0, task_timeout_s: float = 600.0,
                 start_timeout_s: float = 120.0) -> None:
        spec.validate()
        started = start_ray(address, connect_timeout_s)
        import ray

        self.spec, self.max_retries = spec, max_retries
        self.task_timeout_s, self.start_timeout_s = task_timeout_s, start_timeout_s
        self._started_ray = started and address is None
        self.actors: list[Any] = []
        self.kind: dict[Any, str] = {}    # actor -> "gpu" | "cpu"
        self.kind_names: dict[str, set[str]] = {}  # "gpu" | "cpu" -> the device names of those actors
        self._starting: dict[Any, Any] = {}  # start-up ping -> replacement actor not yet ready
        try:
            resources = ray.cluster_resources()
            plan = plan_actors(spec.device, cpus=resources.get("CPU", 0), gpus=resources.get("GPU", 0),
                               actors_per_gpu=actors_per_gpu, cpu_actors=cpu_actors, num_actors=num_actors,
                               cpu_work=any(map(runs_beside_gpu, spec.scores)))
            for warning in plan.warnings:
                log.warning(warning)
            self.plan = plan
            self._cls = {}
            self._specs = {}
            if plan.gpu_actors:
                self._cls["gpu"] = ray.remote(num_cpus=1, num_gpus=plan.gpu_fraction)(Scorer)
                self._specs["gpu"] = spec
            if plan.cpu_actors:
                self._cls["cpu"] = ray.remote(num_cpus=1, num_gpus=0)(Scorer)
                self._specs["cpu"] = dataclasses.replace(spec, device="cpu")
            for kind, n in (("gpu", plan.gpu_actors), ("cpu", plan.cpu_actors)):
                for _ in range(n):
                    self._new_actor(kind)
            self.device_names = self._await_start(f"{resources.get('CPU', 0):g} CPU(s), "
                                                  f"{resources.get('GPU', 0):g} GPU(s)")
        except BaseException:
            self.close()
            raise

    @property
    def num_workers(self) -> int:
        return len(self.actors)

    @property
    def target_kind(self) -> str:
        """The actors on the target device: GPU actors when there are any."""
        return "gpu" if "gpu" in self._cls else "cpu"

    def _new_actor(self, kind: str) -> Any:
        actor = self._cls[kind].remote(self._specs[kind])
        self.actors.append(actor)
        self.kind[actor] = kind
        return actor

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
                self.kind_names.setdefault(self.kind[pings[ref]], set()).add(names[-1])
            except RayActorError as err:
                raise EvonasError(f"a Ray scoring worker could not start: {_first_line(err)}") from None
        if not ready:
            raise EvonasError(f"no Ray worker started within {self.start_timeout_s:g} s (ray.start_timeout_s): "
                              f"the cluster ({where}) has no free slot for one, or starting it takes longer")
        if len(ready) < len(pings):
            live = {pings[r] for r in ready}
            for actor in list(self.actors):
                if actor not in live:
                    self._drop(actor)
            log.warning(f"only {len(ready)} of {len(pings)} Ray workers started within {self.start_timeout_s:g} s "
                        f"(ray.start_timeout_s; the cluster has {where}, some may be in use); going on with "
                        f"{len(ready)}")
        return names

    def _drop(self, actor: Any) -> None:
        import ray

        ray.kill(actor, no_restart=True)
        if actor in self.actors:
            self.actors.remove(actor)

    @property
    def device_kind(self) -> str:
        return " + ".join(sorted(set(self.device_names)))

    def device_for(self, score: str) -> str:
        """The device(s) of the actors that compute ``score`` (keys its cache)."""
        kind = "cpu" if {"gpu", "cpu"} <= set(self._cls) and runs_beside_gpu(score) else self.target_kind
        return " + ".join(sorted(self.kind_names.get(kind) or self.device_names))

    def _jobs(self, cells: Iterable[Cell], only: Mapping[str, tuple[str, ...]] | None,
              exclusive: bool) -> list[_Job]:
        """Each cell's scores split by the kind of actor that runs them."""
        jobs = []
        split = not exclusive and {"gpu", "cpu"} <= set(self._cls)
        for cell in cells:
            names = (only or {}).get(cell.arch)
            if split:
                names = tuple(self.spec.scores if names is None else names)
                parts = {"gpu": tuple(n for n in names if not runs_beside_gpu(n)),
                         "cpu": tuple(n for n in names if runs_beside_gpu(n))}
                if all(parts.values()):
                    jobs += [_Job(cell, kind, part) for kind, part in parts.items()]
                    continue
                kind = "cpu" if parts["cpu"] else "gpu"
            else:
                kind = self.target_kind
            jobs.append(_Job(cell, kind, names))
        return jobs

    def map_unordered(self, cells: Iterable[Cell], only: Mapping[str, tuple[str, ...]] | None = None
                      ) -> Iterator[Evaluation]:
        """Yield one evaluation per cell, in completion order (``only[arch]``: just these scores)."""
        return self._run(self._jobs(cells, only, exclusive=False), max_in_flight=None)

    def map_exclusive(self, cells: Iterable[Cell], only: Mapping[str, tuple[str, ...]] | None = None
                      ) -> Iterator[Evaluation]:
        """Like ``map_unordered``, one cell at a time on one actor of the target device, no other
        actor running meanwhile: for scores that time the device (``EXCLUSIVE_SCORES``)."""
        return self._run(self._jobs(cells, only, exclusive=True), max_in_flight=1)

    def _run(self, jobs: list[_Job], max_in_flight: int | None) -> Iterator[Evaluation]:
        import ray
        from ray.exceptions import RayActorError, RayTaskError

        queues: dict[str, deque[_Job]] = {kind: deque(j for j in jobs if j.kind == kind) for kind in ("gpu", "cpu")}
        parts_left: dict[str, int] = {}
        merged: dict[str, Evaluation] = {}
        for job in jobs:
            parts_left[job.cell.arch] = parts_left.get(job.cell.arch, 0) + 1
        pending: dict[Any, _Task] = {ref: _Task(a, None, time.monotonic() + self.start_timeout_s)
                                     for ref, a in self._starting.items()}
        starting = set(self._starting.values())
        idle: dict[str, list[Any]] = {"gpu": [], "cpu": []}
        for actor in self.actors:
            if actor not in starting:
                idle[self.kind[actor]].append(actor)
        self._starting = {}

        def settle(job: _Job, ev: Evaluation) -> Evaluation | None:
            """Merge one part into its cell; the cell's evaluation once complete (or failed)."""
            arch = job.cell.arch
            if arch not in parts_left:  # the cell already failed through another part
                return None
            ev = merged[arch].merge(ev) if arch in merged else ev
            parts_left[arch] -= 1
            if not ev.ok or parts_left[arch] == 0:
                del parts_left[arch]
                merged.pop(arch, None)
                return ev
            merged[arch] = ev
            return None

        def retry_or_fail(task: _Task, reason: str) -> Evaluation | None:
            job = task.job
            if job.attempt <= self.max_retries:
                job.attempt += 1
                queues[job.kind].appendleft(job)
                return None
            return settle(job, failed(job.cell, reason, job.attempt))

        def replace(task: _Task) -> None:
            kind = self.kind.get(task.actor, self.target_kind)
            self._drop(task.actor)
            new = self._new_actor(kind)
            pending[new.ping.remote()] = _Task(new, None, time.monotonic() + self.start_timeout_s)

        n_busy = 0  # scoring calls in flight
        while any(queues.values()) or n_busy:
            for kind, queue in queues.items():
                while queue and idle[kind] and (max_in_flight is None or n_busy < max_in_flight):
                    job, actor = queue.popleft(), idle[kind].pop()
                    ref = actor.score.remote(job.cell.arch, job.scores)
                    pending[ref] = _Task(actor, job, time.monotonic() + self.task_timeout_s)
                    n_busy += 1
            if not pending:  # every worker (of a kind the queue needs) is gone and none could be started again
                left = [job for queue in queues.values() for job in queue]
                for queue in queues.values():
                    queue.clear()
                for job in left:
                    ev = settle(job, failed(job.cell, "no Ray scoring worker is left (replacements failed to "
                                                      "start)", job.attempt))
                    if ev is not None:
                        yield ev
                break
            wait_s = max(0.0, min(t.deadline for t in pending.values()) - time.monotonic())
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=wait_s)
            if not ready:
                now = time.monotonic()
                for ref in [r for r, t in pending.items() if t.deadline <= now]:
                    task = pending.pop(ref)
                    n_busy -= task.job is not None
                    if task.job is None:
                        self._drop(task.actor)
                        log.warning(f"a replacement Ray worker did not start within {self.start_timeout_s:g} s; "
                                    f"going on with {len(self.actors)}")
                        continue
                    replace(task)
                    ev = retry_or_fail(task, f"no result within {self.task_timeout_s:g} s (ray.task_timeout_s) "
                                             f"in {task.job.attempt} attempt(s); the worker was killed")
                    if ev is not None:
                        yield ev
                continue
            task = pending.pop(ready[0])
            n_busy -= task.job is not None
            try:
                out = ray.get(ready[0])
            except RayActorError as err:
                if task.job is None:  # a replacement died while starting: the pool shrinks
                    self._drop(task.actor)
                    log.warning(f"a replacement Ray worker could not start: {_first_line(err)}")
                    continue
                replace(task)  # the worker died: replace it, retry the cell
                ev = retry_or_fail(task, f"worker died {task.job.attempt} times: {type(err).__name__}: {err}")
                if ev is not None:
                    yield ev
                continue
            except RayTaskError as err:
                idle[self.kind[task.actor]].append(task.actor)
                if task.job is not None:
                    ev = settle(task.job, failed(task.job.cell, f"{type(err).__name__}: {err}", task.job.attempt))
                    if ev is not None:
                        yield ev
                continue
            idle[self.kind[task.actor]].append(task.actor)
            if task.job is None:
                continue
            out.attempts = task.job.attempt
            ev = settle(task.job, out)
            if ev is not None:
                yield ev
        self._starting = {ref: t.actor for ref, t in pending.items() if t.job is None}

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


def map_phased(pool: Pool, cells: Iterable[Cell], only: Mapping[str, tuple[str, ...]] | None = None,
               scores: tuple[str, ...] | None = None) -> Iterator[Evaluation]:
    """Score ``cells`` in two phases: the scores that may share the device (``only[arch]``, else
    ``scores``, else the pool's) on every worker until drained, then those that time it
    (``EXCLUSIVE_SCORES``) one cell at a time with the device to themselves (``map_exclusive``),
    merged into the first phase's evaluation. A failure in either phase fails the cell; a cell
    failed in the first phase is not timed, and one with nothing to time is yielded as it arrives.
    """
    cells = list(cells)
    default = tuple(scores or pool_scores(pool))
    parts = {c.arch: split_exclusive((only or {}).get(c.arch, default)) for c in cells}
    held: dict[str, Evaluation] = {}
    shared = [c for c in cells if parts[c.arch][0]]
    for ev in pool.map_unordered(shared, {c.arch: parts[c.arch][0] for c in shared}):
        if ev.ok and parts[ev.arch][1]:
            held[ev.arch] = ev
        else:
            yield ev
    timed = [c for c in cells if parts[c.arch][1] and (c.arch in held or not parts[c.arch][0])]
    for ev in pool.map_exclusive(timed, {c.arch: parts[c.arch][1] for c in timed}):
        yield held.pop(ev.arch).merge(ev) if ev.arch in held else ev


def pool_scores(pool: Pool) -> tuple[str, ...]:
    """The scores a pool's workers compute by default."""
    spec = getattr(pool, "spec", None) or pool.scorer.spec
    return tuple(spec.scores)


def make_pool(spec: ScorerSpec, *, backend: str = "ray", num_actors: int | None = None,
              address: str | None = None, max_retries: int = 2, actors_per_gpu: int = 1,
              cpu_actors: int | str = 0, connect_timeout_s: float = 10.0, task_timeout_s: float = 600.0,
              start_timeout_s: float = 120.0) -> SerialPool | RayPool:
    """A pool by backend name: ``ray`` (local or cluster) or ``serial`` (in process).

    ``cpu_actors`` (GPU clusters only): CPU actors beside the GPU actors for the scores
    ``runs_beside_gpu`` names; ``"auto"``: every CPU slot the GPU actors leave free.
    """
    if backend == "serial":
        return SerialPool(spec)
    if backend == "ray":
        return RayPool(spec, num_actors=num_actors, address=address, max_retries=max_retries,
                       actors_per_gpu=actors_per_gpu, cpu_actors=cpu_actors, connect_timeout_s=connect_timeout_s,
                       task_timeout_s=task_timeout_s, start_timeout_s=start_timeout_s)
    raise ConfigError(f"ray.backend: unknown backend {backend!r}; choose from ['ray', 'serial']")
