"""The training stage's section of the run configuration (``train:``) and NB201's training recipe."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Literal

from evonas.errors import ConfigError
from evonas.strict import check

__all__ = ["TrainConfig", "TrainSettings", "Rung", "KEEP_RULES"]

#: which of a rung's trainings go on to the next rung (``Rung.keep``)
KEEP_RULES = ("all", "front", "levels", "top", "rank")


@dataclass(frozen=True)
class TrainSettings:
    """NB201's training recipe (``epochs: 200`` is the benchmark's; configs choose fewer)."""

    epochs: int = field(default=200, metadata=check(lambda v: v >= 1, ">= 1"))
    batch_size: int = field(default=256, metadata=check(lambda v: v >= 1, ">= 1"))
    lr: float = field(default=0.1, metadata=check(lambda v: v > 0, "> 0"))
    momentum: float = field(default=0.9, metadata=check(lambda v: 0 <= v < 1, "in [0, 1)"))
    nesterov: bool = True
    weight_decay: float = field(default=5e-4, metadata=check(lambda v: v >= 0, ">= 0"))
    warmup_epochs: int = field(default=0, metadata=check(lambda v: v >= 0, ">= 0"))
    #: zero padding of the random crop; None: 4 for 32x32 inputs, 2 for 16x16 (NB201's)
    crop_padding: int | None = field(default=None, metadata=check(lambda v: v >= 0, ">= 0 or null"))
    flip: bool = True
    label_smoothing: float = field(default=0.0, metadata=check(lambda v: 0 <= v < 1, "in [0, 1)"))
    #: mixed precision on CUDA ("fp16" adds a gradient scaler); ignored on the CPU
    amp: Literal["none", "bf16", "fp16"] = "bf16"
    #: channels-last memory format on CUDA (faster convolutions under AMP); ignored on the CPU
    channels_last: bool = True
    num_workers: int = field(default=0, metadata=check(lambda v: v >= 0, ">= 0"))
    seed: int = 0
    #: evaluate every k epochs (the last epoch always)
    eval_every: int = field(default=1, metadata=check(lambda v: v >= 1, ">= 1"))

    def __post_init__(self) -> None:
        if self.warmup_epochs >= self.epochs:
            raise ConfigError(f"warmup_epochs ({self.warmup_epochs}) must be below epochs ({self.epochs})")


@dataclass(frozen=True)
class Rung:
    """One rung of ``train.schedule``: train for ``epochs``; ``keep`` says which of the previous rung's trainings
    come to this one (the first rung trains every candidate).

    ``all``: every one; ``front``: the front after training at the previous rung (dominated only beyond noise,
    ``evonas.search.trained_front``); ``levels``: the most accurate at each distinct cost; ``top``: the ``top``
    most accurate; ``rank``: the ``top`` best by NSGA-II's rank and crowding on (accuracy, cost), a fixed
    number that keeps the cost axis covered (multi-objective successive halving).
    """

    epochs: int = field(metadata=check(lambda v: v >= 1, ">= 1"))
    keep: Literal["all", "front", "levels", "top", "rank"] = "all"
    top: int | None = field(default=None, metadata=check(lambda v: v >= 1, ">= 1 or null"))

    def __post_init__(self) -> None:
        if (self.keep in ("top", "rank")) != (self.top is not None):
            raise ConfigError(f"keep: top and keep: rank need top: K (how many go on), and top: K needs one of them; "
                              f"got keep: {self.keep}, top: {self.top}")


@dataclass(frozen=True)
class TrainConfig:
    """The second stage: train front members for real after the training-free search."""

    after_search: bool = False       # train right after the search (else: ``evonas train RUN_DIR``)
    #: front: every member; top_k: the best top_k of each objective; ids: these front ids;
    #: bands: the best cell by ``rank_by`` in each of ``bands`` equal-count bands of ``band_by``
    candidates: Literal["front", "top_k", "ids", "bands"] = "front"
    top_k: int = field(default=3, metadata=check(lambda v: v >= 1, ">= 1"))  # best k of each objective
    ids: tuple[int, ...] = ()
    bands: int = field(default=4, metadata=check(lambda v: v >= 1, ">= 1"))  # candidates of the bands rule
    #: which cells the bands cut: the front (pareto.csv), or every cell the run scored
    bands_over: Literal["front", "scored"] = "front"
    #: how the cost axis is cut: ``count``, train.bands equal-count bands; ``levels``, one band per
    #: distinct cost value, train.bands cells taken round robin (best of every level, then second best, ...)
    bands_cut: Literal["count", "levels"] = "count"
    #: the score that picks each band's cell: an objective, or ``ranks`` (the sum of the log percentile
    #: ranks of every objective but the cost); null: the first maximised objective
    rank_by: str | None = None
    #: the run's cost (``Config.cost_objective``): what the bands cut, the front after training is judged on
    #: and the plots put on their x axis; a minimised objective (null: the last minimised objective)
    band_by: str | None = None
    dataset: str | None = None       # None: the search's data set (dataset custom: always)
    data_root: str | None = None     # None: the search's data.root (dataset custom: always)
    n_train: int | None = field(default=None, metadata=check(lambda v: v >= 1, ">= 1 or null"))
    recipe: TrainSettings = field(default_factory=TrainSettings)  # NB201's recipe: 200 epochs
    #: trainings of each candidate (at each rung), seeds recipe.seed, recipe.seed + 1, ... (each its own weights and
    #: data order, on the same training images): its accuracy is their mean, and its 95 % interval is widened by
    #: their spread (evonas.search.trained_front.accuracy_interval)
    seeds: int = field(default=1, metadata=check(lambda v: v >= 1, ">= 1"))
    #: successive halving: rungs of increasing epochs, each training only those its ``keep`` rule lets through
    #: from the rung before, e.g. [{epochs: 12}, {epochs: 200, keep: front}]; empty: one rung of recipe.epochs.
    #: The rungs' epochs replace recipe.epochs.
    schedule: tuple[Rung, ...] = ()
    #: how a kept candidate trains at the next rung. scratch: afresh, the recipe at the rung's own length
    #: (its cosine reaches 0 at the rung's last epoch; NB201's 12-epoch trainings are such); checkpoint: every
    #: rung is the first epochs of the last rung's recipe (the cosine over the last rung's epochs), so a kept
    #: candidate goes on from its checkpoint and pays only the extra epochs, but early rungs are judged
    #: mid-schedule, at a high learning rate
    schedule_from: Literal["scratch", "checkpoint"] = "scratch"
    #: trainings sharing one GPU (each task asks Ray for 1/jobs_per_gpu of it); auto: as many as fit
    #: in 80% of the GPU's memory by the measured peak of the largest candidate (at most 8)
    jobs_per_gpu: int | Literal["auto"] = field(default="auto", metadata=check(lambda v: v == "auto" or v >= 1,
                                                                               ">= 1 or auto"))

    def __post_init__(self) -> None:
        rungs = self.schedule
        if not rungs:
            return
        if rungs[0].keep != "all":
            raise ConfigError(f"train.schedule[0]: the first rung trains every candidate; drop its keep: "
                              f"{rungs[0].keep} (keep rules belong to the later rungs)")
        for i in range(1, len(rungs)):
            if rungs[i].epochs <= rungs[i - 1].epochs:
                raise ConfigError(f"train.schedule[{i}]: epochs must grow from rung to rung, got "
                                  f"{rungs[i - 1].epochs} then {rungs[i].epochs}")
        if self.recipe.warmup_epochs >= rungs[0].epochs:
            raise ConfigError(f"train.recipe.warmup_epochs ({self.recipe.warmup_epochs}) must be below the first "
                              f"rung's epochs ({rungs[0].epochs})")

    def rungs(self) -> tuple[Rung, ...]:
        """The schedule's rungs; without a schedule one rung of ``recipe.epochs``."""
        return self.schedule or (Rung(self.recipe.epochs),)

    def rung_recipe(self, rung: int) -> tuple[TrainSettings, int]:
        """(the recipe a training at rung ``rung`` runs, the epoch it stops after).

        scratch: the recipe at the rung's length, run to its end; checkpoint: the recipe at the last
        rung's length, stopped after the rung's epochs.
        """
        rungs = self.rungs()
        length = rungs[rung].epochs if self.schedule_from == "scratch" else rungs[-1].epochs
        return dataclasses.replace(self.recipe, epochs=length), rungs[rung].epochs
