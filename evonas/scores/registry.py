"""The score registry: each score's metadata and function, one call signature for all (no torch).

A score is ``fn(ctx: ScoreContext, settings) -> float`` where ``settings`` is an instance
of the frozen dataclass registered with it (its fields are the score's config keys under
``scores.<name>``). Register with ``@register_score("name", direction="max", ...)``; the
built-in scores are declared in ``evonas.scores.catalog`` with their function as a
``"module:function"`` reference, imported on the first call, so reading the registry
imports no torch.
"""
from __future__ import annotations

import functools
import importlib
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable, Literal, Mapping

from evonas.strict import from_mapping, suggest
from evonas.errors import ConfigError

if TYPE_CHECKING:
    from evonas.scores.context import ScoreContext

__all__ = ["Direction", "minimise_sign", "ScoreInfo", "SCORES", "register_score", "get_score", "make_settings", "NoSettings", "invalid_value",
           "split_exclusive", "exclusive_scores"]

Need = Literal["data", "labels", "gpu"]
Direction = Literal["max", "min"]


def minimise_sign(direction: str) -> float:
    """The factor that turns an objective into one to minimise: +1.0 for "min", -1.0 for "max"."""
    if direction not in ("max", "min"):
        raise ValueError(f"direction must be 'max' or 'min', got {direction!r}")
    return -1.0 if direction == "max" else 1.0


ScoreFn = Callable[["ScoreContext", Any], float]


@dataclass(frozen=True)
class NoSettings:
    """Settings of a score that has none."""


@functools.lru_cache(maxsize=None)
def resolve(ref: str) -> ScoreFn:
    """The function a ``"module:function"`` reference names (its module imported on the first call)."""
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)


@dataclass(frozen=True)
class ScoreInfo:
    """A registered score: the function, whether larger or smaller is better, what it needs."""

    name: str
    fn: ScoreFn | str  # the function, or a "module:function" reference imported on the first call
    direction: Direction
    needs: frozenset[str] = frozenset()
    settings: type = NoSettings
    reference: str = ""
    description: str = ""
    version: int = 1  # bumped whenever a change to the score changes its values (keys the score cache)
    #: (lowest, highest) meaningful value; finite values outside it are degenerate (the cell fails)
    valid_range: tuple[float, float] = (-math.inf, math.inf)
    #: timed alone: a pool scores it one cell at a time with nothing else running on the device
    exclusive: bool = False

    @property
    def function(self) -> ScoreFn:
        """The score's function (a reference is resolved here)."""
        return resolve(self.fn) if isinstance(self.fn, str) else self.fn

    def __call__(self, ctx: "ScoreContext", settings: Any = None) -> float:
        return float(self.function(ctx, self.settings() if settings is None else settings))

    def images_needed(self, settings: Any) -> int:
        """How many images this score reads with these settings (0 if none)."""
        n = getattr(settings, "n_images", None)
        return int(n) if n is not None and "data" in self.needs else 0


SCORES: dict[str, ScoreInfo] = {}


def register_score(name: str, *, direction: Direction, needs: tuple[Need, ...] = (),
                   settings: type = NoSettings, reference: str = "", version: int = 1,
                   valid_range: tuple[float, float] = (-math.inf, math.inf), exclusive: bool = False,
                   description: str | None = None) -> Callable:
    """Decorator registering ``fn(ctx, settings) -> float`` (or a ``"module:function"`` reference) under ``name``.

    ``version``: bump it with every change that changes the score's values, so that the score
    cache does not serve values computed before the change. ``valid_range``: the values that
    mean something (e.g. ``(1, inf)`` for a condition number); any other value, like a
    non-finite one, fails the cell instead of becoming an objective. ``exclusive``: the score
    times the device, so it is scored alone, with nothing else running beside it.
    ``description``: one line (default: the first line of the function's docstring).
    """
    if direction not in ("max", "min"):
        raise ValueError(f"direction must be 'max' or 'min', got {direction!r}")
    if not isinstance(version, int) or version < 1:
        raise ValueError(f"version must be a positive int, got {version!r}")
    low, high = (float(v) for v in valid_range)
    if not low <= high:
        raise ValueError(f"valid_range must be (low, high) with low <= high, got {valid_range!r}")

    def decorate(fn: ScoreFn | str) -> ScoreFn | str:
        if name in SCORES:
            raise ValueError(f"score {name!r} is registered twice")
        if description is None and isinstance(fn, str):
            raise ValueError(f"score {name!r}: a function given by reference needs a description")
        doc = (getattr(fn, "__doc__", None) or "").strip().splitlines() if description is None else [description]
        SCORES[name] = ScoreInfo(name, fn, direction, frozenset(needs), settings, reference,
                                 doc[0] if doc else "", version, (low, high), bool(exclusive))
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


def split_exclusive(scores: Iterable[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(scores that may share the device, scores that need it to themselves), order kept."""
    names = tuple(scores)
    alone = {n for n in names if n in SCORES and SCORES[n].exclusive}
    return tuple(n for n in names if n not in alone), tuple(n for n in names if n in alone)


def exclusive_scores() -> tuple[str, ...]:
    """The names of the registered scores timed alone (``exclusive``), sorted."""
    return tuple(sorted(n for n, info in SCORES.items() if info.exclusive))
