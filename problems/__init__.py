"""pymoo Problem classes over NAS-Bench-201 cell encodings."""
from __future__ import annotations

from problems._nb201 import WORST, NB201Problem, objectives_of, to_minimised

__all__ = ["NB201Problem", "WORST", "objectives_of", "to_minimised"]
