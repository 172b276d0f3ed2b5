"""The settings of the built-in scores: one frozen dataclass per family, its fields the config keys.

A score's settings are its keys under ``scores.<name>`` in the config, checked by
``evonas.strict.from_mapping`` (types, ranges, and each class's ``__post_init__``);
``n_images``, where present, is how many images the score reads. No torch here, so a config
is validated without the ML stack.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from evonas.strict import check, suggest
from evonas.errors import ConfigError, DataError
from evonas.scores.reference import (AZ_NAS_GK_MEMBERS, AZ_NAS_MEMBERS, DEFAULT_MEMBERS, VKDNW_AGG_MEMBERS,
                                     load_reference, parse_member, reference_path)
from evonas.scores.registry import get_score, make_settings
from evonas.space.latency_table import DEFAULT_TABLE_DEVICE, latency_columns

__all__ = ["KnasSettings", "ZeroCostSettings", "SynflowSettings", "NtkSettings", "RegionSettings", "Statistic",
           "GradientKernelSettings", "AzNasSettings", "VkdnwSettings", "LatencySettings", "LatencyTableSettings",
           "RankAggregateSettings", "AzNasAggregateSettings", "VkdnwAggregateSettings", "AzNasGkAggregateSettings",
           "AGGREGATES"]


# -- knas ----------------------------------------------------------------------------
@dataclass(frozen=True)
class KnasSettings:
    n_batches: int = field(default=50, metadata=check(lambda v: v >= 2 and v % 2 == 0, "an even integer >= 2"))
    batch_size: int = field(default=1, metadata=check(lambda v: v >= 1, ">= 1"))
    n_tensors: int = field(default=11, metadata=check(lambda v: v >= 1, ">= 1"))
    min_numel: int = field(default=50, metadata=check(lambda v: v >= 1, ">= 1"))
    n_entries: int = field(default=100, metadata=check(lambda v: v >= 1, ">= 1"))
    n_positions: int = field(default=50, metadata=check(lambda v: v >= 1, ">= 1"))

    def __post_init__(self) -> None:
        if self.n_positions > min(self.n_entries, self.min_numel):
            raise ConfigError(f"n_positions ({self.n_positions}) must not exceed n_entries ({self.n_entries}) "
                              f"or min_numel ({self.min_numel})")

    @property
    def n_images(self) -> int:
        return self.n_batches * self.batch_size


# -- zero_cost -----------------------------------------------------------------------
@dataclass(frozen=True)
class ZeroCostSettings:
    """One mini-batch of ``batch_size`` images; ``seed`` (None: the scorer's) fixes the initial weights."""

    batch_size: int = field(default=64, metadata=check(lambda v: v >= 2, ">= 2"))
    seed: int | None = None

    @property
    def n_images(self) -> int:
        return self.batch_size


@dataclass(frozen=True)
class SynflowSettings:
    """Synflow reads no images; ``seed`` (None: the scorer's) fixes the initial weights."""

    seed: int | None = None


# -- tenas ---------------------------------------------------------------------------
@dataclass(frozen=True)
class NtkSettings:
    """One batch of ``batch_size`` images, ``repeats`` initialisations, a ``C`` x ``N`` proxy network."""

    batch_size: int = field(default=64, metadata=check(lambda v: v >= 2, ">= 2"))
    repeats: int = field(default=3, metadata=check(lambda v: v >= 1, ">= 1"))
    C: int = field(default=3, metadata=check(lambda v: v >= 1, ">= 1"))
    N: int = field(default=1, metadata=check(lambda v: v >= 1, ">= 1"))
    bn: Literal["batch", "frozen"] = "batch"
    seed: int | None = None

    @property
    def n_images(self) -> int:
        return self.batch_size


@dataclass(frozen=True)
class RegionSettings:
    """``n_batches`` x ``batch_size`` random ``crop`` x ``crop`` patches of the first ``n_images`` images."""

    batch_size: int = field(default=1000, metadata=check(lambda v: v >= 2, ">= 2"))
    n_batches: int = field(default=3, metadata=check(lambda v: v >= 1, ">= 1"))
    crop: int = field(default=3, metadata=check(lambda v: v >= 1, ">= 1"))
    n_images: int = field(default=128, metadata=check(lambda v: v >= 1, ">= 1"))
    repeats: int = field(default=3, metadata=check(lambda v: v >= 1, ">= 1"))
    C: int = field(default=1, metadata=check(lambda v: v >= 1, ">= 1"))
    N: int = field(default=1, metadata=check(lambda v: v >= 1, ">= 1"))
    seed: int | None = None


# -- gradient_kernel -----------------------------------------------------------------
Statistic = Literal["mean", "offdiag", "diag", "logdet", "entropy", "decile_entropy", "effective_rank",
                    "inverse_condition", "alignment"]


@dataclass(frozen=True)
class GradientKernelSettings:
    n_examples: int = field(default=32, metadata=check(lambda v: v >= 2, ">= 2"))
    batch_size: int = field(default=1, metadata=check(lambda v: v >= 1, ">= 1"))
    per_class: int = field(default=0, metadata=check(lambda v: v >= 0, ">= 0 (0: the first n_examples images)"))
    bn: Literal["sample", "batch", "eval"] = "sample"
    params: Literal["all", "weights", "first"] = "all"
    n_tensors: int = field(default=11, metadata=check(lambda v: v >= 1, ">= 1"))
    centre: bool = False
    normalise: Literal["none", "params", "norm"] = "none"
    statistic: Statistic = "decile_entropy"
    layers: Literal["sum", "log_sum"] = "log_sum"
    log: bool = False
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.n_examples % self.batch_size or self.n_examples // self.batch_size < 2:
            raise ConfigError(f"n_examples ({self.n_examples}) must be a multiple of batch_size ({self.batch_size}) "
                              f"giving at least 2 mini-batches")
        if self.centre and self.statistic == "mean":
            raise ConfigError("centre: true with statistic: mean is always 0; use statistic offdiag or diag")
        if self.normalise == "norm" and self.statistic == "diag":
            raise ConfigError("normalise: norm with statistic: diag is always 1; use statistic mean or offdiag")
        if self.statistic == "alignment" and self.batch_size != 1:
            raise ConfigError(f"statistic: alignment needs one label per gradient (batch_size: 1), "
                              f"got batch_size {self.batch_size}")
        if self.per_class and self.n_examples % self.per_class:
            raise ConfigError(f"n_examples ({self.n_examples}) must be a multiple of per_class ({self.per_class})")

    @property
    def n_images(self) -> int:
        """Images read: the first ``n_examples``, or a pool 4x larger to draw ``per_class`` of each class from."""
        return self.n_examples * (4 if self.per_class else 1)


# -- AZ-NAS and VKDNW ----------------------------------------------------------------
@dataclass(frozen=True)
class AzNasSettings:
    """AZ-NAS's terms: ``batch_size`` images of Gaussian noise (no data read); ``seed`` (None: the scorer's)."""

    batch_size: int = field(default=64, metadata=check(lambda v: v >= 2, ">= 2"))
    seed: int | None = None


@dataclass(frozen=True)
class VkdnwSettings:
    """VKDNW's Fisher spectrum: ``batch_size`` Gaussian images, the first entry of the first ``n_tensors`` tensors.

    ``smoothing``: the weight of the uniform distribution mixed into the softmax; ``fisher``:
    ``code`` (the authors' code, mean (L J)^T (L J)) or ``exact`` (mean J^T Sigma J).
    """

    batch_size: int = field(default=64, metadata=check(lambda v: v >= 1, ">= 1"))
    n_tensors: int = field(default=128, metadata=check(lambda v: v >= 2, ">= 2"))
    smoothing: float = field(default=0.05, metadata=check(lambda v: 0.0 <= v < 1.0, "in [0, 1)"))
    fisher: Literal["code", "exact"] = "code"
    seed: int | None = None


# -- latency -------------------------------------------------------------------------
@dataclass(frozen=True)
class LatencySettings:
    """How ``latency`` times a network; ``threads`` is the CPU intra-op thread count while timing.

    ``statistic``: what the score returns of the timed repeats, the median (default) or the
    minimum; the minimum is far less sensitive to other processes sharing the CPU
    (docs/benchmarks_latency.md).
    """

    batch_size: int = field(default=1, metadata=check(lambda v: v >= 1, ">= 1 (1, 32 and 256 match the table)"))
    warmup: int = field(default=10, metadata=check(lambda v: v >= 0, ">= 0"))
    repeats: int = field(default=30, metadata=check(lambda v: v >= 1, ">= 1"))
    channels_last: bool = False
    amp: bool = False
    compile: bool = False
    threads: int = field(default=1, metadata=check(lambda v: v >= 1, ">= 1"))
    statistic: Literal["median", "min"] = "median"


@dataclass(frozen=True)
class LatencyTableSettings:
    """``device``: a column of the shipped latency table (default ``2080ti_bs1``)."""

    device: str = DEFAULT_TABLE_DEVICE

    def __post_init__(self) -> None:
        columns = latency_columns()
        if self.device not in columns:
            raise ConfigError(f"device: unknown latency table device {self.device!r}"
                              f"{suggest(self.device, columns)}; choose from {sorted(columns)}")


# -- aggregate -----------------------------------------------------------------------
#: the rank aggregates: none of them can be a member of one
AGGREGATES = ("gradient_kernel_agg", "az_nas", "vkdnw_agg", "az_nas_gk")


@dataclass(frozen=True)
class RankAggregateSettings:
    members: tuple[str, ...] = field(default=DEFAULT_MEMBERS,
                                     metadata=check(lambda v: len(v) >= 1, "at least one member"))
    reference: str = ""  # a reference .npz; "" for the packaged one of the scorer's data set
    #: members whose settings this aggregate changes from their defaults (its own packaged reference holds them,
    #: ``reference_path(dataset, name)``, built by ``python -m evonas.builders.reference --aggregate NAME``)
    member_settings: ClassVar[dict[str, dict[str, Any]]] = {}
    #: the aggregate's name, for its own packaged references ("": it ranks against the shared ones)
    own_reference: ClassVar[str] = ""

    def packaged_reference(self, dataset: str) -> Path:
        """The packaged reference this aggregate ranks against on ``dataset``: its own when it has one for that data
        set, else the shared one."""
        own = reference_path(dataset, self.own_reference) if self.own_reference else None
        return own if own is not None and own.is_file() else reference_path(dataset)

    def __post_init__(self) -> None:
        names = [parse_member(m)[0] for m in self.members]
        nested = [n for n in names if n in AGGREGATES]
        if nested:
            raise ConfigError(f"member {nested[0]!r} is a rank aggregate itself; an aggregate cannot be a member "
                              f"(aggregates: {list(AGGREGATES)})")
        if len(set(names)) != len(names):
            raise ConfigError(f"members {list(self.members)} name a score twice")
        if self.reference:  # a file that is not a reference fails here, one line naming it
            try:
                ref = load_reference(self.reference)
            except DataError as err:
                raise ConfigError(f"reference: {err}") from None
            # the members run at the reference's settings: one that holds others than these options ask for is an error
            for name, values in self.member_settings.items():
                if name in ref.values and ref.settings_of(name) != make_settings(name, values):
                    raise ConfigError(f"reference: {self.reference} holds {name} at other settings than these "
                                      f"options run it at ({values}); drop the option or the reference")

    @property
    def n_images(self) -> int:
        """Images the members read (with the packaged CIFAR-10 reference's member settings)."""
        ref = load_reference(self.reference or str(self.packaged_reference("cifar10")))
        return max([get_score(n).images_needed(ref.settings_of(n)) for n, _ in map(parse_member, self.members)] + [1])


@dataclass(frozen=True)
class AzNasAggregateSettings(RankAggregateSettings):
    """``az_nas``: AZ-NAS's four terms (expressivity, progressivity, trainability, complexity as FLOPs)."""

    members: tuple[str, ...] = field(default=AZ_NAS_MEMBERS,
                                     metadata=check(lambda v: len(v) >= 1, "at least one member"))


@dataclass(frozen=True)
class VkdnwAggregateSettings(RankAggregateSettings):
    """``vkdnw_agg``: VKDNW's entropy with AZ-NAS's expressivity and trainability, FLOPs and jacob_cov."""

    members: tuple[str, ...] = field(default=VKDNW_AGG_MEMBERS,
                                     metadata=check(lambda v: len(v) >= 1, "at least one member"))


#: ``az_nas_gk``'s members at half their default images (``half_images: true``)
AZ_NAS_GK_HALF = {"az_expressivity": {"batch_size": 32}, "az_progressivity": {"batch_size": 32},
                  "az_trainability": {"batch_size": 32}, "gradient_kernel": {"n_examples": 16}}


@dataclass(frozen=True)
class AzNasGkAggregateSettings(RankAggregateSettings):
    """``az_nas_gk``: the gradient kernel with AZ-NAS's four terms at their defaults, ranked against the shared
    packaged references. ``half_images``: each member at half its images (32 Gaussian images for AZ-NAS's pass,
    16 examples for the kernel), ranked against az_nas_gk's own packaged references (CIFAR-10 and CIFAR-100):
    about half the time, tau 0.003 lower, shortlists about 0.02 worse (docs/benchmarks_scores.md,
    docs/benchmarks_quality.md)."""

    members: tuple[str, ...] = field(default=AZ_NAS_GK_MEMBERS,
                                     metadata=check(lambda v: len(v) >= 1, "at least one member"))
    half_images: bool = False

    @property
    def member_settings(self) -> dict[str, dict[str, Any]]:  # type: ignore[override]
        return AZ_NAS_GK_HALF if self.half_images else {}

    @property
    def own_reference(self) -> str:  # type: ignore[override]
        return "az_nas_gk" if self.half_images else ""
