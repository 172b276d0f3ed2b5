"""The Ray pool: persistent scoring actors on GPUs and CPUs, driven by one ``Scheduler`` (retries, timeouts,
replacement, device-exclusive timing, lost nodes).

A cell is never silently dropped and the run never waits without bound (see ``RayPool``).
"""
from __future__ import annotations

import logging
from typing import Any, Iterable, Iterator, Mapping

from evonas.config.schema import RayConfig
from evonas.engine.cluster import start_ray
from evonas.engine.ray_start import actor_classes, await_start, check_versions, plan_pool, runs_beside_gpu
from evonas.engine.records import Evaluation, ScorerSpec
from evonas.engine.scheduler import Scheduler
from evonas.space.cell import Cell

__all__ = ["RayPool", "ScheduledPool", "place", "runs_beside_gpu"]

log = logging.getLogger("evonas")


class ScheduledPool:
    """A pool whose actors a ``Scheduler`` drives: ``submit``/``poll`` (no barrier), ``map_unordered`` and
    ``map_exclusive`` (a batch, drained), the actors' utilisation. A subclass starts the actors and sets
    ``scheduler``; ``RayPool`` is the one evonas scores with.
    """

    scheduler: Scheduler | None = None

    @property
    def num_workers(self) -> int:
        return self.scheduler.num_workers if self.scheduler is not None else 0

    @property
    def actors(self) -> list[Any]:
        """The live actors (started or starting)."""
        return list(self.scheduler.workers) if self.scheduler is not None else []

    @property
    def kind(self) -> dict[Any, str]:
        """Each live actor's kind, "gpu" or "cpu"."""
        return {a: w.kind for a, w in self.scheduler.workers.items()} if self.scheduler is not None else {}

    # -- work ----------------------------------------------------------------------------------------

    def submit(self, cells: Iterable[Cell], only: Mapping[str, tuple[str, ...]] | None = None, *,
               exclusive: bool = False) -> None:
        """Queue ``cells`` for scoring (``only[arch]``: just these scores); ``poll`` returns them as they finish."""
        self.scheduler.submit(cells, only, exclusive=exclusive)

    def poll(self, timeout: float | None = None) -> list[Evaluation]:
        """The cells finished since the last poll (waiting up to ``timeout`` s, None: for one)."""
        return self.scheduler.poll(timeout)

    @property
    def outstanding(self) -> int:
        return self.scheduler.outstanding

    def utilisation(self) -> float:
        """The share of the actors' time spent scoring, since they started."""
        return self.scheduler.utilisation()

    def map_unordered(self, cells: Iterable[Cell], only: Mapping[str, tuple[str, ...]] | None = None
                      ) -> Iterator[Evaluation]:
        """One evaluation per cell, in completion order (``only[arch]``: just these scores)."""
        self._idle_or_fail()
        self.scheduler.submit(cells, only)
        return self.scheduler.drain()

    def map_exclusive(self, cells: Iterable[Cell], only: Mapping[str, tuple[str, ...]] | None = None
                      ) -> Iterator[Evaluation]:
        """Like ``map_unordered``, every score timed with its device to itself (``exclusive`` scores)."""
        self._idle_or_fail()
        self.scheduler.submit(cells, only, exclusive=True)
        return self.scheduler.drain()

    def _idle_or_fail(self) -> None:
        if self.scheduler.outstanding:
            raise RuntimeError("RayPool.map_*: cells submitted earlier are still outstanding; poll them first")

    def close(self) -> None:
        if self.scheduler is not None:
            self.scheduler.close()

    def __enter__(self) -> "ScheduledPool":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class RayPool(ScheduledPool):
    """Persistent Ray actors placed by ``evonas.engine.placement.plan_actors`` under ``ray_config`` (a
    config's ``ray`` section; its ``backend`` is not read here): GPU actors (``actors_per_gpu`` per GPU)
    and CPU actors beside them for the scores ``runs_beside_gpu`` names, or CPU actors only; each asks
    Ray for its plan's ``ray_options``; ``busy`` (the most cells the work keeps in flight, e.g. a generation's
    size) caps the default counts, so no actor is started only to idle. The images are read once here and shipped (``ship_images``); every
    actor is checked to run this driver's evonas, torch and Python.

    The work goes through one ``Scheduler``: ``submit`` and ``poll`` keep every actor busy without a
    barrier (the asynchronous search); ``map_unordered`` scores a batch and yields each cell as it
    finishes, device-timing scores (latency) last, with their device (a GPU, or a node's CPUs) to
    themselves while the other devices keep scoring; ``map_exclusive`` times every score so. Never waits
    without bound: more actors than the cluster can place are capped (with a warning); actors that do
    not start within ``start_timeout_s`` are given up; a cell with no result within ``task_timeout_s``
    has its actor killed and replaced and is retried up to ``max_retries`` times, then reported failed.
    """

    def __init__(self, spec: ScorerSpec, ray_config: RayConfig = RayConfig(), *, busy: int | None = None) -> None:
        rc = ray_config
        started = start_ray(rc.address, rc.connect_timeout_s, runtime_env=rc.runtime_env)
        import ray

        self.spec = spec
        self._started_ray = started and rc.address in (None, "local")
        self.kind_names: dict[str, set[str]] = {}  # "gpu" | "cpu" -> the device names of those actors
        self._cls: dict[str, Any] = {}
        self.scheduler = None
        try:
            resources = ray.cluster_resources()
            self.plan = plan_pool(spec, rc, resources, busy)
            self._cls, self._specs = actor_classes(self.plan, spec)
            self.scheduler = Scheduler(
                spawn=self._new_actor, kill=lambda actor: ray.kill(actor, no_restart=True), scores=spec.scores,
                target_kind=self.target_kind, split={"gpu", "cpu"} <= set(self._cls), beside=runs_beside_gpu,
                max_retries=rc.max_retries, task_timeout_s=rc.task_timeout_s, start_timeout_s=rc.start_timeout_s,
                stuck_factor=rc.stuck_factor, place=_place)
            actors = {self._new_actor(kind): kind for kind, n in (("gpu", self.plan.gpu_actors),
                                                                   ("cpu", self.plan.cpu_actors)) for _ in range(n)}
            where = f"{resources.get('CPU', 0):g} CPU(s), {resources.get('GPU', 0):g} GPU(s)"
            self._waiting = list(actors)
            ready = await_start(self._waiting, rc.start_timeout_s, where)
            for actor in [a for a in actors if a not in ready]:
                ray.kill(actor, no_restart=True)
            self._waiting = []
            for actor, about in ready.items():
                self.scheduler.add(actor, actors[actor], about)
                self.kind_names.setdefault(actors[actor], set()).add(about["device"])
            self.device_names = [about["device"] for about in ready.values()]
            self.scheduler.check_nodes()  # the nodes as they are now: a later loss is logged
        except BaseException:
            self.close()
            raise

    def _new_actor(self, kind: str) -> Any:
        return self._cls[kind].remote(self._specs[kind])

    @property
    def target_kind(self) -> str:
        """The actors on the target device: GPU actors when there are any."""
        return "gpu" if "gpu" in self._cls else "cpu"

    @property
    def device_kind(self) -> str:
        return " + ".join(sorted(set(self.device_names)))

    def device_for(self, score: str) -> str:
        """The device(s) of the actors that compute ``score`` (keys its cache)."""
        kind = "cpu" if {"gpu", "cpu"} <= set(self._cls) and runs_beside_gpu(score) else self.target_kind
        return " + ".join(sorted(self.kind_names.get(kind) or self.device_names))

    def close(self) -> None:
        import ray

        super().close()
        for actor in getattr(self, "_waiting", []):
            ray.kill(actor, no_restart=True)
        self._waiting = []
        if self._started_ray:
            ray.shutdown()
            self._started_ray = False


def place(about: Mapping[str, Any]) -> tuple[str, str, str]:
    """A started actor's node id, node address and device key (``Scorer.about``): its GPUs on its node, or its
    node's CPUs (the device that exclusive work has to itself)."""
    node_id = str(about.get("node_id") or about.get("host") or "")
    gpus = about.get("gpus") or []
    device = f"{node_id}/gpu{','.join(gpus)}" if gpus else f"{node_id}/cpu"
    return node_id, str(about.get("ip") or about.get("host") or ""), device


def _place(about: Mapping[str, Any]) -> tuple[str, str, str]:
    """``place``, for an actor that runs this driver's evonas, torch and Python (else an error: ``check_versions``)."""
    check_versions(about)
    return place(about)
