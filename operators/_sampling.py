"""Initial population: uniformly random connected cells, distinct up to isomorphism."""
from __future__ import annotations

import numpy as np
from pymoo.core.sampling import Sampling

from evonas.space.cell import N_EDGES, N_OPS, Cell

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
        else:
            raise RuntimeError(f"could not draw {n_samples} distinct cells in {self.max_draws} draws")
        return np.asarray(rows, dtype=int)
