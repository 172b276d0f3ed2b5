"""Scores looked up in the shipped NB201 table: oracles for upper-bound experiments, not training-free."""
from __future__ import annotations

from typing import TYPE_CHECKING

from evonas.space.table import load_table

if TYPE_CHECKING:
    from evonas.scores.context import ScoreContext

__all__ = ["valid_12ep"]


def valid_12ep(ctx: ScoreContext, settings: object) -> float:
    """Validation accuracy (%) after NB201's 12-epoch training schedule, read from the shipped table."""
    return float(load_table().column(ctx.dataset.valid_column)[ctx.cell.index])
