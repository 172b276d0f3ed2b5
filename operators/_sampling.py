"""Initial population: uniformly random connected cells, distinct up to isomorphism."""
from __future__ import annotations

import numpy as np
from pymoo.core.sampling import Sampling

from evonas.errors import ConfigError
from evonas.space.cell import N_EDGES, N_OPS, Cell, all_cells

__all__ = ["CellSampling"]


class CellSampling(Sampling):
    """Draw cells uniformly, keeping only connected ones with canonical forms not yet drawn."""

    def __init__(self, *, connected_only: bool = True, max_draws: int = 100_000) -> None:
        super().__init__()
        self.connected_only = connected_only
        self.max_draws = max_draws

    def _do(self, problem, n_samples, *args, random_state=None, **kwargs):
        rows, seen = [], set()
        for _ in range(self.max_draws):
            if len(rows) == n_samples:
                break
            ops = random_state.integers(0, N_OPS, size=N_EDGES)
            cell = Cell(tuple(ops))
            if (self.connected_only and not cell.is_connected) or cell.canonical in seen:
                continue
            seen.add(cell.canonical)
            rows.append(ops)
        if len(rows) < n_samples:
            kind = "connected cells" if self.connected_only else "cells"
            exist = len({c.canonical for c in all_cells() if c.is_connected or not self.connected_only})
            fix = (f"lower search.pop_size to at most {exist}" if n_samples > exist else
                   f"lower search.pop_size (rare classes take many draws) or give CellSampling more than "
                   f"max_draws={self.max_draws}")
            raise ConfigError(f"could not draw {n_samples} {kind} distinct up to isomorphism in {self.max_draws} "
                              f"draws (found {len(rows)}; the space holds {exist}): {fix}")
        return np.asarray(rows, dtype=int)
