"""Scoring a population through a pool, never scoring an isomorphic cell twice.

Every cell is replaced by its cheapest equivalent (``Cell.reduced``, one per isomorphism
class) before it is scored: an evaluation names the cell its values belong to, whichever
member of the class the search proposed (the first proposed one is kept in ``proposed``).
Within a run, a memo by canonical form answers classes already scored (in this process or,
on resume, read back from candidates.csv). Across runs, an optional score cache answers
single scores of the reduced cell computed before under the same settings; only what is
missing goes to the pool, and each new result is appended to the log the moment it arrives.
"""
from __future__ import annotations

import itertools
import time
from typing import Callable, Iterator

from evonas.cache import ScoreCache
from evonas.pool import Evaluation, Pool
from evonas.results import CandidateLog
from evonas.space import Cell

__all__ = ["Evaluator"]


class Evaluator:
    """Callable ``cells -> evaluations`` (None for disconnected cells, which are not scored)."""

    def __init__(self, pool: Pool, scores: tuple[str, ...], *, log: CandidateLog | None = None,
                 memo: dict[str, Evaluation] | None = None, caches: dict[str, ScoreCache] | None = None,
                 on_result: Callable[[Evaluation], None] | None = None,
                 proposed: dict[str, str] | None = None) -> None:
        self.pool = pool
        self.scores = tuple(scores)
        self.log = log
        self.memo: dict[str, Evaluation] = dict(memo or {})
        self.proposed: dict[str, str] = dict(proposed or {})  # canonical -> the arch the search first proposed
        self.caches = caches or {}
        self.on_result = on_result
        self.generation = 0
        self.n_scored = 0           # new evaluations made by this process (pool or cache)
        self.n_cached = 0           # of which answered entirely from the score cache
        self.n_cache_values = 0     # single score values read from the score cache
        self.n_reused = 0           # answered from the run's memo
        self.score_seconds = 0.0    # worker time spent scoring
        self.started = time.perf_counter()

    def __call__(self, cells: list[Cell]) -> list[Evaluation | None]:
        results: list[Evaluation | None] = [None] * len(cells)
        waiting: dict[str, list[int]] = {}
        new: list[Cell] = []
        for i, cell in enumerate(cells):
            if not cell.is_connected:
                continue
            key = cell.canonical
            if key in self.memo:
                results[i] = self.memo[key]
                self.n_reused += 1
            elif key in waiting:
                waiting[key].append(i)
            else:
                waiting[key] = [i]
                new.append(cell.reduced)
                self.proposed.setdefault(key, cell.arch)
        cached = {cell.arch: self._cached(cell.arch) for cell in new}
        self.n_cache_values += sum(map(len, cached.values()))
        todo = {cell.arch: tuple(s for s in self.scores if s not in cached[cell.arch]) for cell in new}
        from_cache = [Evaluation(c.arch, c.index, cached[c.arch], device="cache") for c in new if not todo[c.arch]]
        self.n_cached += len(from_cache)
        computed = self.pool.map_unordered([c for c in new if todo[c.arch]], todo)
        for ev in itertools.chain(from_cache, computed):
            key = Cell.from_string(ev.arch).canonical
            if ev.device != "cache":
                self._store(ev, cached[ev.arch])
            self.memo[key] = ev
            self.n_scored += 1
            self.score_seconds += ev.wall_time
            if self.log is not None:
                self.log.append(ev, self.generation, proposed=self.proposed[key])
            if self.on_result is not None:
                self.on_result(ev)
            for i in waiting[key]:
                results[i] = ev
        for cell in new:  # the memo in submission order, whatever order the results arrived in
            if cell.canonical in self.memo:
                self.memo[cell.canonical] = self.memo.pop(cell.canonical)
        return results

    def _cached(self, arch: str) -> dict[str, float]:
        values = {name: cache.get(arch) for name, cache in self.caches.items()}
        return {name: v for name, v in values.items() if v is not None}

    def _store(self, ev: Evaluation, cached: dict[str, float]) -> None:
        """Put fresh values into the cache; give the evaluation every score, in objective order."""
        for name, value in ev.values.items():
            if name in self.caches:
                self.caches[name].put(ev.arch, value)
        merged = {**cached, **ev.values}
        ev.values = {s: merged[s] for s in self.scores if s in merged}

    @property
    def n_failed(self) -> int:
        """Classes of this run whose scoring failed."""
        return sum(not ev.ok for ev in self.memo.values())

    def rate(self) -> float:
        """Cells scored per second of wall time since the start."""
        return self.n_scored / max(time.perf_counter() - self.started, 1e-9)
