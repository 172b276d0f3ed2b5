"""Scoring a population through a pool, never scoring an isomorphic cell twice in a run."""
from __future__ import annotations

import time
from typing import Callable

from evonas.pool import Evaluation, Pool
from evonas.results import CandidateLog
from evonas.space import Cell

__all__ = ["Evaluator"]


class Evaluator:
    """Callable ``cells -> evaluations`` (None for disconnected cells, which are not scored).

    ``memo`` maps canonical forms to evaluations already made (in this run or read back
    from candidates.csv on resume); only cells missing from it go to the pool, and each
    new result is appended to the log as soon as it arrives.
    """

    def __init__(self, pool: Pool, log: CandidateLog | None = None,
                 memo: dict[str, Evaluation] | None = None,
                 on_result: Callable[[Evaluation], None] | None = None) -> None:
        self.pool = pool
        self.log = log
        self.memo: dict[str, Evaluation] = dict(memo or {})
        self.on_result = on_result
        self.generation = 0
        self.n_scored = 0           # scored by this process
        self.n_reused = 0           # answered from the memo
        self.score_seconds = 0.0    # worker time spent scoring
        self.started = time.perf_counter()

    def __call__(self, cells: list[Cell]) -> list[Evaluation | None]:
        results: list[Evaluation | None] = [None] * len(cells)
        waiting: dict[str, list[int]] = {}
        to_score: list[Cell] = []
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
                to_score.append(cell)
        for ev in self.pool.map_unordered(to_score):
            key = Cell.from_string(ev.arch).canonical
            self.memo[key] = ev
            self.n_scored += 1
            self.score_seconds += ev.wall_time
            if self.log is not None:
                self.log.append(ev, self.generation)
            if self.on_result is not None:
                self.on_result(ev)
            for i in waiting[key]:
                results[i] = ev
        return results

    def rate(self) -> float:
        """Cells scored per second of wall time since the start."""
        return self.n_scored / max(time.perf_counter() - self.started, 1e-9)
