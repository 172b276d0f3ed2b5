"""Placement on a Ray cluster: how many scoring actors or training tasks share a GPU (no torch)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from evonas.errors import ConfigError, EvonasError

__all__ = ["ActorPlan", "plan_actors", "gpu_share", "per_gpu_from_memory"]


@dataclass(frozen=True)
class ActorPlan:
    """How many scoring actors go where: ``gpu_actors`` sharing the GPUs, ``cpu_actors`` beside them.

    A GPU actor asks Ray for ``gpu_fraction`` of a GPU and one CPU; a CPU actor for one CPU.
    ``warnings`` say what was asked for and capped to what the cluster can place.
    """

    gpu_actors: int
    gpu_fraction: float
    cpu_actors: int
    warnings: tuple[str, ...] = field(default=(), compare=False)

    @property
    def total(self) -> int:
        return self.gpu_actors + self.cpu_actors

    def ray_options(self, kind: Literal["gpu", "cpu"]) -> dict[str, float]:
        """The resources one actor of ``kind`` asks Ray for (``ray.remote(**options)``: the pool's actor classes)."""
        if kind not in ("gpu", "cpu"):
            raise ValueError(f"an actor is of kind 'gpu' or 'cpu', not {kind!r}")
        return {"num_cpus": 1, "num_gpus": self.gpu_fraction if kind == "gpu" else 0}

    def describe(self) -> str:
        parts = []
        if self.gpu_actors:
            per = round(1 / self.gpu_fraction) if self.gpu_fraction else 0
            parts.append(f"{self.gpu_actors} GPU actor(s) ({per} per GPU)")
        if self.cpu_actors:
            parts.append(f"{self.cpu_actors} CPU actor(s)")
        return " + ".join(parts) or "no actors"


def gpu_share(per_gpu: int) -> float:
    """The fraction of a GPU that each of ``per_gpu`` actors or tasks sharing one asks for."""
    if per_gpu < 1:
        raise ConfigError(f"actors or tasks per GPU must be >= 1, got {per_gpu}")
    return 1.0 / per_gpu


def plan_actors(device: Literal["auto", "cpu", "cuda"] | str, *, cpus: float, gpus: float, actors_per_gpu: int = 1,
                cpu_actors: int | Literal["auto"] = 0, num_actors: int | None = None,
                cpu_work: bool = True, busy: int | None = None) -> ActorPlan:
    """Place scoring actors on a cluster with ``cpus`` CPU slots and ``gpus`` GPUs: the one capacity rule.

    Without GPUs (or ``device: cpu``): ``num_actors`` CPU actors, default one per CPU slot.
    With GPUs: ``num_actors`` GPU actors (default ``gpus * actors_per_gpu``), each taking a CPU
    slot too, plus ``cpu_actors`` CPU actors beside them (``auto``: every CPU slot the GPU actors
    leave free, when ``cpu_work``, i.e. some score runs on CPU actors; else none).
    More actors than the cluster can place are capped to what it can, with a warning naming both
    numbers (never left waiting for slots that never come); no room for one actor is an error.
    ``busy``: the most cells the work has in flight at once (a generation's size); the default counts
    (``num_actors`` null, ``cpu_actors`` auto) are capped to it, so no actor is started that would idle.
    """
    cap = (lambda n: n) if busy is None else (lambda n: max(1, min(n, busy)))
    slots = int(math.floor(cpus + 1e-9))
    if device.startswith("cuda") and gpus <= 0:
        raise ConfigError(f"device: {device!r} was requested but the Ray cluster has no GPU")
    warnings: list[str] = []

    def capped(key: str, asked: int, room: int, where: str) -> int:
        if asked > room:
            warnings.append(f"{key}: {asked} workers asked for, but the cluster ({where}) can place {room}; "
                            f"using {room}")
            return room
        return asked

    if device == "cpu" or gpus <= 0:
        where = f"{cpus:g} CPU(s)"
        if slots < 1:
            raise EvonasError(f"the Ray cluster ({where}) has no room for one scoring worker (each takes 1 CPU)")
        n = capped("ray.num_actors", num_actors or cap(slots), slots, where)
        return ActorPlan(0, 0.0, n, tuple(warnings))
    fraction = gpu_share(actors_per_gpu)
    where = f"{cpus:g} CPU(s), {gpus:g} GPU(s) at ray.actors_per_gpu {actors_per_gpu:g}"
    room = min(slots, int(math.floor(gpus * actors_per_gpu + 1e-9)))
    if room < 1:
        raise EvonasError(f"the Ray cluster ({where}) has no room for one scoring worker "
                          f"(each takes 1 CPU and a GPU share)")
    n_gpu = capped("ray.num_actors", num_actors or cap(room), room, where)
    free = slots - n_gpu
    if cpu_actors == "auto":
        n_cpu = cap(free) if cpu_work and free else 0
    else:
        n_cpu = capped("ray.cpu_actors", int(cpu_actors), free, f"{free} CPU slot(s) free beside {n_gpu} GPU actors")
        if n_cpu and not cpu_work:
            warnings.append(f"ray.cpu_actors: {n_cpu} CPU actors asked for, but every score of this run needs "
                            f"the GPU; using 0")
            n_cpu = 0
    return ActorPlan(n_gpu, fraction, n_cpu, tuple(warnings))


def per_gpu_from_memory(peak_bytes: int, gpu_bytes: int, *, headroom: float = 0.8, cap: int = 8) -> int:
    """How many jobs of peak memory ``peak_bytes`` fit on a GPU of ``gpu_bytes`` (at least 1, at most ``cap``).

    ``headroom`` is the share of the GPU's memory they may use together (the CUDA context and
    allocator caches need the rest).
    """
    if peak_bytes <= 0 or gpu_bytes <= 0:
        raise ValueError(f"need positive sizes, got peak {peak_bytes} and GPU {gpu_bytes} bytes")
    return max(1, min(cap, int(gpu_bytes * headroom // peak_bytes)))
