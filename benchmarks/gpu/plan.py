"""What a GPU report runs: its sizes and budgets (``Plan``), the clock of a section, the shared context."""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from gpu.report import Report

REPO = Path(__file__).resolve().parents[2]
SECTIONS = ("env", "scores", "objective", "latency", "pool", "main")


@dataclass(frozen=True)
class Plan:
    """Sizes and per-section budgets (seconds) of one report."""

    C: int = 16
    N: int = 5
    score_cells: int = 3
    score_settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    objective_n: int | str = "all"
    objective_actors_per_gpu: int = 4
    latency_n: int = 500
    latency_batches: tuple[int, ...] = (1, 256)
    latency_warmup: int = 5
    latency_repeats: int = 10
    pool_cells: int = 64
    pool_per_gpu: tuple[int, ...] = (1, 2, 4)
    pool_cpu_actors: int = 16
    pool_scores: tuple[str, ...] = ("synflow", "gradient_kernel")
    main_overrides: tuple[str, ...] = ("search.pop_size=20", "search.n_gen=4", "train.recipe.epochs=3")
    budgets: dict[str, float] = field(default_factory=lambda: {
        "env": 20, "scores": 70, "objective": 140, "latency": 130, "pool": 80, "main": 100})
    total_s: float = 540.0
    quick: bool = False
    only_scores: tuple[str, ...] | None = None  # the scores section's scores (None: every registered one)


FULL = Plan()
QUICK = Plan(C=8, N=1, score_cells=1, score_settings={"ntk_cond": {"repeats": 1, "batch_size": 16},
                                                      "linear_regions": {"repeats": 1}},
             objective_n=12, objective_actors_per_gpu=2, latency_n=6, latency_batches=(1, 16), latency_warmup=1,
             latency_repeats=2, pool_cells=6, pool_per_gpu=(1, 2), pool_cpu_actors=2,
             main_overrides=("network.C=8", "network.N=1", "search.pop_size=4", "search.n_gen=1",
                             "train.after_search=false"),
             budgets={"env": 20, "scores": 40, "objective": 20, "latency": 20, "pool": 60, "main": 150}, total_s=300.0,
             quick=True)


class Skip(Exception):
    """A section that cannot run here; the message says why."""


@dataclass
class Budget:
    """A section's time budget, counted from its creation."""

    seconds: float
    start: float = field(default_factory=time.perf_counter)

    @property
    def used(self) -> float:
        return time.perf_counter() - self.start

    @property
    def left(self) -> float:
        return self.seconds - self.used

    @property
    def spent(self) -> bool:
        return self.left <= 0


@dataclass
class Context:
    """What every section reads: the plan, the device, the data set, the report to save into."""

    plan: Plan
    device: torch.device
    dataset: str
    seed: int
    report: "Report"
    python: str = sys.executable

    @property
    def on_gpu(self) -> bool:
        return self.device.type == "cuda"


def error_text(err: BaseException, limit: int = 200) -> str:
    """``Type: message``, first line only, at most ``limit`` characters: one row of the report."""
    return f"{type(err).__name__}: {err}".splitlines()[0][:limit]
