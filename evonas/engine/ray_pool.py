"""The Ray pool: persistent scoring actors on GPUs and CPUs, with retries, timeouts and replacement.

A cell is never silently dropped and the run never waits without bound (see ``RayPool``).
"""
from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Mapping

from evonas.config.schema import RayConfig
from evonas.engine.cluster import start_ray
from evonas.engine.ray_start import actor_classes, await_start, first_line, plan_pool, runs_beside_gpu
from evonas.engine.records import Evaluation, ScorerSpec, failed
from evonas.space.cell import Cell

__all__ = ["RayPool", "runs_beside_gpu"]

log = logging.getLogger("evonas")


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
    """Persistent Ray actors placed by ``evonas.engine.placement.plan_actors`` under ``ray_config`` (a
    config's ``ray`` section; its ``backend`` is not read here): GPU actors (``actors_per_gpu`` per GPU)
    and CPU actors beside them for the scores ``runs_beside_gpu`` names, or CPU actors only; each asks
    Ray for its plan's ``ray_options``.

    A cell's scores are split between the two kinds and its evaluation merged; a failure of either
    part fails the cell. ``map_exclusive`` scores one cell at a time on one actor of the target
    device (latency, timed with the device to itself). Never waits without bound: more actors than
    the cluster can place are capped (with a warning); actors that do not start within
    ``start_timeout_s`` are given up; a cell with no result within ``task_timeout_s`` has its actor
    killed and replaced and is retried up to ``max_retries`` times, then reported failed.
    """

    def __init__(self, spec: ScorerSpec, ray_config: RayConfig = RayConfig()) -> None:
        rc = ray_config
        started = start_ray(rc.address, rc.connect_timeout_s)
        import ray

        self.spec, self.max_retries = spec, rc.max_retries
        self.task_timeout_s, self.start_timeout_s = rc.task_timeout_s, rc.start_timeout_s
        self._started_ray = started and rc.address is None
        self.actors: list[Any] = []
        self.kind: dict[Any, str] = {}    # actor -> "gpu" | "cpu"
        self.kind_names: dict[str, set[str]] = {}  # "gpu" | "cpu" -> the device names of those actors
        self._starting: dict[Any, Any] = {}  # start-up ping -> replacement actor not yet ready
        self._cls: dict[str, Any] = {}
        try:
            resources = ray.cluster_resources()
            self.plan = plan_pool(spec, rc, resources)
            self._cls, self._specs = actor_classes(self.plan, spec)
            for kind, n in (("gpu", self.plan.gpu_actors), ("cpu", self.plan.cpu_actors)):
                for _ in range(n):
                    self._new_actor(kind)
            where = f"{resources.get('CPU', 0):g} CPU(s), {resources.get('GPU', 0):g} GPU(s)"
            ready = await_start(self.actors, self.start_timeout_s, where)
            for actor in [a for a in self.actors if a not in ready]:
                self._drop(actor)
            for actor, name in ready.items():
                self.kind_names.setdefault(self.kind[actor], set()).add(name)
            self.device_names = list(ready.values())
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
        actor running meanwhile: for scores that time the device (``exclusive``)."""
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
                    log.warning(f"a replacement Ray worker could not start: {first_line(err)}")
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
