"""A rank-aggregated objective: the sum of log percentile ranks of member scores against a fixed reference.

Each member score is computed for the cell (through the registry, with the member settings
recorded in the reference), placed among the member's values on a fixed reference sample of
cells that ships with evonas (``evonas/data/rank_reference_<dataset>.npz``, built by
``python -m evonas.builders.reference``), and the logs of these percentiles are summed,
AZ-NAS style (Lee and Ham, CVPR 2024). Ranks against a fixed sample, not within the current
population, so the objective of a cell never changes between generations or runs.

Members are registered score names, optionally suffixed ``:max`` or ``:min`` to override
the registered direction (``flops:max``: more FLOPs rank higher, as in AZ-NAS's complexity
term, though ``flops`` is a ``min`` objective of the search). A ``min`` member is negated
before ranking. The percentile of a value v among m reference values is its mid-rank after
inserting it, ``(#below + 1 + #equal / 2) / (m + 1)``, in ``[1 / (m + 1), 1]``: ties (equal up
to a relative 1e-6, so round-off cannot move a rank) share a half rank and values beyond the
reference's range get the end ranks, so the log is finite.
A member value of nan ranks lowest.

The default members take one signal per facet AZ-NAS found complementary: trainability
(``gradient_kernel``, the per-example gradient kernel), expressivity (``naswot``, the
activation-pattern kernel), saliency through the whole network (``synflow``, data-free) and
complexity (``flops:max``).

Two more aggregates reproduce published rankers with the same machinery (members and their
settings from the same packaged reference): ``az_nas``, AZ-NAS's four terms (expressivity,
progressivity, trainability, ``flops:max``), and ``vkdnw_agg``, VKDNW_agg (Tybl and Neumann,
CVPR 2025: ``vkdnw_entropy``, ``az_expressivity``, ``az_trainability``, ``flops:max``,
``jacob_cov``). VKDNW's entropy is the member, not its lexicographic single ranker ``vkdnw``:
the authors' ImageNet search aggregates the entropy, and with it the aggregate reaches the
paper's tau on NB201 (0.753 against 0.750 on 300 cells) where ``vkdnw`` falls short (0.731).
``az_nas_gk`` is evonas's: ``gradient_kernel`` added to AZ-NAS's four terms, the gradient kernel
standing in for the trainability facet AZ-NAS's own term captures weakly; it ranks above both
(docs/benchmarks_scores.md) and is the main job's first objective. With ``half_images: true`` its
members run at half their default images (32 Gaussian images for AZ-NAS's pass, 16 examples for the
kernel: ``AzNasGkAggregateSettings.member_settings``) and rank against its own packaged references
(``rank_reference_<dataset>_az_nas_gk.npz``): about half the time per cell, Kendall tau 0.003 lower.
The papers rank against the whole population scored; here the ranks are against the fixed
reference, so the objective of a cell never drifts (its order among cells is the papers' up
to the reference's sampling error).

Mismatches: the reference is per data set; a data set without one is an error naming the data
sets it has. A network shape (C, N) other than the reference's gives a warning naming both
(ranks stay fixed, but the members' values come from another distribution). Member settings
always are the reference's; a member the reference lacks is an error naming those it holds.
"""
from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from evonas.data import DATA_DIR
from evonas.errors import ConfigError
from evonas.scores.reference import Reference, build_command, load_reference, parse_member, reference_path
from evonas.scores.registry import SCORES
from evonas.scores.settings import (AzNasAggregateSettings, AzNasGkAggregateSettings, RankAggregateSettings,
                                    VkdnwAggregateSettings)

if TYPE_CHECKING:
    from evonas.scores.context import ScoreContext

__all__ = ["percentile", "aggregate_of", "rank_aggregate", "gradient_kernel_agg", "az_nas", "vkdnw_agg", "az_nas_gk"]

#: relative difference below which a value ties with a reference value (round-off between thread counts or devices)
TIE_RTOL = 1e-6


def percentile(value: float, reference: np.ndarray) -> float:
    """Mid-rank of ``value`` inserted among ``reference`` over m + 1, in [1/(m+1), 1]; nan ranks lowest.

    Reference values within ``TIE_RTOL`` (relative) of ``value`` count as ties: the same cell, or
    an isomorphic one, must get the same rank whatever round-off its computation carried.
    """
    m = len(reference)
    if math.isnan(value):
        return 1.0 / (m + 1)
    equal = np.isclose(reference, value, rtol=TIE_RTOL, atol=0.0)
    below = int(np.sum((reference < value) & ~equal))
    return (below + 1 + int(equal.sum()) / 2) / (m + 1)


def aggregate_of(values: dict[str, float], members: tuple[str, ...], ref: Reference) -> float:
    """The sum of log percentiles of member ``values`` (raw, by score name) against ``ref``."""
    total = 0.0
    for member in members:
        name, sign = parse_member(member)
        ref.settings_of(name)  # the member must be in the reference
        total += math.log(percentile(sign * values[name], sign * ref.values[name][np.isfinite(ref.values[name])]))
    return total


def _reference_for(ctx: ScoreContext, s: RankAggregateSettings, score: str) -> Reference:
    path = s.reference or str(s.packaged_reference(ctx.dataset.name))
    if not s.reference and not Path(path).is_file():
        have = sorted(p.stem.removeprefix("rank_reference_") for p in DATA_DIR.glob("rank_reference_*.npz"))
        build = (build_command(ctx.dataset, s.members) if ctx.dataset.custom else
                 f"python -m evonas.builders.reference --dataset {ctx.dataset.name}")
        raise ConfigError(f"{score} has no packaged reference for data set {ctx.dataset.name!r} "
                          f"(packaged: {have}); build one with {build} and pass it as scores.{score}.reference")
    ref = load_reference(path)
    # a user's data set is named by its images' fingerprint: a reference built on other images never serves
    name = f"{ctx.dataset.name}:{ctx.dataset.fingerprint}" if ctx.dataset.custom else ctx.dataset.name
    if ref.dataset != name:
        raise ConfigError(f"{score} reference {path} holds {ref.dataset} values but the scorer's data set "
                          f"is {name}" + ("; build one for these images with python -m evonas.builders.reference "
                                          "--config CFG --out PATH" if ctx.dataset.custom else ""))
    if (ref.C, ref.N) != (ctx.C, ctx.N):
        warnings.warn(f"{score}: reference {Path(path).name} was built for networks of C={ref.C}, N={ref.N}; "
                      f"these have C={ctx.C}, N={ctx.N}: the members' values are ranked against another shape's",
                      stacklevel=3)
    return ref


def rank_aggregate(ctx: ScoreContext, s: RankAggregateSettings, score: str = "gradient_kernel_agg") -> float:
    """The sum of log percentiles of the members of ``s`` for the cell against the reference (``score``: its name)."""
    ref = _reference_for(ctx, s, score)
    values = {}
    for member in s.members:
        name, _ = parse_member(member)
        values[name] = SCORES[name](ctx, ref.settings_of(name))
    return aggregate_of(values, s.members, ref)


def gradient_kernel_agg(ctx: ScoreContext, s: RankAggregateSettings) -> float:
    """Sum of log percentile ranks of member scores against a fixed, packaged reference sample."""
    return rank_aggregate(ctx, s, "gradient_kernel_agg")


def az_nas(ctx: ScoreContext, s: AzNasAggregateSettings) -> float:
    """AZ-NAS: sum of log percentile ranks of expressivity, progressivity, trainability and FLOPs."""
    return rank_aggregate(ctx, s, "az_nas")


def vkdnw_agg(ctx: ScoreContext, s: VkdnwAggregateSettings) -> float:
    """VKDNW_agg: sum of log percentile ranks of VKDNW's entropy, expressivity, trainability, FLOPs and jacob_cov."""
    return rank_aggregate(ctx, s, "vkdnw_agg")


def az_nas_gk(ctx: ScoreContext, s: AzNasGkAggregateSettings) -> float:
    """Sum of log percentile ranks of gradient_kernel and AZ-NAS's four terms."""
    return rank_aggregate(ctx, s, "az_nas_gk")
