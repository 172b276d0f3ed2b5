"""The gradient kernel as the KNAS paper defines it in words, with its choices made explicit.

KNAS (Xu et al., ICML 2021) scores a network by the mean of the Gram matrix of per-example
loss gradients at initialisation. Its reference code keeps only a few hundred gradient
entries (see ``knas``); here the Gram matrix is exact over the chosen parameters, from one
batched pass (per-example gradients formed from layer inputs and output gradients).

Choices (``GradientKernelSettings``): how many examples, grouped into mini-batches of
``batch_size`` (one gradient per mini-batch); batch-norm statistics per mini-batch
(``sample``, as KNAS's batch-1 loop), over all examples (``batch``) or the running ones
(``eval``); which parameters (``all``, conv/linear ``weights``, or the ``first`` ``n_tensors``
tensors of >= 50 entries, as KNAS); centring the gradients on their mean; normalising by the
parameter count or by the gradient norms (cosine kernel); the first images or ``per_class``
examples of each class; log scale (leaves rankings unchanged).

Statistics (``statistic``): first moments (``mean`` of all entries, ``offdiag``, ``diag``),
and of the spectrum: ``logdet``, ``entropy`` of the normalised eigenvalues, its exponential
``effective_rank``, ``decile_entropy`` (entropy of the 9 eigenvalue deciles, the spectrum
summary of VKDNW, Tybl and Neumann, CVPR 2025), ``inverse_condition`` (smallest over largest
eigenvalue), and ``alignment`` (centred kernel-label alignment). ``layers: sum`` takes the
statistic of the kernel summed over the selected tensors; ``log_sum`` takes it per tensor and
sums the logs (logarithmic and bounded statistics are summed as they are), as ZiCo and AZ-NAS
aggregate per layer. The parameter-space dual (a P x P kernel) is never cheaper here: P is
10^5 to 10^6 against 32 examples.

The defaults are the variant that ranked best in ``benchmarks/gradient_kernel_variants.py``
(CIFAR-10 images, C=16, N=5): 32 per-example gradients with per-example batch-norm
statistics, all parameters, the decile entropy of each tensor's kernel summed over tensors.
Best of 192 variants screened on 150 random connected cells (seed 0) and of the 10 kept for
500 cells: Kendall tau with 200-epoch accuracy 0.616 / 0.638 / 0.610 on CIFAR-10 / CIFAR-100
/ ImageNet16-120 (500 cells, seed 0), 0.617 / 0.621 / 0.633 on 200 held-out cells (seed 1);
tau within FLOPs quintiles (CIFAR-10) 0.464 and 0.506, where FLOPs alone reach 0.583 overall
but 0.19 within quintiles. The former default (mean squared gradient norm, ``statistic:
diag, layers: sum``) gives 0.404. About 0.38 s per cell on one CPU thread (0.56 before the
per-sample gradients came from one grouped weight-gradient convolution). Tables and commands:
docs/benchmarks_scores.md. Larger is better.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from evonas.errors import ConfigError
from evonas.scores._grad import layer_io, owners, per_sample_gradients, resolve_seed, swap_batchnorms
from evonas.scores.context import ScoreContext
from evonas.scores.settings import GradientKernelSettings

__all__ = ["TensorGrams", "STATISTICS", "tensor_grams", "kernel_statistic", "gradient_kernel",
           "log_determinant", "spectral_entropy", "effective_rank", "decile_entropy", "inverse_condition",
           "centred_alignment", "cosine", "class_balanced"]


@dataclass(frozen=True)
class TensorGrams:
    """Per-tensor Gram matrices of per-mini-batch gradients, in ``named_parameters`` order."""

    grams: torch.Tensor       # (tensors, batches, batches) float64
    numels: torch.Tensor      # (tensors,) entries per tensor
    is_weight: torch.Tensor   # (tensors,) bool: a conv or linear weight
    labels: torch.Tensor | None = None  # (batches,) the examples' labels when batch_size is 1


def class_balanced(x: torch.Tensor, y: torch.Tensor, n: int, per_class: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``per_class`` examples of each of the first ``n // per_class`` classes met in ``y``, in order of appearance."""
    picked: dict[int, list[int]] = {}
    for i, label in enumerate(y.tolist()):
        if len(picked.get(label, ())) < per_class and (label in picked or len(picked) < n // per_class):
            picked.setdefault(label, []).append(i)
    index = [i for rows in picked.values() for i in rows]
    if len(index) < n:
        raise ConfigError(f"per_class: {per_class} needs {n // per_class} classes with {per_class} examples each "
                          f"among the first {len(y)} images; found {len(index)} usable examples")
    index_t = torch.tensor(index, device=y.device)
    return x[index_t], y[index_t]


def tensor_grams(ctx: ScoreContext, n_examples: int, batch_size: int, bn: str, seed: int,
                 per_class: int = 0) -> TensorGrams:
    """The exact Gram matrix of each parameter tensor's per-mini-batch loss gradients at initialisation."""
    net = ctx.network(seed)
    params = list(net.parameters())
    weights = {id(m.weight) for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))}
    is_weight = torch.tensor([id(p) in weights for p in params])
    swap_batchnorms(net, {"sample": batch_size, "batch": n_examples, "eval": None}[bn])
    net.train(bn != "eval")
    where = owners(net, params)
    if per_class:
        x, y = class_balanced(*ctx.batch(n_examples * 4), n_examples, per_class)
    else:
        x, y = ctx.batch(n_examples)
    io = layer_io(net, list(dict.fromkeys(m for m, _ in where)), x,
                  lambda logits: F.cross_entropy(logits, y, reduction="sum") / batch_size)
    grams = []
    for module, attr in where:
        g = per_sample_gradients(module, attr, *io[module]).double()
        g = g.view(n_examples // batch_size, batch_size, -1).sum(dim=1)
        grams.append(g @ g.T)
    numels = torch.tensor([p.numel() for p in params], dtype=torch.float64)
    return TensorGrams(torch.stack(grams), numels, is_weight, y.cpu() if batch_size == 1 else None)


def _selection(tg: TensorGrams, s: GradientKernelSettings) -> torch.Tensor:
    if s.params == "all":
        return torch.ones_like(tg.is_weight)
    if s.params == "weights":
        return tg.is_weight
    large = (tg.numels >= 50).nonzero().flatten()[: s.n_tensors]
    mask = torch.zeros_like(tg.is_weight)
    mask[large] = True
    return mask


def _tiny(k: torch.Tensor) -> float:
    return torch.finfo(k.dtype).tiny


def eigenvalues(k: torch.Tensor) -> torch.Tensor:
    """Eigenvalues of symmetric PSD kernels (..., n, n), ascending, negatives from round-off set to 0."""
    return torch.linalg.eigvalsh(k).clamp_min(0.0)


def cosine(k: torch.Tensor) -> torch.Tensor:
    """The normalised kernel K_ij / sqrt(K_ii K_jj) (unit diagonal)."""
    d = k.diagonal(dim1=-2, dim2=-1).clamp_min(_tiny(k)).sqrt()
    return k / (d[..., :, None] * d[..., None, :])


def log_determinant(k: torch.Tensor) -> torch.Tensor:
    """log det K from its eigenvalues (-inf when singular)."""
    return eigenvalues(k).log().sum(-1)


def spectral_entropy(k: torch.Tensor) -> torch.Tensor:
    """Shannon entropy (nats) of the eigenvalues normalised to sum 1; 0 for a rank-1 or zero kernel."""
    lam = eigenvalues(k)
    p = lam / lam.sum(-1, keepdim=True).clamp_min(_tiny(k))
    return -torch.special.xlogy(p, p).sum(-1)


def effective_rank(k: torch.Tensor) -> torch.Tensor:
    """exp of the spectral entropy (Roy and Vetterli): r for r equal non-zero eigenvalues."""
    return spectral_entropy(k).exp()


def decile_entropy(k: torch.Tensor) -> torch.Tensor:
    """Entropy of the 9 eigenvalue deciles normalised to sum 1 (at most log 9; VKDNW's spectrum summary)."""
    lam = eigenvalues(k)
    q = torch.quantile(lam, torch.arange(1, 10, dtype=lam.dtype, device=lam.device) / 10, dim=-1).movedim(0, -1)
    p = q / q.sum(-1, keepdim=True).clamp_min(_tiny(k))
    return -torch.special.xlogy(p, p).sum(-1)


def inverse_condition(k: torch.Tensor) -> torch.Tensor:
    """Smallest over largest eigenvalue, in [0, 1] (1 / condition number; larger is better conditioned)."""
    lam = eigenvalues(k)
    return lam[..., 0] / lam[..., -1].clamp_min(_tiny(k))


def centred_alignment(k: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Centred kernel-target alignment <HKH, HLH>_F / (|HKH| |HLH|) with L_ij = [y_i == y_j] (Cortes et al. 2012)."""
    n = k.shape[-1]
    h = torch.eye(n, dtype=k.dtype, device=k.device) - 1.0 / n
    target = (labels[:, None] == labels[None, :]).to(k.dtype).to(k.device)
    kc, lc = h @ k @ h, h @ target @ h
    inner = (kc * lc).sum((-2, -1))
    return inner / (kc.norm(dim=(-2, -1)) * lc.norm()).clamp_min(_tiny(k))


def _moment(kind: str) -> Callable[[torch.Tensor], torch.Tensor]:
    def stat(k: torch.Tensor) -> torch.Tensor:
        n = k.shape[-1]
        total, diag = k.sum((-2, -1)), k.diagonal(dim1=-2, dim2=-1).sum(-1)
        return {"mean": total / n ** 2, "diag": diag / n, "offdiag": (total - diag) / (n * (n - 1))}[kind]
    return stat


#: statistic -> (function of kernels (..., n, n) [and labels], whether per-layer values are log-transformed)
STATISTICS: dict[str, tuple[Callable[..., torch.Tensor], bool]] = {
    "mean": (_moment("mean"), True),
    "diag": (_moment("diag"), True),
    "offdiag": (_moment("offdiag"), True),
    "logdet": (log_determinant, False),
    "entropy": (spectral_entropy, False),
    "decile_entropy": (decile_entropy, False),
    "effective_rank": (effective_rank, True),
    "inverse_condition": (inverse_condition, True),
    "alignment": (centred_alignment, False),
}


def _prepare(k: torch.Tensor, numels: torch.Tensor, s: GradientKernelSettings) -> torch.Tensor:
    """Centre and normalise kernels (..., n, n) as the settings say; ``numels`` (...) entries behind each."""
    if s.centre:
        n = k.shape[-1]
        h = torch.eye(n, dtype=k.dtype, device=k.device) - 1.0 / n
        k = h @ k @ h
    if s.normalise == "params":
        k = k / numels.to(k.device)[..., None, None]
    elif s.normalise == "norm":
        k = cosine(k)
    return k


def kernel_statistic(tg: TensorGrams, s: GradientKernelSettings) -> float:
    """The score from per-tensor Gram matrices under the settings' choices.

    ``layers: sum`` takes the statistic of the summed kernel of the selected tensors;
    ``log_sum`` takes it per tensor and sums the logs over tensors (the statistics that
    are already logarithmic or bounded, ``logdet``, ``entropy``, ``decile_entropy`` and
    ``alignment``, are summed as they are).
    """
    mask = _selection(tg, s).to(tg.grams.device)
    fn, log_per_layer = STATISTICS[s.statistic]
    args = (tg.labels,) if s.statistic == "alignment" else ()
    if s.statistic == "alignment" and tg.labels is None:
        raise ValueError("statistic alignment needs the examples' labels (per-example gradients)")
    if s.layers == "sum":
        value = float(fn(_prepare(tg.grams[mask].sum(dim=0), tg.numels[mask.cpu()].sum(), s), *args))
    else:
        per = fn(_prepare(tg.grams[mask], tg.numels[mask.cpu()], s), *args)
        per = per.clamp_min(_tiny(per)).log() if log_per_layer else per
        value = float(per.sum())
    if s.log:
        return math.log(value) if value > 0 else float("-inf")
    return value


def gradient_kernel(ctx: ScoreContext, s: GradientKernelSettings) -> float:
    """Statistic of the exact Gram matrix of per-example gradients at initialisation (configurable)."""
    return kernel_statistic(tensor_grams(ctx, s.n_examples, s.batch_size, s.bn, resolve_seed(ctx, s.seed),
                                         s.per_class), s)
