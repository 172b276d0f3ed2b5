"""VKDNW: the spectrum of the Fisher information at initialisation (Tybl and Neumann, CVPR 2025).

As the authors' NAS-Bench-201 code computes it:

- the network is initialised Kaiming-normal (fan-in, ReLU gain), biases zero, batch norm at
  (1, 0), and run in **eval** mode: batch norm divides by its running statistics, which for
  a fresh network are (0, 1), so it is the identity up to 1/sqrt(1 + eps);
- the input is ``batch_size`` (64) images of standard Gaussian noise at the data set's
  resolution; no image or label is read;
- the parameters are one entry, the first, of each of the first ``n_tensors`` (128)
  parameter tensors in module order (all tensors when the network has fewer);
- J_n (K x P) is the Jacobian of image n's K logits with respect to these P entries, and the
  categorical likelihood's covariance at the smoothed softmax p = (1 - a) softmax + a / K
  (a = ``smoothing``, 0.05) is Sigma_n = diag(p) - p p^T, with its lower-triangular factor
  L_n (L_n L_n^T = Sigma_n; Tanabe and Sagae 1992);
- the Fisher information is F = mean_n (L_n J_n)^T (L_n J_n) (``fisher: code``, what the
  authors' code forms; note that it is J^T L^T L J, not J^T Sigma J) or mean_n J_n^T Sigma_n
  J_n (``fisher: exact``, the textbook Fisher information);
- the statistic is the entropy of the 9 deciles (0.1 .. 0.9 quantiles) of F's eigenvalues,
  normalised to sum 1: ``-sum t log(t + 1e-10)``, at most log 9 (an isotropic Fisher).

``vkdnw_entropy`` is that entropy; ``trainable_layers`` the number of parameter tensors of
the network (VKDNW's network dimension: three per convolution of the cell, so it only
counts the cell's convolutions); ``vkdnw`` is VKDNW's single ranker, which orders cells by
(trainable_layers, vkdnw_entropy) lexicographically. A lexicographic order is one number
here: the layer count plus the entropy scaled into [0, 0.69), ``n + h / (1 + log 9)``, so a
cell with more parameter tensors always ranks higher and the entropy breaks the ties.

Ours against the reference code: the Jacobian entries come from per-sample gradients of one
batched pass and one backward pass per class (the reference uses ``vmap(jacrev)``); F and its
eigenvalues are in double precision (the reference's float32 SVD); the noise is drawn from a
generator seeded with the score's seed; the last cell's entropy is kept, so ``vkdnw`` and
``vkdnw_entropy`` of one cell cost one computation. The reference's default of 0 entries per tensor
selects nothing; its runner is not published, so one entry per tensor (the ImageNet code's
choice) is taken. Larger is better.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from evonas.scores._grad import owners, per_sample_gradients, resolve_seed, swap_batchnorms
from evonas.scores.aznas import gaussian_batch
from evonas.scores.context import ScoreContext
from evonas.scores.settings import VkdnwSettings

__all__ = ["ENTROPY_SCALE", "categorical_factor", "fisher_information", "decile_entropy", "logit_jacobians",
           "vkdnw_entropy", "trainable_layers", "vkdnw"]

#: vkdnw = trainable_layers + vkdnw_entropy / ENTROPY_SCALE: the entropy (at most log 9) stays below 1
ENTROPY_SCALE = 1.0 + math.log(9.0)


def categorical_factor(logits: torch.Tensor, smoothing: float) -> torch.Tensor:
    """Lower-triangular L (n, K, K) with L L^T = diag(p) - p p^T, p the smoothed softmax of ``logits`` (n, K).

    With q_k = 1 - p_1 - ... - p_k (q_0 = 1, q_K = 0) and d_k = sqrt(p_k q_k / q_{k-1}):
    L_kk = d_k and L_ik = -p_i d_k / q_k below the diagonal (the last column is 0).
    """
    k = logits.shape[1]
    p = torch.softmax(logits.double(), dim=1) * (1 - smoothing) + smoothing / k
    q = 1.0 - torch.cumsum(p, dim=1)
    q[:, -1] = 0.0
    q_prev = torch.cat([torch.ones_like(q[:, :1]), q[:, :-1]], dim=1)
    d = torch.sqrt((p * q / q_prev).clamp_min(0.0))
    safe_q = torch.where(q > 0, q, torch.ones_like(q))
    below = -p[:, :, None] * (d / safe_q)[:, None, :] * (q > 0)[:, None, :]
    lower = torch.tril(torch.ones(k, k, dtype=torch.bool, device=logits.device), diagonal=-1)
    return torch.where(lower, below, torch.zeros_like(below)) + torch.diag_embed(d)


def fisher_information(jacobians: torch.Tensor, factor: torch.Tensor, fisher: str = "code") -> torch.Tensor:
    """F (P, P) from per-sample logit Jacobians (n, K, P) and covariance factors L (n, K, K).

    ``code``: mean_n (L_n J_n)^T (L_n J_n), as the VKDNW code; ``exact``: mean_n J_n^T L_n L_n^T J_n.
    """
    left = factor if fisher == "code" else factor.transpose(1, 2)
    a = (left @ jacobians.double()).reshape(-1, jacobians.shape[2])
    return a.T @ a / len(jacobians)


def decile_entropy(f: torch.Tensor) -> float:
    """Entropy of the 9 eigenvalue deciles of symmetric ``f``, normalised to sum 1 (VKDNW's 1e-10 guards)."""
    lam = torch.linalg.eigvalsh(f.double()).abs()  # the singular values of a symmetric matrix
    q = torch.quantile(lam, torch.arange(1, 10, dtype=lam.dtype, device=lam.device) / 10)
    t = q / (q.abs().sum() + 1e-10)
    return float(-(t * torch.log(t + 1e-10)).sum())


def logit_jacobians(net: nn.Module, x: torch.Tensor, n_tensors: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(logits (n, K), Jacobians (n, K, P)) of the first entry of the first ``n_tensors`` parameter tensors.

    ``net`` must be in eval mode: the images do not interact, so the gradient of a class's
    logit summed over the batch gives each image's gradient.
    """
    params = list(net.parameters())[:n_tensors]
    swap_batchnorms(net, None)
    net.eval()
    where = owners(net, params)
    modules = list(dict.fromkeys(m for m, _ in where))
    saved: dict[nn.Module, tuple[torch.Tensor, torch.Tensor]] = {}

    def keep(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        saved[module] = (inputs[0].detach(), output)

    handles = [m.register_forward_hook(keep) for m in modules]
    try:
        logits = net(x)
    finally:
        for h in handles:
            h.remove()
    columns = []
    for c in range(logits.shape[1]):
        outs = torch.autograd.grad(logits[:, c].sum(), [saved[m][1] for m in modules], retain_graph=True,
                                   allow_unused=True)
        gout = {m: torch.zeros_like(saved[m][1]) if g is None else g for m, g in zip(modules, outs)}
        columns.append(torch.cat([per_sample_gradients(m, attr, saved[m][0], gout[m], n=1) for m, attr in where],
                                 dim=1))
    return logits.detach(), torch.stack(columns, dim=1)


_LAST: dict[tuple, float] = {}


def vkdnw_entropy(ctx: ScoreContext, s: VkdnwSettings) -> float:
    """Entropy of the eigenvalue deciles of the Fisher information at initialisation (Gaussian input)."""
    seed = resolve_seed(ctx, s.seed)
    key = (ctx.cell.arch, ctx.dataset.name, ctx.C, ctx.N, str(ctx.device), seed, s)
    if key not in _LAST:  # the last cell's entropy is kept: vkdnw and vkdnw_entropy share one computation
        net = ctx.network(seed, init="fan_in")
        logits, jac = logit_jacobians(net, gaussian_batch(ctx, s.batch_size, seed), s.n_tensors)
        _LAST.clear()
        _LAST[key] = decile_entropy(fisher_information(jac, categorical_factor(logits, s.smoothing), s.fisher))
    return _LAST[key]


def trainable_layers(ctx: ScoreContext, s: object = None) -> float:
    """Number of parameter tensors of the network (VKDNW's dimension; three per convolution of the cell)."""
    from evonas.nn.network import TinyNetwork

    with torch.device("meta"):
        net = TinyNetwork(ctx.cell, ctx.C, ctx.N, ctx.dataset.num_classes)
    return float(sum(1 for _ in net.parameters()))


def vkdnw(ctx: ScoreContext, s: VkdnwSettings) -> float:
    """VKDNW's single ranker: trainable_layers, ties broken by vkdnw_entropy (``n + h / (1 + log 9)``)."""
    return trainable_layers(ctx) + vkdnw_entropy(ctx, s) / ENTROPY_SCALE
