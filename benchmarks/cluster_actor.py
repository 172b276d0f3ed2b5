"""The stand-in scoring actor of ``benchmarks/cluster.py`` (no torch: 64 of them fit a 2-core machine).

It answers the scheduler as ``evonas.engine.scorer.Scorer`` does (``about``, ``score``) and takes as
long per cell as the main job's gradient_kernel does, by a model fitted to measured times
(``TimeModel``: seconds per op count on the cell's edges, plus a seeded per-cell residual), scaled to
a chosen mean. Its values are the NB201 ground truth: the cell's 200-epoch CIFAR-10 test error and
its FLOPs (the shipped tables), so the searches it feeds are judged on the objectives themselves.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from evonas.engine.records import Evaluation
from evonas.space.cell import Cell

__all__ = ["TimeModel", "SleepScorer", "TRUTH", "COST"]

TRUTH, COST = "bench_error", "flops"


@dataclass(frozen=True)
class TimeModel:
    """Seconds to score a cell: ``intercept + coef . op_counts`` (op counts over the reduced cell's 6
    edges, ops 0-4), times ``1 + resid_cv * z`` with ``z`` a standard normal seeded by the cell's index,
    floored at 10 % of the intercept, all scaled by ``scale``."""

    intercept: float
    coef: tuple[float, ...]
    resid_cv: float
    scale: float = 1.0

    def seconds(self, cell: Cell) -> float:
        counts = np.bincount(np.asarray(cell.reduced.ops), minlength=5)
        base = self.intercept + float(np.dot(self.coef, counts))
        z = np.random.default_rng(cell.index).standard_normal()
        return self.scale * max(0.1 * self.intercept, base * (1.0 + self.resid_cv * z))


class SleepScorer:
    """Takes ``model.seconds(cell)`` per cell, then answers the truth (as a Ray actor: ``ray.remote``)."""

    def __init__(self, model: TimeModel) -> None:
        from evonas.analysis.quality import true_objectives

        self.model = model
        self.truth = true_objectives("cifar10")  # (test error %, MFLOPs) by NB201 index

    def about(self) -> dict[str, Any]:
        import ray

        context = ray.get_runtime_context()
        return {"device": "cpu", "host": "", "node_id": context.get_node_id(), "ip": ray.util.get_node_ip_address(),
                "gpus": []}

    def score(self, arch: str, only: tuple[str, ...] | None = None) -> Evaluation:
        cell = Cell.from_string(arch)
        t0 = time.perf_counter()
        time.sleep(self.model.seconds(cell))
        error, flops = self.truth[cell.index]
        values = {TRUTH: float(error), COST: float(flops)}
        return Evaluation(arch, cell.index, {k: v for k, v in values.items() if only is None or k in only},
                          wall_time=time.perf_counter() - t0, device="cpu")
