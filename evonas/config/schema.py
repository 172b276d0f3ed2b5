"""The run configuration's schema: frozen dataclasses with their defaults, types and checks.

Unknown keys, wrong types and out-of-range values raise ``ConfigError`` naming the key's
path and the allowed values, before any work starts (``evonas.strict`` converts a
mapping; ``evonas.config.load`` reads YAML and applies ``--set`` overrides). Score names and
``scores.<name>`` settings are checked against the score registry's metadata (no torch).
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from functools import cached_property
from typing import Any, Literal

from evonas.strict import check, suggest
from evonas.errors import ConfigError
from evonas.scores.registry import SCORES, Direction, get_score, make_settings, minimise_sign
from evonas.datasets import AUTO, CUSTOM, DATASETS, DatasetSpec, check_data, data_formats, resolve
from evonas.config.train import TrainConfig, TrainSettings

__all__ = ["DATASET_NAMES", "Direction", "minimise_sign", "Config", "DataConfig", "NetworkConfig", "ObjectiveConfig",
           "SearchConfig", "RayConfig", "OutputConfig", "CacheConfig", "BenchmarkConfig", "TrainConfig",
           "TrainSettings"]

#: ``train.rank_by`` value: rank by the sum of log percentile ranks of every objective but the cost
RANKS = "ranks"

#: the values ``dataset`` and ``train.dataset`` take: NB201's data sets (``evonas.datasets.DATASETS``) and custom
DATASET_NAMES = (*DATASETS, CUSTOM)


@dataclass(frozen=True)
class DataConfig:
    """Where the images are. NB201 data sets: ``root`` holds their python pickles (None: the packaged
    sample). ``dataset: custom``: ``root`` is an image folder or an ``.npz`` (``evonas.datasets.formats``)."""

    root: str | None = None          # None: the images packaged with evonas
    n_images: int | None = field(default=None, metadata=check(lambda v: v >= 1, ">= 1 or null"))
    #: dataset custom: folder (train/<class>/, val/<class>/) or npz (x_train, y_train, x_test, y_test);
    #: auto: told by root (npz when it ends in .npz, else folder); the formats: evonas.datasets.formats
    format: str = AUTO
    #: dataset custom: side of the square network input (shorter side resized, centre-cropped);
    #: null: an .npz's own size (an image folder needs it)
    resolution: int | None = field(default=None, metadata=check(lambda v: v >= 1, ">= 1 or null"))
    #: dataset custom, a folder without val/: this share of each class is held out as the test split
    val_split: float | None = field(default=None, metadata=check(lambda v: 0 < v < 1, "0 < share < 1 or null"))
    split_seed: int = 0              # dataset custom: the seed of val_split's draw


@dataclass(frozen=True)
class NetworkConfig:
    C: int = field(default=16, metadata=check(lambda v: v >= 1, ">= 1"))
    N: int = field(default=5, metadata=check(lambda v: v >= 1, ">= 1"))


@dataclass(frozen=True)
class ObjectiveConfig:
    score: str
    direction: Direction | None = None  # None: the score's own direction

    def __post_init__(self) -> None:
        info = get_score(self.score)
        if self.direction is None:
            object.__setattr__(self, "direction", info.direction)

    @property
    def sign(self) -> float:
        """+1.0 when the objective is minimised, -1.0 when maximised (``minimise_sign``)."""
        return minimise_sign(self.direction)


@dataclass(frozen=True)
class SearchConfig:
    #: generational: pymoo's NSGA-II, a barrier per generation, a resume that replays it bit for bit;
    #: async: steady-state NSGA-II (``evonas.search.steady``), a new cell to each worker as soon as it is free
    mode: Literal["generational", "async"] = "generational"
    #: async: the budget in scored cells; null: what the generational search would score
    #: (pop_size + (n_gen - 1) x n_offsprings)
    max_evals: int | None = field(default=None, metadata=check(lambda v: v >= 1, ">= 1 or null"))
    pop_size: int = field(default=50, metadata=check(lambda v: v >= 4, ">= 4"))
    n_gen: int = field(default=20, metadata=check(lambda v: v >= 1, ">= 1"))
    n_offsprings: int | None = field(default=None, metadata=check(lambda v: v >= 1, ">= 1 or null"))
    crossover_prob: float = field(default=0.9, metadata=check(lambda v: 0 <= v <= 1, "0..1"))
    mutation_prob: float | None = field(default=None, metadata=check(lambda v: 0 < v <= 1, "0 < p <= 1 or null"))

    def __post_init__(self) -> None:
        if self.max_evals is not None and self.mode != "async":
            raise ConfigError(f"search.max_evals: {self.max_evals} is the asynchronous search's budget; the "
                              f"generational one runs search.n_gen generations (set search.mode: async, or drop it)")
        if self.max_evals is not None and self.max_evals < self.pop_size:
            raise ConfigError(f"search.max_evals: {self.max_evals} is fewer than search.pop_size {self.pop_size}; "
                              f"the first population alone scores that many")

    @property
    def most_in_flight(self) -> int:
        """The most cells the search has in flight at once: a generation (the first holds ``pop_size``), or, in
        the asynchronous search, up to its whole budget (as many as there are actors to keep busy)."""
        return self.budget if self.mode == "async" else max(self.pop_size, self.n_offsprings or self.pop_size)

    @property
    def budget(self) -> int:
        """The cells the search scores: ``max_evals``, or what ``n_gen`` generations score
        (``pop_size + (n_gen - 1) x n_offsprings``, ``n_offsprings`` defaulting to ``pop_size``)."""
        return self.max_evals or self.pop_size + (self.n_gen - 1) * (self.n_offsprings or self.pop_size)


@dataclass(frozen=True)
class RuntimeEnvConfig:
    """What the run asks Ray to set up on every worker (``ray.init(runtime_env=...)``): the keys evonas passes on."""

    pip: tuple[str, ...] | str | None = None   # requirements to install, or a requirements file
    py_modules: tuple[str, ...] | None = None  # local folders or .py files (sent to every node), or URIs
    working_dir: str | None = None             # a local folder (sent to every node) or a URI
    env_vars: dict[str, str] | None = None     # environment variables of the workers

    def as_ray(self) -> dict[str, Any]:
        """The keys that are set, as ``ray.init`` takes them (lists for sequences)."""
        return {f.name: list(v) if isinstance(v, tuple) else v for f in fields(self)
                if (v := getattr(self, f.name)) is not None}


@dataclass(frozen=True)
class RayConfig:
    backend: Literal["ray", "serial"] = "ray"
    address: str | None = None       # None: start a local Ray; "auto" or "ray://host:port": attach
    #: scoring actors: on the GPUs when there are any (default gpus x actors_per_gpu), else one per CPU slot;
    #: the default is capped to the cells the search keeps in flight (a generation), so none idles
    num_actors: int | None = field(default=None, metadata=check(lambda v: v >= 1, ">= 1 or null"))
    #: scoring actors sharing each GPU (2: one actor's host-side work leaves the GPU idle, a second fills it)
    actors_per_gpu: int = field(default=2, metadata=check(lambda v: v >= 1, ">= 1"))
    #: CPU actors beside GPU actors for scores that run no network on images (flops, params, synflow, ...);
    #: auto: every CPU slot the GPU actors leave free (none when every score needs the GPU)
    cpu_actors: int | Literal["auto"] = field(default="auto", metadata=check(lambda v: v == "auto" or v >= 0,
                                                                              ">= 0 or auto"))
    max_retries: int = field(default=2, metadata=check(lambda v: v >= 0, ">= 0"))
    connect_timeout_s: float = field(default=10.0, metadata=check(lambda v: v > 0, "> 0"))
    #: a cell with no result after this long has its worker killed and replaced, and is retried
    task_timeout_s: float = field(default=600.0, metadata=check(lambda v: v > 0, "> 0"))
    #: ... or, once 20 cells have come back, after this many times the slowest of them (at least 10 s): a hung
    #: node answers nothing and Ray may take minutes to declare it dead (0: task_timeout_s only)
    stuck_factor: float = field(default=5.0, metadata=check(lambda v: v == 0 or v >= 2, "0 (off) or >= 2"))
    #: workers not started after this long are given up (none started: an error)
    start_timeout_s: float = field(default=120.0, metadata=check(lambda v: v > 0, "> 0"))
    #: Ray's runtime environment for the run's workers; the plugins' local files and folders are added to py_modules
    runtime_env: RuntimeEnvConfig = field(default_factory=RuntimeEnvConfig)


@dataclass(frozen=True)
class OutputConfig:
    dir: str | None = None           # None: runs/<name>-<timestamp>


@dataclass(frozen=True)
class CacheConfig:
    dir: str | None = None           # None: no score cache; e.g. ~/.cache/evonas/scores


@dataclass(frozen=True)
class BenchmarkConfig:
    """The full NATS-Bench / NAS-Bench-201 file, when on disk: its figures go into pareto.csv."""

    path: str | None = None          # NATS-tss-v1_0-3ffb9-simple dir, *.pickle.pbz2 or NAS-Bench-201-v1_1-096897.pth
    hp: Literal["12", "200"] = "200"  # the training schedule whose figures are looked up


def _default_objectives() -> tuple[ObjectiveConfig, ...]:
    return (ObjectiveConfig("knas", "max"), ObjectiveConfig("flops", "min"))


@dataclass(frozen=True)
class Config:
    name: str = "evonas"
    seed: int = 0
    dataset: str = "cifar10"         # a name of DATASET_NAMES
    device: Literal["auto", "cpu", "cuda"] = "auto"
    data: DataConfig = field(default_factory=DataConfig)
    network: NetworkConfig = field(default_factory=NetworkConfig)
    objectives: tuple[ObjectiveConfig, ...] = field(default_factory=_default_objectives)
    scores: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: modules that register scores (or data formats) of the user's, imported before the config is checked and
    #: in every scoring worker: module names, .py files or package folders (shipped to a Ray cluster's workers)
    plugins: tuple[str, ...] = ()
    search: SearchConfig = field(default_factory=SearchConfig)
    ray: RayConfig = field(default_factory=RayConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    cache: CacheConfig = field(default_factory=CacheConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    benchmark: BenchmarkConfig = field(default_factory=BenchmarkConfig)

    def __post_init__(self) -> None:
        self._check_names()
        if len(self.objectives) < 2:
            raise ConfigError(f"objectives: a multi-objective search needs at least 2, got {len(self.objectives)}")
        names = [o.score for o in self.objectives]
        if len(set(names)) != len(names):
            raise ConfigError(f"objectives: each score may appear once, got {names}")
        for name, values in self.scores.items():
            if name not in SCORES:
                raise ConfigError(f"scores.{name}: unknown score{suggest(name, SCORES)}; choose from {sorted(SCORES)}")
            if name not in names:
                raise ConfigError(f"scores.{name}: settings for a score that is not an objective ({names})")
            make_settings(name, values)
        self._check_data()
        tc = self.train
        for key, name in (("rank_by", tc.rank_by), ("band_by", tc.band_by)):
            if name is not None and name not in names and (key, name) != ("rank_by", RANKS):
                extra = f" or {RANKS!r}" if key == "rank_by" else ""
                raise ConfigError(f"train.{key}: {name!r} is not an objective; choose from {names}{extra}")
        cost = self.cost_objective
        if tc.band_by is not None and cost is not None and cost.direction != "min":
            raise ConfigError(f"train.band_by: {tc.band_by!r} is maximised; the cost (what the bands cut, the front "
                              f"after training is judged on, the plots' x axis) is a minimised objective")
        if tc.candidates == "bands":
            self.train_band_by  # noqa: B018  (no minimised objective: an error now, not after the search)
        levels = [i for i, r in enumerate(tc.schedule) if r.keep == "levels"]
        if levels and cost is None:
            raise ConfigError(f"train.schedule[{levels[0]}]: keep: levels keeps the most accurate at each cost level, "
                              f"and no objective is a cost (a minimised one, or train.band_by)")

    def _check_names(self) -> None:
        """``dataset`` and ``train.dataset`` name known data sets, ``data.format`` a known format."""
        for key, name in (("dataset", self.dataset), ("train.dataset", self.train.dataset)):
            if name is not None and name not in DATASET_NAMES:
                raise ConfigError(f"{key}: unknown data set {name!r}{suggest(str(name), DATASET_NAMES)}; "
                                  f"choose from {list(DATASET_NAMES)}")
        formats = data_formats()
        if self.data.format not in formats:
            raise ConfigError(f"data.format: unknown data format {self.data.format!r}"
                              f"{suggest(str(self.data.format), formats)}; choose from {formats}")

    def _check_data(self) -> None:
        """The ``data`` keys fit the data set: a user's needs a root and what its format needs
        (``evonas.datasets.check_data``: a folder its resolution, an .npz no val_split)."""
        d, tc = self.data, self.train
        if self.dataset != CUSTOM:
            for key, value, unset in (("format", d.format, AUTO), ("resolution", d.resolution, None),
                                      ("val_split", d.val_split, None)):
                if value != unset:
                    side = self.dataset_spec.resolution
                    raise ConfigError(f"data.{key}: only for dataset: custom ({self.dataset} has its own format and "
                                      f"{side}x{side} images)")
            if tc.dataset == CUSTOM:
                raise ConfigError("train.dataset: custom data is the search's (dataset: custom with a data section), "
                                  "not a training-only data set")
            return
        check_data(d)
        if self.benchmark.path is not None:
            raise ConfigError("benchmark.path: NATS-Bench has figures for NB201's data sets only, none for custom "
                              "data; drop it")
        if tc.dataset is not None or tc.data_root is not None:
            raise ConfigError("train.dataset / train.data_root: with dataset custom the training stage uses the "
                              "search's data; drop them")
        for o in self.objectives:
            settings = make_settings(o.score, self.scores.get(o.score))
            if getattr(settings, "reference", None) == "":
                raise ConfigError(f"scores.{o.score}.reference: {o.score} ranks cells against a reference sample, and "
                                  f"the packaged ones are CIFAR's; build one for your data with python -m "
                                  f"evonas.builders.reference --config CONFIG --out ref.npz and set "
                                  f"scores.{o.score}.reference: ref.npz")

    @property
    def train_rank_by(self) -> ObjectiveConfig | None:
        """The objective that picks each band's cell: ``train.rank_by``, else the first maximised one;
        None for ``ranks`` (the rank sum of every objective but the bands' cost)."""
        name = self.train.rank_by
        if name == RANKS:
            return None
        if name is None:
            return next((o for o in self.objectives if o.direction == "max"), self.objectives[0])
        return next(o for o in self.objectives if o.score == name)

    @property
    def cost_objective(self) -> ObjectiveConfig | None:
        """The run's cost, by one rule: ``train.band_by`` when set, else the last minimised objective, else None
        (every objective is maximised).

        Everything that speaks of "the cost" reads it here: the bands shortlist cuts it
        (``train_band_by``), the front after training is judged on it (``search.trained_front.trained_cost``),
        the plots put it on their x axis (``viz.report.default_axes``) and ``pick --select bands`` lists it.
        """
        name = self.train.band_by
        if name is not None:
            return next(o for o in self.objectives if o.score == name)
        return next((o for o in reversed(self.objectives) if o.direction == "min"), None)

    @property
    def train_band_by(self) -> ObjectiveConfig:
        """The cost the bands cut: ``cost_objective``; an error when there is none."""
        cost = self.cost_objective
        if cost is None:
            raise ConfigError("train.candidates: bands needs a minimised objective (a cost such as flops) to cut "
                              "into bands; set train.band_by or choose another train.candidates")
        return cost

    @cached_property
    def dataset_spec(self) -> DatasetSpec:
        """The search's data set as a spec, made once per config (``evonas.datasets.resolve``): NB201's from the
        registry; a user's (``dataset: custom``) read, checked and described from ``data`` on first use."""
        return resolve(self)

    @property
    def custom_data(self) -> bool:
        """The search runs on a user's own data (``dataset: custom``): no table or NATS-Bench columns."""
        return self.dataset == CUSTOM

    @property
    def score_names(self) -> tuple[str, ...]:
        return tuple(o.score for o in self.objectives)
