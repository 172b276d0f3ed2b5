"""Cost of a network: FLOPs and parameters counted by fvcore on NB201's input sizes."""
from __future__ import annotations

import warnings

import torch
from torch import nn

with warnings.catch_warnings():  # fvcore.nn scripts its focal losses at import, which torch now deprecates
    warnings.filterwarnings("ignore", message=r"`torch\.jit\.script` is deprecated", module=r"torch\.jit")
    from fvcore.nn import FlopCountAnalysis

from evonas.nn.network import evaluating

__all__ = ["count_flops", "count_parameters"]


def count_flops(model: nn.Module, resolution: int) -> float:
    """fvcore's FLOP count (one fused multiply-add = one FLOP) for a single image, in FLOPs."""
    device = next(model.parameters()).device
    with evaluating(model):
        analysis = FlopCountAnalysis(model, torch.zeros(1, 3, resolution, resolution, device=device))
        analysis.unsupported_ops_warnings(False)
        analysis.uncalled_modules_warnings(False)
        analysis.tracer_warnings("none")
        return float(analysis.total())


def count_parameters(model: nn.Module) -> int:
    """The number of parameter elements of ``model`` (buffers such as BN statistics not counted)."""
    return sum(p.numel() for p in model.parameters())
