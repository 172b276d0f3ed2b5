"""The score registry: one decorated function per score, one call signature for all.

A score is ``fn(ctx: ScoreContext, settings) -> float`` where ``settings`` is an instance
of the frozen dataclass registered with it (its fields are the score's config keys under
``scores.<name>``). Register with ``@register_score("name", direction="max", ...)``.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Mapping

import torch

from evonas.nn.flops import DatasetSpec
from evonas.nn.images import ImageSet
from evonas.errors import ConfigError
from evonas.nn.network import TinyNetwork, build_network
from evonas.config.strict import from_mapping, suggest
from evonas.space.cell import Cell

__all__ = ["ScoreContext", "ScoreInfo", "SCORES", "register_score", "get_score", "make_settings",
           "NoSettings", "invalid_value"]

Direction = Literal["max", "min"]
Need = Literal["data", "labels", "gpu"]


@dataclass(frozen=True)
class NoSettings:
    """Settings of a score that has none."""


@dataclass(frozen=True)
class ScoreContext:
    """Everything a score may use: the cell, the images (on ``device``), the seed, the network shape."""

    cell: Cell
    device: torch.device
    dataset: DatasetSpec
    data: ImageSet | None = None
    seed: int = 0
    C: int = 16
    N: int = 5

    def network(self, seed: int | None = None) -> TinyNetwork:
        """A freshly initialised network on ``device`` (initial weights fixed by ``seed``)."""
        net = build_network(self.cell, C=self.C, N=self.N, num_classes=self.dataset.num_classes,
                            seed=self.seed if seed is None else seed)
        return net.to(self.device)

    def batch(self, n: int, offset: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """Images ``offset .. offset+n`` of the scoring set and their labels."""
        if self.data is None:
            raise ConfigError("this score needs images, but the scorer was built without data")
        if offset + n > len(self.data):
            raise ConfigError(f"this score needs {offset + n} images but the scorer holds {len(self.data)}; "
                              f"raise data.n_images")
        return self.data.images[offset:offset + n], self.data.labels[offset:offset + n]


@dataclass(frozen=True)
class ScoreInfo:
    """A registered score: the function, whether larger or smaller is better, what it needs."""

    name: str
    fn: Callable[[ScoreContext, Any], float]
    direction: Direction
    needs: frozenset[str] = frozenset()
    settings: type = NoSettings
    reference: str = ""
    description: str = ""
    version: int = 1  # bumped whenever a change to the score changes its values (keys the score cache)
    #: (lowest, highest) meaningful value; finite values outside it are degenerate (the cell fails)
    valid_range: tuple[float, float] = (-math.inf, math.inf)

    def __call__(self, ctx: ScoreContext, settings: Any = None) -> float:
        return float(self.fn(ctx, self.settings() if settings is None else settings))

    def images_needed(self, settings: Any) -> int:
        """How many images this score reads with these settings (0 if none)."""
        n = getattr(settings, "n_images", None)
        return int(n) if n is not None and "data" in self.needs else 0


SCORES: dict[str, ScoreInfo] = {}


def register_score(name: str, *, direction: Direction, needs: tuple[Need, ...] = (),
                   settings: type = NoSettings, reference: str = "", version: int = 1,
                   valid_range: tuple[float, float] = (-math.inf, math.inf)) -> Callable:
    """Decorator registering ``fn(ctx, settings) -> float`` under ``name``.

    ``version``: bump it with every change that changes the score's values, so that the score
    cache does not serve values computed before the change. ``valid_range``: the values that
    mean something (e.g. ``(1, inf)`` for a condition number); any other value, like a
    non-finite one, fails the cell instead of becoming an objective.
    """
    if direction not in ("max", "min"):
        raise ValueError(f"direction must be 'max' or 'min', got {direction!r}")
    if not isinstance(version, int) or version < 1:
        raise ValueError(f"version must be a positive int, got {version!r}")
    low, high = (float(v) for v in valid_range)
    if not low <= high:
        raise ValueError(f"valid_range must be (low, high) with low <= high, got {valid_range!r}")

    def decorate(fn: Callable[[ScoreContext, Any], float]) -> Callable[[ScoreContext, Any], float]:
        if name in SCORES:
            raise ValueError(f"score {name!r} is registered twice")
        doc = (fn.__doc__ or "").strip().splitlines()
        SCORES[name] = ScoreInfo(name, fn, direction, frozenset(needs), settings, reference,
                                 doc[0] if doc else "", version, (low, high))
        return fn

    return decorate


def get_score(name: str) -> ScoreInfo:
    if name not in SCORES:
        raise ConfigError(f"unknown score {name!r}{suggest(name, SCORES)}; choose from {sorted(SCORES)}")
    return SCORES[name]


def invalid_value(name: str, value: float) -> str | None:
    """Why ``value`` of score ``name`` cannot be used (not finite, or outside its ``valid_range``); None when it can."""
    if not math.isfinite(value):
        return f"{name} = {value!r} is not finite"
    low, high = get_score(name).valid_range
    if not low <= value <= high:
        return f"{name} = {value!r} is outside its valid range [{low:g}, {high:g}]"
    return None


def make_settings(name: str, values: Mapping[str, Any] | None = None) -> Any:
    """Validated settings of score ``name`` from a plain mapping (config ``scores.<name>``)."""
    info = get_score(name)
    return from_mapping(info.settings, dict(values or {}), f"scores.{name}")


def settings_dict(settings: Any) -> dict[str, Any]:
    return dataclasses.asdict(settings)
