"""AZ-NAS's three network terms: expressivity, progressivity and trainability (Lee and Ham, CVPR 2024).

All three come from one pass of a freshly initialised network over a batch of Gaussian noise,
as the authors' NAS-Bench-201 code computes them:

- the network is initialised Kaiming-normal (fan-in, ReLU gain), biases zero, batch norm at
  (1, 0), and run in training mode (batch norm normalises with the batch's statistics);
- the input is ``batch_size`` (64) images of standard Gaussian noise at the data set's
  resolution; no image or label is read;
- the features are the stem's output and the output of every block after it (the 3N cells
  and the two reduction blocks): 3N + 3 feature maps for TinyNetwork(C, N).

**Expressivity** of a feature map (b, c, h, w): the Shannon entropy (nats) of the eigenvalues
of its c x c channel covariance over the b*h*w positions, normalised to sum 1 (at most
log c: an isotropic map); the term is the sum over all feature maps. **Progressivity**: the
smallest increase of that entropy from one feature map to the next. **Trainability** of a
block: with a random +-1 gradient g_out at its output and g_in the gradient it sends back to
its input (space-to-depth folded to the output's resolution after a reduction), sigma is the
largest singular value of the cross-covariance g_in^T g_out / (b*h*w) over positions; the
block scores ``2 - sigma - 1 / sigma`` (0 at sigma = 1, below 0 otherwise: a block should
neither amplify nor damp gradients); the term is the mean over blocks.

A block that sends its gradient back unchanged (the cell is the identity map: one skip path,
every other path through ``none``) is, for AZ-NAS, infinitely bad (-inf). A registered value
must be finite, so such a block scores ``IDENTITY_BLOCK`` (-1e12) instead: below any measured
block, whose score is at least about -1e6 (the 1e-6 guard in 1/sigma), so it ranks where
AZ-NAS ranks it, last, tied with every other identity cell.

Ours against the reference code: the eigenvalues are computed in double precision and round-off
negatives are set to 0 (the reference's float32 ones can give nan);
the noise and the +-1 gradients are drawn from generators seeded with the score's seed, so a
cell's value is reproducible (the reference draws them from the global generator). The three
terms share one pass: the last cell's terms are kept, so scoring the three for a cell costs
one pass. Larger is better for all three.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from evonas.scores._grad import resolve_seed, scoring_format
from evonas.scores.context import ScoreContext
from evonas.scores.settings import AzNasSettings

__all__ = ["AzTerms", "IDENTITY_BLOCK", "feature_entropy", "block_trainability", "az_terms", "gaussian_batch",
           "az_expressivity", "az_progressivity", "az_trainability"]

#: the trainability of a block that passes its gradient back unchanged (AZ-NAS: -inf)
IDENTITY_BLOCK = -1e12


@dataclass(frozen=True)
class AzTerms:
    expressivity: float
    progressivity: float
    trainability: float
    entropies: tuple[float, ...]  # per feature map, stem first
    blocks: tuple[float, ...]     # per block, first block first


def gaussian_batch(ctx: ScoreContext, n: int, seed: int) -> torch.Tensor:
    """``n`` images of standard Gaussian noise at the data set's resolution (drawn on the CPU, seeded)."""
    g = torch.Generator().manual_seed(seed)
    r = ctx.dataset.resolution
    return torch.randn((n, 3, r, r), generator=g).to(ctx.device)


def _positions(t: torch.Tensor) -> torch.Tensor:
    """(b, c, h, w) -> (b*h*w, c): a view when ``t`` is channels-last, as the scoring pass keeps it on the CPU."""
    return t.permute(0, 2, 3, 1).reshape(-1, t.shape[1])


def feature_entropy(feat: torch.Tensor) -> float:
    """Entropy (nats) of the normalised eigenvalues of the channel covariance of ``feat`` (b, c, h, w).

    The covariance is taken over the b*h*w positions (centred, divided by their count; formed in
    the feature map's precision, as AZ-NAS does); its eigenvalues, computed in double precision
    with round-off negatives set to 0, are normalised to sum 1; ``-sum p log(p + 1e-8)`` as
    AZ-NAS. log c for an isotropic map, 0 when one direction holds all the variance.
    """
    x = _positions(feat.detach())
    x = x - x.mean(dim=0, keepdim=True)
    lam = torch.linalg.eigvalsh((x.T @ x).double() / len(x)).clamp_min(0.0)
    total = float(lam.sum())
    if total <= 0.0:
        return 0.0
    p = lam / total
    return float(-(p * torch.log(p + 1e-8)).sum())


def block_trainability(g_in: torch.Tensor, g_out: torch.Tensor) -> float:
    """``2 - sigma - 1/(sigma + 1e-6)``: sigma the top singular value of the block's gradient cross-covariance.

    ``g_out`` (b, co, ho, wo) is the gradient sent into the block's output, ``g_in`` (b, ci, hi,
    wi) the one it returns at its input; a larger input is folded space-to-depth to the
    output's resolution (ci * s^2 channels). ``IDENTITY_BLOCK`` when the block returns its
    gradient unchanged.
    """
    if g_in.shape == g_out.shape and torch.equal(g_in, g_out):
        return IDENTITY_BLOCK
    if g_in.shape[2:] != g_out.shape[2:]:
        g_in = F.pixel_unshuffle(g_in, g_in.shape[2] // g_out.shape[2])
    a, b = _positions(g_in), _positions(g_out)
    sigma = float(torch.linalg.matrix_norm((a.T @ b).double() / len(b), ord=2))
    return 2.0 - sigma - 1.0 / (sigma + 1e-6)


_LAST: dict[tuple, AzTerms] = {}


def az_terms(ctx: ScoreContext, s: AzNasSettings) -> AzTerms:
    """The three terms of the cell (the last cell's are kept: the three scores share one pass)."""
    seed = resolve_seed(ctx, s.seed)
    key = (ctx.cell.arch, ctx.dataset.name, ctx.C, ctx.N, str(ctx.device), seed, s.batch_size)
    if key not in _LAST:
        _LAST.clear()
        _LAST[key] = _compute(ctx, s.batch_size, seed)
    return _LAST[key]


def _compute(ctx: ScoreContext, batch_size: int, seed: int) -> AzTerms:
    fmt = scoring_format(ctx.device)
    net = ctx.network(seed, init="fan_in").to(memory_format=fmt)
    net.train()
    features = [net.stem(gaussian_batch(ctx, batch_size, seed).contiguous(memory_format=fmt))]
    for block in net.cells:
        features.append(block(features[-1]))
    entropies = [feature_entropy(f) for f in features]
    signs = torch.Generator().manual_seed(seed + 1)
    blocks = []
    for i in reversed(range(1, len(features))):  # the reference's order of drawing the +-1 gradients
        f_in, f_out = features[i - 1], features[i]
        g_out = torch.randint(0, 2, f_out.shape, generator=signs, dtype=f_out.dtype).mul_(2).sub_(1)
        g_out = g_out.to(f_out.device).contiguous(memory_format=fmt)
        (g_in,) = torch.autograd.grad(f_out, f_in, g_out, retain_graph=i > 1)
        blocks.append(block_trainability(g_in, g_out))
    blocks.reverse()
    progress = float(np.min(np.diff(entropies)))
    return AzTerms(float(sum(entropies)), progress, float(np.mean(blocks)), tuple(entropies), tuple(blocks))


def az_expressivity(ctx: ScoreContext, s: AzNasSettings) -> float:
    """Sum over feature maps of the eigenvalue entropy of their channel covariance (Gaussian input)."""
    return az_terms(ctx, s).expressivity


def az_progressivity(ctx: ScoreContext, s: AzNasSettings) -> float:
    """Smallest increase of the feature-map entropy from one block to the next."""
    return az_terms(ctx, s).progressivity


def az_trainability(ctx: ScoreContext, s: AzNasSettings) -> float:
    """Mean over blocks of ``2 - sigma - 1/sigma``, sigma the top singular value of the gradient cross-covariance."""
    value = az_terms(ctx, s).trainability
    return value if math.isfinite(value) else IDENTITY_BLOCK
