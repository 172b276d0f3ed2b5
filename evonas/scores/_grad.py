"""Helpers shared by the gradient-based scores: initialisers, layer lists, hooks, per-sample gradients."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, Literal

import torch
import torch.nn.functional as F
from torch import nn

if TYPE_CHECKING:
    from evonas.scores.context import ScoreContext

__all__ = ["scoring_format", "kaiming_normal_init", "weighted_layers", "strip_batchnorm", "relu_codes",
           "resolve_seed", "GroupStatNorm", "swap_batchnorms", "owners", "layer_io", "per_sample_gradients"]


def scoring_format(device: torch.device) -> torch.memory_format:
    """The memory format a score runs its network in: channels-last on the CPU, where NB201's 3x3 average pools
    run 4-8x faster in it (and the convolutions no slower) with the same values; contiguous elsewhere (the GPU's
    choice is left to ``benchmarks/gpu_report.py`` to measure)."""
    return torch.channels_last if torch.device(device).type == "cpu" else torch.contiguous_format


def resolve_seed(ctx: ScoreContext, seed: int | None) -> int:
    """The settings' seed when given, else the scorer's."""
    return ctx.seed if seed is None else seed


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


def forward_with_hooks(net: nn.Module, x: torch.Tensor, modules: Iterable[nn.Module], hook: Callable,
                       *, pre: bool = False) -> torch.Tensor:
    """One forward pass without gradients with ``hook`` on ``modules`` (a pre-hook if ``pre``), removed after."""
    register = (lambda m: m.register_forward_pre_hook(hook)) if pre else (lambda m: m.register_forward_hook(hook))
    handles = [register(m) for m in modules]
    try:
        with torch.no_grad():
            return net(x)
    finally:
        for h in handles:
            h.remove()


def relu_codes(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Binary activation codes (batch, units): 1 where a ReLU's output is positive, all ReLUs concatenated."""
    codes: list[torch.Tensor] = []

    def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        codes.append((output.detach() > 0).flatten(1))

    forward_with_hooks(net, x, relus(net), hook)
    return torch.cat(codes, dim=1)


def relus(net: nn.Module) -> Iterator[nn.Module]:
    return (m for m in net.modules() if isinstance(m, nn.ReLU))


class GroupStatNorm(nn.Module):
    """A BatchNorm2d that normalises each group of ``group`` consecutive samples with its own statistics.

    ``group=None`` normalises with the BN's running statistics instead (eval mode). The
    module keeps the BN's own weight and bias parameters.
    """

    def __init__(self, bn: nn.BatchNorm2d, group: int | None) -> None:
        super().__init__()
        self.weight, self.bias, self.eps, self.group = bn.weight, bn.bias, bn.eps, group
        self.register_buffer("running_mean", bn.running_mean)
        self.register_buffer("running_var", bn.running_var)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        if self.group is None:
            return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0, self.eps)
        if self.group == 1:
            return F.instance_norm(x, weight=self.weight, bias=self.bias, eps=self.eps)
        n = b // self.group
        g = x.view(n, self.group, c, h, w).transpose(1, 2).reshape(n, c, self.group * h, w)
        out = F.instance_norm(g, weight=self.weight, bias=self.bias, eps=self.eps)
        return out.view(n, c, self.group, h, w).transpose(1, 2).reshape(b, c, h, w)

    def normalised(self, x: torch.Tensor) -> torch.Tensor:
        """The normalised input (before the affine map)."""
        b, c, h, w = x.shape
        if self.group is None:
            return (x - self.running_mean[:, None, None]) / torch.sqrt(self.running_var[:, None, None] + self.eps)
        if self.group == 1:  # per sample and channel: a reduction over the contiguous last axis
            d = x.reshape(b, c, h * w)
            d = d - d.mean(dim=2, keepdim=True)
            return (d * torch.rsqrt(d.square().mean(dim=2, keepdim=True) + self.eps)).view(b, c, h, w)
        g = x.view(b // self.group, self.group, c, h * w)
        mean = g.mean(dim=(1, 3), keepdim=True)
        var = g.var(dim=(1, 3), unbiased=False, keepdim=True)
        return ((g - mean) / torch.sqrt(var + self.eps)).view(b, c, h, w)


def swap_batchnorms(net: nn.Module, group: int | None) -> nn.Module:
    """Replace every BatchNorm2d by a ``GroupStatNorm`` (same parameters), in place; ReLUs stop working in place."""
    for name, child in list(net.named_children()):
        if isinstance(child, nn.BatchNorm2d):
            setattr(net, name, GroupStatNorm(child, group))
        else:
            if isinstance(child, nn.ReLU):
                child.inplace = False  # saved layer outputs must keep their values
            swap_batchnorms(child, group)
    return net


def owners(net: nn.Module, params: list[nn.Parameter]) -> list[tuple[nn.Module, str]]:
    """The module holding each parameter and the parameter's attribute name there."""
    where = {id(p): (m, n) for m in net.modules() for n, p in m.named_parameters(recurse=False)}
    return [where[id(p)] for p in params]


def layer_io(net: nn.Module, modules: list[nn.Module], x: torch.Tensor, loss_fn) -> dict[nn.Module, tuple[torch.Tensor, torch.Tensor]]:
    """Forward ``x``, backward ``loss_fn(logits)``; each module's (input, gradient of its output).

    Only the gradients of the listed modules' outputs are computed (no parameter gradients).
    Every module must be called once per forward pass.
    """
    saved: dict[nn.Module, tuple[torch.Tensor, torch.Tensor]] = {}

    def keep(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        saved[module] = (inputs[0].detach(), output)

    handles = [m.register_forward_hook(keep) for m in modules]
    try:
        loss = loss_fn(net(x))
    finally:
        for h in handles:
            h.remove()
    outs = torch.autograd.grad(loss, [saved[m][1] for m in modules], allow_unused=True)
    return {m: (saved[m][0], torch.zeros_like(saved[m][1]) if g is None else g) for m, g in zip(modules, outs)}


def per_sample_gradients(module: nn.Module, attr: str, x: torch.Tensor, gout: torch.Tensor,
                         n: int | None = None) -> torch.Tensor:
    """Per-sample gradients of the first ``n`` (all when None) flattened entries of ``module.<attr>``.

    ``x`` is the module's input and ``gout`` the gradient of its output, both batched;
    returns (batch, n). Supports ungrouped Conv2d, Linear and ``GroupStatNorm``.
    """
    b = len(x)
    n = getattr(module, attr).numel() if n is None else n
    if attr == "bias":
        return (gout.sum(dim=(2, 3)) if gout.dim() == 4 else gout)[:, :n]
    if isinstance(module, nn.Conv2d):
        if module.groups != 1:
            raise TypeError("per-sample gradients support ungrouped convolutions only")
        if n == module.weight.numel():
            return _conv_weight_per_sample(module, x, gout)
        c_in, kh, kw = module.weight.shape[1:]
        n_out = math.ceil(n / (c_in * kh * kw))
        n_in = math.ceil(n / (kh * kw)) if n_out == 1 else c_in  # entries 0..n-1 lie in these channels
        cols = F.unfold(x[:, :n_in], (kh, kw), dilation=module.dilation, padding=module.padding, stride=module.stride)
        return torch.einsum("bol,bkl->bok", gout[:, :n_out].flatten(2), cols).reshape(b, -1)[:, :n]
    if isinstance(module, nn.Linear):
        n_out = math.ceil(n / module.in_features)
        return (gout[:, :n_out, None] * x[:, None, :]).reshape(b, -1)[:, :n]
    if isinstance(module, GroupStatNorm):
        return (gout * module.normalised(x)).sum(dim=(2, 3))[:, :n]
    raise TypeError(f"no per-sample gradient rule for {type(module).__name__}.{attr}")


def _conv_weight_per_sample(conv: nn.Conv2d, x: torch.Tensor, gout: torch.Tensor) -> torch.Tensor:
    """Every sample's gradient of ``conv.weight`` (batch, numel): one weight-gradient convolution with the batch as
    groups (the samples side by side as channels of one image), the backend's own kernel; 5-8x faster on the CPU
    than forming the unfolded input and contracting it, equal up to float32 round-off."""
    b, c_in = x.shape[:2]
    c_out = gout.shape[1]
    weight = conv.weight.new_empty((b * c_out, c_in, *conv.weight.shape[2:]))
    _, grad, _ = torch.ops.aten.convolution_backward(
        gout.reshape(1, b * c_out, *gout.shape[2:]), x.reshape(1, b * c_in, *x.shape[2:]), weight, None,
        conv.stride, conv.padding, conv.dilation, False, (0, 0), b, (False, True, False))
    return grad.reshape(b, -1)
