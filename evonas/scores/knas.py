"""KNAS (Xu et al., ICML 2021): the gradient-kernel score as the authors' code computes it.

The network is freshly initialised and in train mode. For each of ``n_batches`` mini-batches
of ``batch_size`` training images, one backward pass of the cross-entropy loss (gradients
zeroed before, no optimizer step); of each of the first ``n_tensors`` parameter tensors (in
``named_parameters()`` order) holding at least ``min_numel`` elements, the first
``n_entries`` gradient entries are kept. Score: summed over those tensors and over entry
positions ``0 .. n_positions-1``, the dot product of the centred vectors of that entry's
gradients over the first and over the second half of the batches, divided by
``n_positions * n_batches`` (2500 with the defaults). Larger is better.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from evonas.scores.context import ScoreContext
from evonas.scores.settings import KnasSettings

__all__ = ["knas", "knas_gradients", "knas_from_gradients"]


def knas_gradients(ctx: ScoreContext, s: KnasSettings) -> torch.Tensor:
    """The kept gradients, shape (n_batches, n_tensors, n_positions), by the reference loop."""
    net = ctx.network()
    net.train()
    chosen = [p for p in net.parameters() if p.numel() >= s.min_numel][: s.n_tensors]
    rows = []
    for b in range(s.n_batches):
        x, y = ctx.batch(s.batch_size, offset=b * s.batch_size)
        net.zero_grad(set_to_none=True)
        F.cross_entropy(net(x), y).backward()
        rows.append(torch.stack([p.grad.reshape(-1)[: s.n_entries][: s.n_positions] for p in chosen]))
    return torch.stack(rows).double()


def knas_from_gradients(grads: torch.Tensor, n_batches: int, n_positions: int) -> float:
    """The KNAS number from kept gradients (n_batches, n_tensors, n_positions)."""
    half = n_batches // 2
    a, b = grads[:half], grads[half: 2 * half]
    a = a - a.mean(dim=0, keepdim=True)
    b = b - b.mean(dim=0, keepdim=True)
    return float((a * b).sum() / (n_positions * n_batches))


def knas(ctx: ScoreContext, s: KnasSettings) -> float:
    """KNAS gradient-kernel score, computed as the authors' reference code does (loop)."""
    return knas_from_gradients(knas_gradients(ctx, s), s.n_batches, s.n_positions)
