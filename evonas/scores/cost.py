"""Cost scores: parameters and FLOPs (fvcore) of the network on the data set's input size.

For the benchmark's own network shape (C=16, N=5 on CIFAR-10/100 or ImageNet16-120) both are
read from the shipped fvcore table (``evonas/data/nb201_cost.npz``, built by
``python -m evonas.builders.cost`` and tested against live fvcore); any other shape is
counted by fvcore on the spot. The table stores millions in float32, so the two paths agree to
about 1e-7 relative.
"""
from __future__ import annotations

from evonas.nn.flops import count_flops, count_parameters
from evonas.scores.context import ScoreContext
from evonas.space.table import load_table

__all__ = ["params", "flops", "shipped_cost"]

TABLE_SHAPE = (16, 5)


def shipped_cost(ctx: ScoreContext, kind: str) -> float | None:
    """``kind`` ("flops" or "params", in millions) of ``ctx``'s network from the shipped table, None if absent."""
    if (ctx.C, ctx.N) != TABLE_SHAPE:
        return None
    table = load_table()
    column = table.columns.get(f"{kind}_{ctx.dataset.name}")
    return None if column is None else float(column[table.index(ctx.cell)])


def params(ctx: ScoreContext, settings: object) -> float:
    """Number of parameters, in millions."""
    shipped = shipped_cost(ctx, "params")
    return count_parameters(ctx.network()) / 1e6 if shipped is None else shipped


def flops(ctx: ScoreContext, settings: object) -> float:
    """FLOPs of one image at the data set's resolution (fvcore: one multiply-add = 1), in millions."""
    shipped = shipped_cost(ctx, "flops")
    return count_flops(ctx.network(), ctx.dataset.resolution) / 1e6 if shipped is None else shipped
