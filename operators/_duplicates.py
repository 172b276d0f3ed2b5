"""Duplicate elimination by canonical form: isomorphic cells count as the same individual.

They are the same individual for the search: every member of a class is scored as the class's
cheapest cell (``Cell.reduced``), so all of them carry the same objective values.
"""
from __future__ import annotations

import numpy as np
from pymoo.core.duplicate import DuplicateElimination

from evonas.space.cell import Cell

__all__ = ["CanonicalDuplicateElimination", "canonical_key"]


def canonical_key(x: np.ndarray) -> str:
    """The canonical form of the cell an encoding row describes."""
    return Cell(tuple(int(v) for v in x)).canonical


class CanonicalDuplicateElimination(DuplicateElimination):
    """Marks an individual duplicate when a cell isomorphic to it is in ``other`` or earlier in ``pop``."""

    def _do(self, pop, other, is_duplicate):
        seen = set() if other is None else {canonical_key(x) for x in other.get("X")}
        for i, x in enumerate(pop.get("X")):
            key = canonical_key(x)
            if key in seen:
                is_duplicate[i] = True
            else:
                seen.add(key)
        return is_duplicate
