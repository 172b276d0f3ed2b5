"""Scoring records: what a worker is asked to compute (``ScorerSpec``) and what it returns (``Evaluation``).

Plain data with no torch import: the run directory reads and writes evaluations without
loading the scoring stack, and both types travel to Ray actors as they are.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from evonas.errors import ConfigError
from evonas.scores.registry import get_score, make_settings
from evonas.space.cell import Cell
from evonas.space.datasets import DatasetSpec, dataset_spec

__all__ = ["ScorerSpec", "Evaluation", "failed"]


@dataclass(frozen=True)
class ScorerSpec:
    """What every worker needs to score cells (plain data: it travels to Ray actors)."""

    scores: tuple[str, ...]
    settings: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    dataset: str | DatasetSpec = "cifar10"  # a name, or the spec of a user's data set (``dataset_of``)
    data_root: str | None = None
    n_images: int | None = None  # None: as many as the scores read
    seed: int = 0
    C: int = 16
    N: int = 5
    device: str = "auto"

    def validate(self) -> dict[str, Any]:
        """Check score names, settings and data set up front; return the settings objects."""
        spec = dataset_spec(self.dataset)
        settings = {name: make_settings(name, self.settings.get(name)) for name in self.scores}
        extra = set(self.settings) - set(self.scores)
        if extra:
            raise ConfigError(f"scores: settings given for {sorted(extra)}, which no objective or score list uses")
        need = self.images_needed(settings)
        if self.n_images is not None and self.n_images < need:
            raise ConfigError(f"data.n_images: {self.n_images} is too few; the scores read {need} images")
        have, read = spec.n_train, self.n_images or need
        if spec.custom and have and read > have:
            raise ConfigError(f"the scores read {read} training images but {spec.source.root} has {have}; add images "
                              f"or lower the scores' image counts (e.g. scores.naswot.batch_size)")
        return settings

    def images_needed(self, settings: Mapping[str, Any]) -> int:
        """The most scoring images any of the scores reads under ``settings``."""
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
    """A failed evaluation of ``cell`` with the reason."""
    return Evaluation(cell.arch, cell.index, status="failed", error=error, attempts=attempts, device=device)
