"""Cost scores: parameters and FLOPs (fvcore) of the network on the data set's input size."""
from __future__ import annotations

from evonas.cost import count_flops, count_parameters
from evonas.scores._registry import ScoreContext, register_score

__all__ = ["params", "flops"]


@register_score("params", direction="min", reference="NAS-Bench-201 (Dong & Yang, ICLR 2020)")
def params(ctx: ScoreContext, settings: object) -> float:
    """Number of parameters, in millions."""
    return count_parameters(ctx.network()) / 1e6


@register_score("flops", direction="min", reference="fvcore FlopCountAnalysis")
def flops(ctx: ScoreContext, settings: object) -> float:
    """FLOPs of one image at the data set's resolution (fvcore: one multiply-add = 1), in millions."""
    return count_flops(ctx.network(), ctx.dataset.resolution) / 1e6
