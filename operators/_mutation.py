"""Edge mutation: each edge switches, with probability p, to a different op chosen uniformly."""
from __future__ import annotations

import numpy as np
from pymoo.core.mutation import Mutation

from evonas.space.cell import N_EDGES, N_OPS

__all__ = ["EdgeMutation"]


class EdgeMutation(Mutation):
    """Per-edge mutation (default p = 1/6, one edge per child on average); a mutated edge always changes."""

    def __init__(self, edge_prob: float | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.edge_prob = 1.0 / N_EDGES if edge_prob is None else edge_prob

    def _do(self, problem, X, *args, random_state=None, **kwargs):
        X = np.asarray(X, dtype=int).copy()
        mutate = random_state.random(X.shape) < self.edge_prob
        shift = random_state.integers(1, N_OPS, size=X.shape)  # 1..4: never the same op
        X[mutate] = (X[mutate] + shift[mutate]) % N_OPS
        return X
