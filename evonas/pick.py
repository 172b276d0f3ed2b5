"""Choosing one architecture from a finished run's front: by id or under constraints."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from evonas.config import ObjectiveConfig
from evonas.errors import EvonasError

__all__ = ["Constraint", "pick"]


@dataclass(frozen=True)
class Constraint:
    column: str
    bound: float
    upper: bool = True  # True: value <= bound; False: value >= bound

    def holds(self, row: dict[str, Any]) -> bool:
        value = float(row[self.column])
        return value <= self.bound if self.upper else value >= self.bound

    def __str__(self) -> str:
        return f"{self.column} {'<=' if self.upper else '>='} {self.bound:g}"


def pick(front: Sequence[dict[str, Any]], objectives: Sequence[ObjectiveConfig], *,
         id: int | None = None, constraints: Sequence[Constraint] = ()) -> dict[str, Any]:
    """The front member with ``id``, or the best one satisfying every constraint.

    "Best" is judged by the first objective whose column is not constrained (for a
    (knas, flops) search with ``--max-flops``: the highest KNAS score).
    """
    if not front:
        raise EvonasError("the run's front is empty: nothing to pick")
    if id is not None:
        ids = [int(r["id"]) for r in front]
        if id not in ids:
            raise EvonasError(f"--id {id} is not on the front; ids are {min(ids)}..{max(ids)}")
        return next(r for r in front if int(r["id"]) == id)
    for c in constraints:
        if c.column not in front[0]:
            raise EvonasError(f"cannot constrain {c.column!r}: pareto.csv has no such column")
    chosen = [r for r in front if all(c.holds(r) for c in constraints)]
    if not chosen:
        raise EvonasError("no front member satisfies " + " and ".join(map(str, constraints))
                          + "; relax the limit")
    constrained = {c.column for c in constraints}
    by = next((o for o in objectives if o.score not in constrained), objectives[0])
    sign = -1.0 if by.direction == "max" else 1.0
    return min(chosen, key=lambda r: sign * float(r[by.score]))
