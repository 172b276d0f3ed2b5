"""Helpers shared by the gradient-based scores: seeded networks, initialisers, layer lists."""
from __future__ import annotations

from typing import Iterator, Literal

import torch
from torch import nn

from evonas.model import TinyNetwork, build_network
from evonas.scores._registry import ScoreContext

__all__ = ["network_for", "kaiming_normal_init", "weighted_layers", "strip_batchnorm", "relu_codes",
           "resolve_seed"]


def resolve_seed(ctx: ScoreContext, seed: int | None) -> int:
    """The settings' seed when given, else the scorer's."""
    return ctx.seed if seed is None else seed


def network_for(ctx: ScoreContext, seed: int, *, C: int | None = None, N: int | None = None,
                init: Literal["default", "fan_in", "fan_out"] = "default") -> TinyNetwork:
    """A network for ``ctx.cell`` on ``ctx.device``, of width ``C`` and depth ``N`` (ctx's when None).

    The initial weights depend only on ``seed`` (they are drawn on the CPU), so a score
    gives the same number on every device up to floating-point round-off.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = build_network(ctx.cell, C=ctx.C if C is None else C, N=ctx.N if N is None else N,
                            num_classes=ctx.dataset.num_classes)
        if init != "default":
            kaiming_normal_init(net, mode=init)
    return net.to(ctx.device)


def kaiming_normal_init(net: nn.Module, mode: Literal["fan_in", "fan_out"]) -> nn.Module:
    """TE-NAS's initialisation: Kaiming-normal conv/linear weights, zero biases, BN at (1, 0)."""
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight, mode=mode, nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    return net


def weighted_layers(net: nn.Module) -> list[nn.Module]:
    """The conv and linear layers, in module order (the layers zero-cost proxies sum over)."""
    return [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def strip_batchnorm(net: nn.Module) -> nn.Module:
    """Replace every BatchNorm2d by an identity, in place (synflow's ``bn=False`` network)."""
    for name, child in list(net.named_children()):
        if isinstance(child, nn.BatchNorm2d):
            setattr(net, name, nn.Identity())
        else:
            strip_batchnorm(child)
    return net


def relu_codes(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Binary activation codes (batch, units): 1 where a ReLU's output is positive, all ReLUs concatenated."""
    codes: list[torch.Tensor] = []

    def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        codes.append((output.detach() > 0).flatten(1))

    handles = [m.register_forward_hook(hook) for m in _relus(net)]
    try:
        with torch.no_grad():
            net(x)
    finally:
        for h in handles:
            h.remove()
    return torch.cat(codes, dim=1)


def _relus(net: nn.Module) -> Iterator[nn.Module]:
    return (m for m in net.modules() if isinstance(m, nn.ReLU))
