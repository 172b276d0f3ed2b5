"""Re-measuring the noisy (device-timing) objectives of the front until it holds only re-measured cells."""
from __future__ import annotations

import logging
from typing import Any

import numpy as np

from evonas.config.schema import Config
from evonas.engine.evaluator import Evaluator
from evonas.scores import exclusive_scores
from evonas.search.dominance import non_dominated
from evonas.space.cell import Cell
from problems import to_minimised

__all__ = ["noisy_scores", "REMEASURE_REPEATS", "MAX_REMEASURE_ROUNDS", "remeasure_front"]

log = logging.getLogger("evonas")

REMEASURE_REPEATS = 2
MAX_REMEASURE_ROUNDS = 5


def noisy_scores() -> tuple[str, ...]:
    """The measured (noisy) scores whose front values are re-measured at the end of a search: those
    timing the device (registered ``exclusive``), read from the registry now, so a score registered
    after this module was imported counts too."""
    return exclusive_scores()


def remeasure_front(config: Config, evaluator: Evaluator, pool: Any) -> dict[str, dict[str, float]]:
    """Re-measure noisy objectives of the front's members until the front holds only re-measured ones.

    A member's value becomes the median of its first measurement and ``REMEASURE_REPEATS`` new
    ones, so one lucky measurement cannot put a cell on the front. Returns, by canonical form,
    each re-measured score's first value.
    """
    noisy_now = noisy_scores()
    noisy = tuple(o.score for o in config.objectives if o.score in noisy_now)
    first: dict[str, dict[str, float]] = {}
    if not noisy:
        return first
    for _ in range(MAX_REMEASURE_ROUNDS):
        ok = {k: ev for k, ev in evaluator.memo.items() if ev.ok}
        keys = list(ok)
        F = np.array([to_minimised(ok[k].values, config.objectives) for k in keys])
        todo = [keys[i] for i in non_dominated(F) if keys[i] not in first]
        if not todo:
            break
        samples: dict[str, list[dict[str, float]]] = {k: [] for k in todo}
        cells = [Cell.from_string(ok[k].arch) for k in todo]
        for _ in range(REMEASURE_REPEATS):
            for ev in pool.map_exclusive(cells, {c.arch: noisy for c in cells}):  # the device to itself
                if ev.ok:
                    samples[Cell.from_string(ev.arch).canonical].append(ev.values)
        for k in todo:
            ev = ok[k]
            first[k] = {s: ev.values[s] for s in noisy}
            for s in noisy:
                ev.values[s] = float(np.median([ev.values[s]] + [v[s] for v in samples[k]]))
        log.info(f"re-measured {', '.join(noisy)} of {len(todo)} front member(s)")
    return first
