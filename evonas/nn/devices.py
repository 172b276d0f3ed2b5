"""Devices: the choice (``auto|cpu|cuda``), a readable name, the CUDA numerics of scoring and
training, and how many actors or training tasks share a GPU.

Scores must not depend on where they run: ``configure_scoring`` turns TF32 off for matmuls
and cuDNN convolutions (TF32 keeps 10 mantissa bits, and gradient-kernel scores amplify
float32 round-off) and asks cuDNN for deterministic kernels without autotuning. Training
wants speed instead: ``training_numerics`` allows TF32 and cuDNN autotuning inside a block
and restores the previous flags afterwards.
"""
from __future__ import annotations

import contextlib
import math
import platform
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Iterator, Literal

import torch

from evonas.errors import ConfigError

__all__ = ["resolve_device", "device_name", "DEVICE_CHOICES", "configure_scoring", "scoring_flags",
           "training_numerics", "ActorPlan", "plan_actors", "gpu_share", "per_gpu_from_memory"]

DEVICE_CHOICES = ("auto", "cpu", "cuda")


def resolve_device(choice: str = "auto") -> torch.device:
    """``auto``: the (first visible) GPU when there is one, else the CPU; ``cuda`` without a GPU fails."""
    if choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if choice == "cpu":
        return torch.device("cpu")
    if choice == "cuda" or choice.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise ConfigError(f"device: {choice!r} was requested but torch sees no CUDA GPU here; "
                              f"use device: auto or cpu")
        return torch.device(choice)
    raise ConfigError(f"device: unknown value {choice!r}; choose from {list(DEVICE_CHOICES)}")


@lru_cache(maxsize=None)
def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "cpu"


def device_name(device: torch.device | str) -> str:
    """E.g. ``NVIDIA H100 80GB HBM3`` or the CPU model string."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return _cpu_name()


# -- CUDA numerics ------------------------------------------------------------------------
def _set_tf32(enabled: bool) -> None:
    """TF32 for cuBLAS matmuls and cuDNN convolutions through the ``allow_tf32`` switches.

    torch >= 2.9 also has per-backend ``fp32_precision`` settings; its legacy switches set those
    too and keep both views consistent, while setting only the new ones makes every later read
    of ``allow_tf32`` (``torch.backends.cudnn.flags()``, used by ``torch.jit.trace``) fail.
    """
    torch.backends.cuda.matmul.allow_tf32 = enabled
    torch.backends.cudnn.allow_tf32 = enabled


def _tf32() -> tuple[bool, bool]:
    """(matmul, cuDNN conv) TF32 allowed."""
    return bool(torch.backends.cuda.matmul.allow_tf32), bool(torch.backends.cudnn.allow_tf32)


def scoring_flags() -> dict[str, bool]:
    """The process-wide flags that change CUDA results: TF32 for matmul and conv, cuDNN determinism."""
    matmul, conv = _tf32()
    return {"tf32_matmul": matmul, "tf32_conv": conv,
            "cudnn_deterministic": bool(torch.backends.cudnn.deterministic),
            "cudnn_benchmark": bool(torch.backends.cudnn.benchmark)}


def configure_scoring(device: torch.device | str | None = None) -> dict[str, bool]:
    """Full float32 and deterministic cuDNN kernels for scores; returns the flags now in force.

    Call once where a scorer starts (it sets process-wide flags). Safe on a CPU-only build:
    the flags exist there and change nothing. ``device`` is accepted for symmetry and ignored:
    the flags hold for every GPU of the process.
    """
    del device
    _set_tf32(False)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    return scoring_flags()


@contextlib.contextmanager
def training_numerics(device: torch.device | str) -> Iterator[None]:
    """On CUDA: TF32 and cuDNN autotuning inside the block, the previous flags restored after.

    On the CPU nothing changes.
    """
    if torch.device(device).type != "cuda":
        yield
        return
    matmul, conv = _tf32()
    deterministic, benchmark = torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark
    _set_tf32(True)
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = False, True
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = matmul, conv
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = deterministic, benchmark


# -- actors and tasks on GPUs -------------------------------------------------------------
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

    def ray_options(self) -> list[dict[str, float]]:
        """Ray resource options, one per actor (GPU actors first)."""
        return ([{"num_cpus": 1, "num_gpus": self.gpu_fraction}] * self.gpu_actors
                + [{"num_cpus": 1, "num_gpus": 0}] * self.cpu_actors)

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
                cpu_work: bool = True) -> ActorPlan:
    """Place scoring actors on a cluster with ``cpus`` CPU slots and ``gpus`` GPUs: the one capacity rule.

    Without GPUs (or ``device: cpu``): ``num_actors`` CPU actors, default one per CPU slot.
    With GPUs: ``num_actors`` GPU actors (default ``gpus * actors_per_gpu``), each taking a CPU
    slot too, plus ``cpu_actors`` CPU actors beside them (``auto``: every CPU slot the GPU actors
    leave free, when ``cpu_work``, i.e. some score runs on CPU actors; else none).
    More actors than the cluster can place are capped to what it can, with a warning naming both
    numbers (never left waiting for slots that never come); no room for one actor is an error.
    """
    from evonas.errors import EvonasError

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
        n = capped("ray.num_actors", num_actors or slots, slots, where)
        return ActorPlan(0, 0.0, n, tuple(warnings))
    fraction = gpu_share(actors_per_gpu)
    where = f"{cpus:g} CPU(s), {gpus:g} GPU(s) at ray.actors_per_gpu {actors_per_gpu:g}"
    room = min(slots, int(math.floor(gpus * actors_per_gpu + 1e-9)))
    if room < 1:
        raise EvonasError(f"the Ray cluster ({where}) has no room for one scoring worker "
                          f"(each takes 1 CPU and a GPU share)")
    n_gpu = capped("ray.num_actors", num_actors or room, room, where)
    free = slots - n_gpu
    if cpu_actors == "auto":
        n_cpu = free if cpu_work else 0
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
