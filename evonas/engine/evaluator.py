"""Scoring a population through a pool, never scoring an isomorphic cell twice.

Every cell is replaced by its cheapest equivalent (``Cell.reduced``, one per isomorphism
class) before it is scored: an evaluation names the cell its values belong to, whichever
member of the class the search proposed (the first proposed one is kept in ``proposed``).
Within a run, a memo by canonical form answers classes already scored. The memo is kept in
the order the search first asked for each class, whatever order results arrive in (Ray
delivers them as they finish, the cache first); on resume, what candidates.csv holds (in its
arrival order) is only looked up, and takes its place in the memo when the replayed search
asks for it, so a resumed run's memo, and with it the front and its ids, is the one an
uninterrupted run builds. Across runs, an optional score cache answers
single scores of the reduced cell computed before under the same settings (a cached value the
score's ``valid_range`` refuses is ignored and scored again); only what is missing goes to the pool, and each new result is appended to the log the moment it is complete.
Scores that time the device (``latency``) are measured after a cell's others, with the device to
themselves (the pool's ``map_unordered``).
"""
from __future__ import annotations

import itertools
import time
from typing import Callable, Protocol

from evonas.engine.cache import ScoreCache
from evonas.engine.pool import Pool
from evonas.engine.records import Evaluation
from evonas.scores import invalid_value
from evonas.space.cell import Cell

__all__ = ["Evaluator", "EvaluationLog"]


class EvaluationLog(Protocol):
    """Where each new evaluation is appended the moment it is complete (the run's candidates.csv)."""

    def append(self, ev: Evaluation, generation: int, *, proposed: str | None = None) -> None: ...


class Evaluator:
    """Callable ``cells -> evaluations`` (None for disconnected cells, which are not scored)."""

    def __init__(self, pool: Pool, scores: tuple[str, ...], *, log: EvaluationLog | None = None,
                 resumed: dict[str, Evaluation] | None = None, caches: dict[str, ScoreCache] | None = None,
                 on_result: Callable[[Evaluation], None] | None = None,
                 proposed: dict[str, str] | None = None) -> None:
        self.pool = pool
        self.scores = tuple(scores)
        self.log = log
        self.memo: dict[str, Evaluation] = {}  # by canonical form, in the order the search first asked
        self.resumed: dict[str, Evaluation] = dict(resumed or {})  # read back, not yet asked for again
        self.proposed: dict[str, str] = dict(proposed or {})  # canonical -> the arch the search first proposed
        self.caches = caches or {}
        self.on_result = on_result
        self.generation = 0
        self.n_scored = 0           # new evaluations made by this process (pool or cache)
        self.n_cached = 0           # of which answered entirely from the score cache
        self.n_cache_values = 0     # single score values read from the score cache
        self.n_reused = 0           # answered from the run's memo (or read back on resume)
        self.score_seconds = 0.0    # worker time spent scoring
        self.started = time.perf_counter()
        self._in_pool: dict[str, dict[str, float]] = {}  # arch sent by ``submit`` -> its values from the cache

    def __call__(self, cells: list[Cell]) -> list[Evaluation | None]:
        results: list[Evaluation | None] = [None] * len(cells)
        waiting: dict[str, list[int]] = {}
        first: list[str] = []  # classes asked for the first time, in submission order
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
                first.append(key)
                self.proposed.setdefault(key, cell.arch)
                if key not in self.resumed:
                    new.append(cell.reduced)
        looked = {cell.arch: self._look_up(cell) for cell in new}
        cached = {arch: values for arch, (values, _) in looked.items()}
        todo = {arch: missing for arch, (_, missing) in looked.items()}
        from_cache = [self._from_cache(c, cached[c.arch]) for c in new if not todo[c.arch]]
        for ev in itertools.chain(from_cache, self.pool.map_unordered([c for c in new if todo[c.arch]], todo)):
            if ev.device != "cache":
                self._store(ev, cached[ev.arch])
            for i in waiting[self._record(ev)]:
                results[i] = ev
        for key in first:  # the memo in submission order, whatever order the results arrived in
            if key in self.resumed:
                self.memo[key] = self.resumed.pop(key)
                self.n_reused += 1
                for i in waiting[key]:
                    results[i] = self.memo[key]
            elif key in self.memo:
                self.memo[key] = self.memo.pop(key)
        return results

    def _record(self, ev: Evaluation) -> str:
        """A new evaluation into the memo, the log and the caller's hook; its canonical form."""
        key = Cell.from_string(ev.arch).canonical
        self.memo[key] = ev
        self.n_scored += 1
        self.score_seconds += ev.wall_time
        if self.log is not None:
            self.log.append(ev, self.generation, proposed=self.proposed[key])
        if self.on_result is not None:
            self.on_result(ev)
        return key

    # -- the asynchronous search: one cell in, results as they finish ------------------------------

    def submit(self, cell: Cell) -> Evaluation | None:
        """``cell``'s evaluation now when the run has it (memo, read back on resume) or the cache has every
        score; else None, and its cheapest equivalent goes to the pool (``collect`` returns it)."""
        key = cell.canonical
        self.proposed.setdefault(key, cell.arch)
        if key in self.resumed:
            self.memo[key] = self.resumed.pop(key)
        if key in self.memo:
            self.n_reused += 1
            return self.memo[key]
        reduced = cell.reduced
        cached, todo = self._look_up(reduced)
        if not todo:
            ev = self._from_cache(reduced, cached)
            self._record(ev)
            return ev
        self._in_pool[reduced.arch] = cached
        self.pool.submit([reduced], {reduced.arch: todo})
        return None

    def collect(self, timeout: float | None = None) -> list[Evaluation]:
        """The cells ``submit`` sent to the pool that finished since the last call (waiting up to ``timeout``
        seconds, None: for one), each stored, memoised and logged."""
        out = []
        for ev in self.pool.poll(timeout):
            self._store(ev, self._in_pool.pop(ev.arch, {}))
            self._record(ev)
            out.append(ev)
        return out

    def adopt_resumed(self) -> None:
        """Append what was read back but never asked for again (a resumed run told to stop earlier)."""
        self.memo.update(self.resumed)
        self.resumed.clear()

    def _look_up(self, cell: Cell) -> tuple[dict[str, float], tuple[str, ...]]:
        """A reduced cell's values in the score cache, and the scores still to compute."""
        cached = self._cached(cell.arch)
        self.n_cache_values += len(cached)
        return cached, tuple(s for s in self.scores if s not in cached)

    def _from_cache(self, cell: Cell, cached: dict[str, float]) -> Evaluation:
        """The evaluation of a cell whose every score the cache holds."""
        self.n_cached += 1
        return Evaluation(cell.arch, cell.index, cached, device="cache")

    def _cached(self, arch: str) -> dict[str, float]:
        """The cached values of ``arch``; one that is not finite or outside its score's valid range is
        ignored, so the score is computed again (and the new value replaces it in the cache)."""
        values = {name: cache.get(arch) for name, cache in self.caches.items()}
        return {name: v for name, v in values.items() if v is not None and invalid_value(name, v) is None}

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
