"""Scoring pools: the pool interface, the in-process pool, phased scoring, and ``make_pool`` by backend name.

A pool's workers are long-lived ``Scorer``s; ``SerialPool`` holds one in this process,
``RayPool`` (``evonas.engine.ray_pool``) many as Ray actors.
"""
from __future__ import annotations

from typing import Iterable, Iterator, Mapping, Protocol

from evonas.config.schema import RayConfig
from evonas.engine.ray_pool import RayPool
from evonas.engine.records import Evaluation, ScorerSpec
from evonas.engine.scorer import Scorer
from evonas.errors import ConfigError
from evonas.scores import split_exclusive
from evonas.space.cell import Cell

__all__ = ["Pool", "SerialPool", "make_pool", "map_phased"]


class Pool(Protocol):
    """What the evaluator and the search need of a pool."""

    spec: ScorerSpec
    num_workers: int
    device_kind: str

    def map_unordered(self, cells: Iterable[Cell], only: Mapping[str, tuple[str, ...]] | None = None
                      ) -> Iterator[Evaluation]: ...

    def map_exclusive(self, cells: Iterable[Cell], only: Mapping[str, tuple[str, ...]] | None = None
                      ) -> Iterator[Evaluation]: ...

    def close(self) -> None: ...


class SerialPool:
    """One in-process scorer: for debugging and small jobs."""

    num_workers = 1

    def __init__(self, spec: ScorerSpec) -> None:
        self.spec = spec
        self.scorer = Scorer(spec)

    @property
    def device_kind(self) -> str:
        return self.scorer.device_name

    def map_unordered(self, cells: Iterable[Cell], only: Mapping[str, tuple[str, ...]] | None = None
                      ) -> Iterator[Evaluation]:
        """Score each cell (``only[arch]``: just these scores of that cell)."""
        for cell in cells:
            yield self.scorer.score(cell.arch, (only or {}).get(cell.arch))

    #: one in-process scorer always has the device to itself
    map_exclusive = map_unordered

    def device_for(self, score: str) -> str:
        """The device that computes ``score`` (keys its cache)."""
        return self.scorer.device_name

    def close(self) -> None:
        pass

    def __enter__(self) -> "SerialPool":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def map_phased(pool: Pool, cells: Iterable[Cell], only: Mapping[str, tuple[str, ...]] | None = None,
               scores: tuple[str, ...] | None = None) -> Iterator[Evaluation]:
    """Score ``cells`` in two phases: the scores that may share the device (``only[arch]``, else
    ``scores``, else the pool's) on every worker until drained, then those that time it
    (``exclusive``) one cell at a time with the device to themselves (``map_exclusive``),
    merged into the first phase's evaluation. A failure in either phase fails the cell; a cell
    failed in the first phase is not timed, and one with nothing to time is yielded as it arrives.
    """
    cells = list(cells)
    default = tuple(scores or pool.spec.scores)
    parts = {c.arch: split_exclusive((only or {}).get(c.arch, default)) for c in cells}
    held: dict[str, Evaluation] = {}
    shared = [c for c in cells if parts[c.arch][0]]
    for ev in pool.map_unordered(shared, {c.arch: parts[c.arch][0] for c in shared}):
        if ev.ok and parts[ev.arch][1]:
            held[ev.arch] = ev
        else:
            yield ev
    timed = [c for c in cells if parts[c.arch][1] and (c.arch in held or not parts[c.arch][0])]
    for ev in pool.map_exclusive(timed, {c.arch: parts[c.arch][1] for c in timed}):
        yield held.pop(ev.arch).merge(ev) if ev.arch in held else ev


def make_pool(spec: ScorerSpec, ray_config: RayConfig = RayConfig()) -> SerialPool | RayPool:
    """The pool ``ray_config.backend`` names (a config's ``ray`` section): ``ray`` (local or cluster,
    ``RayPool`` under the rest of ``ray_config``) or ``serial`` (in process)."""
    if ray_config.backend == "serial":
        return SerialPool(spec)
    if ray_config.backend == "ray":
        return RayPool(spec, ray_config)
    raise ConfigError(f"ray.backend: unknown backend {ray_config.backend!r}; choose from ['ray', 'serial']")
