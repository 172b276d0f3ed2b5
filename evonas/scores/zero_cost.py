"""Zero-cost proxies (Abdelfattah et al., ICLR 2021) and NASWOT (Mellor et al., ICML 2021).

Each score reads one mini-batch of ``batch_size`` training images (synflow reads none) and
a freshly initialised network in train mode, and follows the zero-cost-proxies reference:

- ``grad_norm``: sum over conv/linear layers of the L2 norm of the loss gradient of the weight.
- ``snip``: sum over conv/linear weights of ``|w * dL/dw|`` (connection sensitivity).
- ``fisher``: sum over conv/linear outputs ``a`` and channels of
  ``0.5 * mean_batch((sum_space a * dL/da)^2)``.
- ``jacob_cov``: ``-sum(log(v + k) + 1/(v + k))``, ``k = 1e-5``, over the eigenvalues ``v`` of
  the correlation matrix of the per-image input Jacobians of the summed logits.
- ``grasp``: ``sum -w * (H g)`` over conv/linear weights, with ``g`` the loss gradient and
  ``H g`` its Hessian-gradient product (one double-backward pass, as GraSP computes it).
- ``synflow``: ``sum |w * dR/dw|`` where ``R`` is the summed output of the network with every
  batch norm removed and every parameter replaced by its absolute value, on an all-ones
  input, in double precision (the reference's ``bn=False`` mode).
- ``naswot``: log-determinant (``slogdet``) of ``K = sum_l C_l C_l^T + (1-C_l)(1-C_l)^T`` over every
  ReLU call ``l`` of the forward pass, with ``C_l`` the batch's binary codes (output > 0) there.
  It is ``-inf`` when two images share one code (never seen on a connected cell with the
  default batch).

All are larger-is-better and deterministic for a fixed seed (grasp follows the reference's
sign, under which it correlates positively with accuracy on NB201).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from evonas.scores._grad import forward_with_hooks, relus, strip_batchnorm, weighted_layers
from evonas.scores.context import ScoreContext
from evonas.scores.settings import SynflowSettings, ZeroCostSettings

__all__ = ["grad_norm", "snip", "fisher", "grasp", "grasp_of", "jacob_cov",
           "synflow",
           "naswot", "code_kernel", "jacob_cov_from_jacobians", "synflow_of"]

def _loss_backward(ctx: ScoreContext, s: ZeroCostSettings) -> nn.Module:
    """A seeded network in train mode after one backward pass of the batch's cross-entropy."""
    net = ctx.network(s.seed)
    net.train()
    x, y = ctx.batch(s.batch_size)
    F.cross_entropy(net(x), y).backward()
    return net


def grad_norm(ctx: ScoreContext, s: ZeroCostSettings) -> float:
    """Sum of the per-layer L2 norms of the loss gradient (conv and linear weights)."""
    net = _loss_backward(ctx, s)
    return float(sum(m.weight.grad.double().norm() for m in weighted_layers(net)))


def snip(ctx: ScoreContext, s: ZeroCostSettings) -> float:
    """Summed connection sensitivity |w * dL/dw| of conv and linear weights."""
    net = _loss_backward(ctx, s)
    return float(sum((m.weight.detach() * m.weight.grad).abs().double().sum() for m in weighted_layers(net)))


def fisher(ctx: ScoreContext, s: ZeroCostSettings) -> float:
    """Summed per-channel Fisher information of the conv and linear outputs."""
    net = ctx.network(s.seed)
    net.train()
    acts: list[torch.Tensor] = []

    def keep(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        output.retain_grad()
        acts.append(output)

    handles = [m.register_forward_hook(keep) for m in weighted_layers(net)]
    try:
        x, y = ctx.batch(s.batch_size)
        F.cross_entropy(net(x), y).backward()
    finally:
        for h in handles:
            h.remove()
    total = torch.zeros((), dtype=torch.float64, device=ctx.device)
    for a in acts:
        g = (a.detach() * a.grad).double()
        g = g.sum(dim=tuple(range(2, g.dim()))) if g.dim() > 2 else g
        total += 0.5 * g.pow(2).mean(0).sum()
    return float(total)


def grasp_of(net: nn.Module, weights: list[torch.Tensor], x: torch.Tensor, y: torch.Tensor) -> float:
    """``sum -w * (H g)`` for the cross-entropy of ``net`` on ``(x, y)``: Hessian-gradient product by double backward."""
    g = torch.autograd.grad(F.cross_entropy(net(x), y), weights, create_graph=True)
    hg = torch.autograd.grad(sum((a.detach() * a).sum() for a in g), weights)  # d(g0 . g)/dw = H g0
    return float(sum((-w.detach() * h).double().sum() for w, h in zip(weights, hg)))


def grasp(ctx: ScoreContext, s: ZeroCostSettings) -> float:
    """Gradient-signal preservation: ``sum -w * Hg`` of conv and linear weights."""
    net = ctx.network(s.seed)
    net.train()
    x, y = ctx.batch(s.batch_size)
    return grasp_of(net, [m.weight for m in weighted_layers(net)], x, y)


def jacob_cov_from_jacobians(jacobians: torch.Tensor, k: float = 1e-5) -> float:
    """The jacob_cov number from per-image input Jacobians, shape (batch, ...)."""
    corr = torch.corrcoef(jacobians.flatten(1).double())
    v = torch.linalg.eigvalsh(corr)
    return float(-(torch.log(v + k) + 1.0 / (v + k)).sum())


def jacob_cov(ctx: ScoreContext, s: ZeroCostSettings) -> float:
    """Spread of the correlations between the images' input Jacobians."""
    net = ctx.network(s.seed)
    net.train()
    x, _ = ctx.batch(s.batch_size)
    x = x.clone().requires_grad_(True)
    y = net(x)
    (jac,) = torch.autograd.grad(y, x, torch.ones_like(y))
    return jacob_cov_from_jacobians(jac)


def synflow_of(net: nn.Module, input_shape: tuple[int, ...]) -> float:
    """Synflow of ``net`` as given (no copy, no BN handling): ``sum |w * dR/dw|`` over conv/linear weights.

    ``R`` is the summed output on an all-ones input, in double precision, with every
    parameter replaced by its absolute value. For a bias-free linear chain of L layers the
    result is ``L * R`` (synaptic flow is conserved layer by layer).
    """
    net = net.double()
    with torch.no_grad():
        for p in net.parameters():
            p.abs_()
    net.zero_grad(set_to_none=True)
    device = next(net.parameters()).device
    net(torch.ones((1, *input_shape), dtype=torch.float64, device=device)).sum().backward()
    return float(sum((m.weight.detach() * m.weight.grad).abs().sum() for m in weighted_layers(net)))


def synflow(ctx: ScoreContext, s: SynflowSettings) -> float:
    """Synaptic flow of the BN-free, absolute-valued network on an all-ones image (double precision)."""
    net = strip_batchnorm(ctx.network(s.seed))
    net.train()
    r = ctx.dataset.resolution
    return synflow_of(net, (3, r, r))


def code_kernel(codes: torch.Tensor) -> torch.Tensor:
    """``C C^T + (1-C)(1-C)^T`` of binary codes (batch, units): how many units two images agree on."""
    exact = torch.float32 if codes.shape[1] < 2**24 else torch.float64
    c = codes.to(exact)
    agree = (c @ c.T).double()
    ones = c.sum(dim=1).double()
    return codes.shape[1] + 2.0 * agree - ones[:, None] - ones[None, :]


def _logdet(k: torch.Tensor) -> float:
    sign, logdet = torch.linalg.slogdet(k)
    return float(logdet) if float(sign) > 0 else float("-inf")


def naswot(ctx: ScoreContext, s: ZeroCostSettings) -> float:
    """Log-determinant of the batch's binary ReLU-code agreement kernel."""
    net = ctx.network(s.seed)
    net.train()
    x, _ = ctx.batch(s.batch_size)
    kernel = torch.zeros(len(x), len(x), dtype=torch.float64, device=ctx.device)

    def accumulate(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        kernel.add_(code_kernel((output.detach() > 0).flatten(1)))

    forward_with_hooks(net, x, relus(net), accumulate)
    return _logdet(kernel)
