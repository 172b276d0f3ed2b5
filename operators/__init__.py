"""pymoo operators for NAS-Bench-201 cell encodings (6 ints in 0..4)."""
from __future__ import annotations

from operators._crossover import EdgeCrossover
from operators._duplicates import CanonicalDuplicateElimination, canonical_key
from operators._mutation import EdgeMutation
from operators._sampling import CellSampling

__all__ = ["CellSampling", "EdgeCrossover", "EdgeMutation", "CanonicalDuplicateElimination", "canonical_key"]
