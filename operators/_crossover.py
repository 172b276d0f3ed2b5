"""Uniform edge crossover: each edge's op comes from either parent with equal chance."""
from __future__ import annotations

from pymoo.core.crossover import Crossover

__all__ = ["EdgeCrossover"]


class EdgeCrossover(Crossover):
    """Two parents -> two children that swap the ops of a random subset of edges."""

    def __init__(self, prob: float = 0.9, **kwargs) -> None:
        super().__init__(2, 2, prob=prob, **kwargs)

    def _do(self, problem, X, *args, random_state=None, **kwargs):
        _, n_matings, n_var = X.shape
        swap = random_state.random((n_matings, n_var)) < 0.5
        children = X.copy()
        children[0][swap] = X[1][swap]
        children[1][swap] = X[0][swap]
        return children.astype(int)
