"""The Ray pool: persistent scoring actors on GPUs and CPUs, with retries, timeouts and replacement.

A cell is never silently dropped and the run never waits without bound (see ``RayPool``).
"""
from __future__ import annotations

import dataclasses
import logging
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Mapping

from evonas.engine.cluster import start_ray
from evonas.engine.records import Evaluation, ScorerSpec, failed
from evonas.engine.scorer import Scorer
from evonas.errors import EvonasError
from evonas.nn.placement import plan_actors
from evonas.scores import get_score
from evonas.space.cell import Cell

__all__ = ["RayPool", "runs_beside_gpu"]

log = logging.getLogger("evonas")


def runs_beside_gpu(name: str) -> bool:
    """Whether CPU actors beside GPU actors take score ``name``: it runs no network on the scoring
    images (``needs`` neither data, labels nor gpu) and times nothing (not ``exclusive``),
    e.g. FLOPs and parameter counts, table look-ups, synflow."""
    return not (get_score(name).needs & {"data", "labels", "gpu"}) and not get_score(name).exclusive


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
    """Persistent Ray actors placed by ``evonas.nn.placement.plan_actors``: GPU actors (``actors_per_gpu``
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
