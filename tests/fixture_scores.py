"""Scores for tests only: one that blocks until its worker is killed, one that returns a chosen value,
one that takes a set time.

``register()`` adds them to the registry. The test process calls it on import; every Ray
worker of the test session calls it at start-up (conftest's ``ray_local`` names it as the
workers' setup hook), so actors can score with them like with any shipped score.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from evonas.scores import SCORES, register_score

__all__ = ["register", "started", "BLOCK", "VALUE", "SLEEP", "ON_GPU_ACTOR", "BESIDE_GPU"]

BLOCK = "test_block"
VALUE = "test_value"
SLEEP = "test_sleep"
ON_GPU_ACTOR = "test_on_gpu_actor"  # needs the GPU: scored by GPU actors
BESIDE_GPU = "test_beside_gpu"      # needs nothing: scored by CPU actors beside GPU actors


@dataclass(frozen=True)
class BlockSettings:
    index: int = -1                  # the NB201 index of the cell that blocks; other cells score 1 + index
    modulus: int = 0                 # also block every cell whose index is a multiple of this (0: none)
    signal_dir: str | None = None    # a file <index>.<k> is written there when the k-th attempt starts
    times: int = -1                  # block on the first ``times`` attempts (-1: always; needs signal_dir)


@dataclass(frozen=True)
class ValueSettings:
    modulus: int = 0                 # cells whose index is a multiple of this score ``value`` (0: none)
    value: float = 0.0               # e.g. nan, inf, -5.0; other cells score index / 15625


@dataclass(frozen=True)
class SleepSettings:
    seconds: float = 0.2             # how long each cell takes (on its worker)


def started(signal_dir: str | Path, index: int) -> int:
    """How many attempts at scoring cell ``index`` have started."""
    return len(list(Path(signal_dir).glob(f"{index}.*")))


def _block(ctx, s: BlockSettings) -> float:
    """Blocks on one cell until its worker is killed; 1 + index elsewhere."""
    index = ctx.cell.index
    if index == s.index or (s.modulus and index % s.modulus == 0):
        attempt = 0
        if s.signal_dir is not None:
            attempt = started(s.signal_dir, index)
            (Path(s.signal_dir) / f"{index}.{attempt}").touch()
        if s.times < 0 or attempt < s.times:
            while True:  # until the worker is killed
                time.sleep(0.05)
    return 1.0 + ctx.cell.index


def _value(ctx, s: ValueSettings) -> float:
    """A chosen value (e.g. nan) on every ``modulus``-th cell; index / 15625 elsewhere."""
    if s.modulus and ctx.cell.index % s.modulus == 0:
        return s.value
    return ctx.cell.index / 15625


def _sleep(ctx, s: SleepSettings) -> float:
    """Busy for ``seconds``, then 1 + index: a score whose computation is long enough to overlap others."""
    time.sleep(s.seconds)
    return 1.0 + ctx.cell.index


def _gpu_assigned(ctx, settings) -> float:
    """1 when Ray gave this worker a GPU (CUDA_VISIBLE_DEVICES names one), else 0."""
    import os

    return float(bool(os.environ.get("CUDA_VISIBLE_DEVICES", "").strip()))


def register() -> None:
    """Register the test scores (once per process)."""
    if BLOCK not in SCORES:
        register_score(BLOCK, direction="max", settings=BlockSettings, reference=__file__)(_block)
    if VALUE not in SCORES:
        register_score(VALUE, direction="max", settings=ValueSettings, reference=__file__)(_value)
    if ON_GPU_ACTOR not in SCORES:
        register_score(ON_GPU_ACTOR, direction="max", needs=("gpu",), reference=__file__)(_gpu_assigned)
    if BESIDE_GPU not in SCORES:
        register_score(BESIDE_GPU, direction="max", reference=__file__)(_gpu_assigned)
    if SLEEP not in SCORES:
        register_score(SLEEP, direction="max", settings=SleepSettings, needs=("gpu",), reference=__file__)(_sleep)


register()
