"""Scoring pools: the pool interface, the in-process pool, and ``make_pool`` by backend name.

A pool's workers are long-lived ``Scorer``s; ``SerialPool`` holds one in this process,
``RayPool`` (``evonas.engine.ray_pool``) many as Ray actors.
"""
from __future__ import annotations

import time
from collections import deque
from typing import Iterable, Iterator, Mapping, Protocol

from evonas.config.schema import RayConfig
from evonas.engine.ray_pool import RayPool
from evonas.engine.records import Evaluation, ScorerSpec
from evonas.engine.scorer import Scorer
from evonas.errors import ConfigError
from evonas.space.cell import Cell

__all__ = ["Pool", "SerialPool", "make_pool"]


class Pool(Protocol):
    """What the evaluator and the search need of a pool.

    ``map_unordered`` scores a batch and yields each cell as it finishes, device-timing scores
    (``exclusive``, latency) after the cell's others, with the device to themselves; ``map_exclusive``
    times every score so. ``submit`` and ``poll`` are the same work without a batch: cells join while
    others are in flight, and each is returned as it finishes (the asynchronous search).
    """

    spec: ScorerSpec
    num_workers: int
    device_kind: str
    outstanding: int

    def submit(self, cells: Iterable[Cell], only: Mapping[str, tuple[str, ...]] | None = None, *,
               exclusive: bool = False) -> None: ...

    def poll(self, timeout: float | None = None) -> list[Evaluation]: ...

    def map_unordered(self, cells: Iterable[Cell], only: Mapping[str, tuple[str, ...]] | None = None
                      ) -> Iterator[Evaluation]: ...

    def map_exclusive(self, cells: Iterable[Cell], only: Mapping[str, tuple[str, ...]] | None = None
                      ) -> Iterator[Evaluation]: ...

    def device_for(self, score: str) -> str: ...

    def utilisation(self) -> float: ...

    def close(self) -> None: ...


class SerialPool:
    """One in-process scorer: for debugging and small jobs. It always has the device to itself, so
    device-timing scores need no phase of their own."""

    num_workers = 1

    def __init__(self, spec: ScorerSpec) -> None:
        self.spec = spec
        self.scorer = Scorer(spec)
        self._queue: deque[tuple[Cell, tuple[str, ...] | None]] = deque()
        self._busy_s = 0.0
        self._since = time.perf_counter()

    @property
    def device_kind(self) -> str:
        return self.scorer.device_name

    def _score(self, cell: Cell, only: tuple[str, ...] | None) -> Evaluation:
        t0, started = time.perf_counter(), time.time()
        ev = self.scorer.score(cell.arch, only)
        ev.started, ev.ended, ev.actor = started, time.time(), "serial"
        self._busy_s += time.perf_counter() - t0
        return ev

    def map_unordered(self, cells: Iterable[Cell], only: Mapping[str, tuple[str, ...]] | None = None
                      ) -> Iterator[Evaluation]:
        """Score each cell (``only[arch]``: just these scores of that cell)."""
        for cell in cells:
            yield self._score(cell, (only or {}).get(cell.arch))

    map_exclusive = map_unordered

    def submit(self, cells: Iterable[Cell], only: Mapping[str, tuple[str, ...]] | None = None, *,
               exclusive: bool = False) -> None:
        self._queue.extend((cell, (only or {}).get(cell.arch)) for cell in cells)

    def poll(self, timeout: float | None = None) -> list[Evaluation]:
        """The next queued cell, scored now ([] when none is queued)."""
        return [self._score(*self._queue.popleft())] if self._queue else []

    @property
    def outstanding(self) -> int:
        return len(self._queue)

    def utilisation(self) -> float:
        return self._busy_s / max(time.perf_counter() - self._since, 1e-9)

    def device_for(self, score: str) -> str:
        """The device that computes ``score`` (keys its cache)."""
        return self.scorer.device_name

    def close(self) -> None:
        pass

    def __enter__(self) -> "SerialPool":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def make_pool(spec: ScorerSpec, ray_config: RayConfig = RayConfig(), *, busy: int | None = None
              ) -> SerialPool | RayPool:
    """The pool ``ray_config.backend`` names (a config's ``ray`` section): ``ray`` (local or cluster,
    ``RayPool`` under the rest of ``ray_config``; ``busy``: the most cells the work keeps in flight, which caps
    the default number of actors) or ``serial`` (in process)."""
    if ray_config.backend == "serial":
        return SerialPool(spec)
    if ray_config.backend == "ray":
        return RayPool(spec, ray_config, busy=busy)
    raise ConfigError(f"ray.backend: unknown backend {ray_config.backend!r}; choose from ['ray', 'serial']")
