"""KNAS in one batched pass: the number ``knas`` computes, without the per-batch loop.

The reference loop runs ``n_batches`` mini-batches one after the other, each with its own
batch-norm statistics and its own backward pass. Here all of them go through the network
at once: every batch norm is swapped for a norm that takes its statistics over each
mini-batch separately (over the ``batch_size`` images and the spatial positions, as the
loop's BN does), the losses are summed, and one backward pass yields the gradients of the
layer outputs. The per-mini-batch gradients of the few weight entries KNAS reads are then
formed from those output gradients and the saved layer inputs (per-sample gradients as
Opacus and BackPACK compute them), for conv, linear and batch-norm parameters.

Precision: in float64 (``knas_fast_gradients(..., dtype=torch.float64)``) the result equals
the loop run in float64 to about 1e-14 relative. The score runs in float32 like the loop;
both then carry float32 round-off, which the per-image batch norms amplify: on 20 random
cells at C=16, N=5 the float32 loop was off the float64 value by up to 2.8e-2 relative
(median 8e-4), and knas_fast by about as much (up to 2.9e-2), so the two float32 numbers
agree to about 1e-3 typically, not to 1e-4.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from evonas.scores._grad import layer_io, owners, per_sample_gradients, swap_batchnorms
from evonas.scores.context import ScoreContext
from evonas.scores.knas import knas_from_gradients
from evonas.scores.settings import KnasSettings

__all__ = ["knas_fast", "knas_fast_gradients"]


def knas_fast_gradients(ctx: ScoreContext, s: KnasSettings, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The kept gradients, shape (n_batches, n_tensors, n_positions), from one batched pass in ``dtype``."""
    net = ctx.network().to(dtype)
    net.train()
    chosen = [p for p in net.parameters() if p.numel() >= s.min_numel][: s.n_tensors]
    swap_batchnorms(net, s.batch_size)  # the norms keep the BN's parameter objects
    where = owners(net, chosen)
    x, y = ctx.batch(s.n_batches * s.batch_size)
    io = layer_io(net, list(dict.fromkeys(m for m, _ in where)), x.to(dtype),
                  lambda logits: F.cross_entropy(logits, y, reduction="sum") / s.batch_size)
    n = min(s.n_entries, s.n_positions)
    rows = [per_sample_gradients(m, attr, *io[m], n).view(s.n_batches, s.batch_size, -1).sum(dim=1)
            for m, attr in where]
    return torch.stack(rows, dim=1).double()


def knas_fast(ctx: ScoreContext, s: KnasSettings) -> float:
    """The KNAS score from one batched pass with per-mini-batch batch norm and per-sample gradients."""
    return knas_from_gradients(knas_fast_gradients(ctx, s), s.n_batches, s.n_positions)
