"""The run configuration: a strict schema of frozen dataclasses, loaded from YAML.

Unknown keys, wrong types and out-of-range values raise ``ConfigError`` naming the key's
path and the allowed values, before any work starts. ``--set a.b=value`` overrides apply
to the YAML before validation, so they are checked the same way.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Mapping

import yaml

from evonas.errors import ConfigError
from evonas.config.strict import check, from_mapping, suggest, to_mapping
from evonas.scores import SCORES, get_score, make_settings
from evonas.train.loop import TrainSettings

__all__ = ["Config", "DataConfig", "NetworkConfig", "ObjectiveConfig", "SearchConfig", "RayConfig",
           "load_config", "config_from_mapping", "apply_overrides", "dump_config"]

Dataset = Literal["cifar10", "cifar100", "imagenet16-120"]


@dataclass(frozen=True)
class DataConfig:
    root: str | None = None          # None: the images packaged with evonas
    n_images: int | None = field(default=None, metadata=check(lambda v: v >= 1, ">= 1 or null"))


@dataclass(frozen=True)
class NetworkConfig:
    C: int = field(default=16, metadata=check(lambda v: v >= 1, ">= 1"))
    N: int = field(default=5, metadata=check(lambda v: v >= 1, ">= 1"))


@dataclass(frozen=True)
class ObjectiveConfig:
    score: str
    direction: Literal["max", "min"] | None = None  # None: the score's own direction

    def __post_init__(self) -> None:
        info = get_score(self.score)
        if self.direction is None:
            object.__setattr__(self, "direction", info.direction)

    @property
    def label(self) -> str:
        return self.score


@dataclass(frozen=True)
class SearchConfig:
    algorithm: Literal["nsga2"] = "nsga2"
    pop_size: int = field(default=50, metadata=check(lambda v: v >= 4, ">= 4"))
    n_gen: int = field(default=20, metadata=check(lambda v: v >= 1, ">= 1"))
    n_offsprings: int | None = field(default=None, metadata=check(lambda v: v >= 1, ">= 1 or null"))
    crossover_prob: float = field(default=0.9, metadata=check(lambda v: 0 <= v <= 1, "0..1"))
    mutation_prob: float | None = field(default=None, metadata=check(lambda v: 0 < v <= 1, "0 < p <= 1 or null"))


@dataclass(frozen=True)
class RayConfig:
    backend: Literal["ray", "serial"] = "ray"
    address: str | None = None       # None: start a local Ray; "auto" or "ray://host:port": attach
    #: scoring actors: on the GPUs when there are any (default gpus x actors_per_gpu), else one per CPU slot
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
    #: workers not started after this long are given up (none started: an error)
    start_timeout_s: float = field(default=120.0, metadata=check(lambda v: v > 0, "> 0"))


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


@dataclass(frozen=True)
class TrainConfig:
    """The second stage: train front members for real after the training-free search."""

    after_search: bool = False       # train right after the search (else: ``evonas train RUN_DIR``)
    candidates: Literal["front", "top_k", "ids"] = "front"
    top_k: int = field(default=3, metadata=check(lambda v: v >= 1, ">= 1"))  # best k of each objective
    ids: tuple[int, ...] = ()
    dataset: Dataset | None = None   # None: the search's data set
    data_root: str | None = None     # None: the search's data.root
    n_train: int | None = field(default=None, metadata=check(lambda v: v >= 1, ">= 1 or null"))
    recipe: TrainSettings = field(default_factory=TrainSettings)  # NB201's recipe: 200 epochs
    #: trainings sharing one GPU (each task asks Ray for 1/jobs_per_gpu of it); auto: as many as fit
    #: in 80% of the GPU's memory by the measured peak of the largest candidate (at most 8)
    jobs_per_gpu: int | Literal["auto"] = field(default="auto", metadata=check(lambda v: v == "auto" or v >= 1,
                                                                               ">= 1 or auto"))


def _default_objectives() -> tuple[ObjectiveConfig, ...]:
    return (ObjectiveConfig("knas", "max"), ObjectiveConfig("flops", "min"))


@dataclass(frozen=True)
class Config:
    name: str = "evonas"
    seed: int = 0
    dataset: Dataset = "cifar10"
    device: Literal["auto", "cpu", "cuda"] = "auto"
    data: DataConfig = field(default_factory=DataConfig)
    network: NetworkConfig = field(default_factory=NetworkConfig)
    objectives: tuple[ObjectiveConfig, ...] = field(default_factory=_default_objectives)
    scores: dict[str, dict[str, Any]] = field(default_factory=dict)
    search: SearchConfig = field(default_factory=SearchConfig)
    ray: RayConfig = field(default_factory=RayConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    cache: CacheConfig = field(default_factory=CacheConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    benchmark: BenchmarkConfig = field(default_factory=BenchmarkConfig)

    def __post_init__(self) -> None:
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

    @property
    def score_names(self) -> tuple[str, ...]:
        return tuple(o.score for o in self.objectives)


def _set_path(tree: dict[str, Any], dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    node = tree
    for depth, key in enumerate(keys[:-1]):
        child = node.get(key)
        if child is None:
            child = node[key] = {}
        if not isinstance(child, dict):
            raise ConfigError(f"--set {dotted}: {'.'.join(keys[:depth + 1])} is not a mapping")
        node = child
    node[keys[-1]] = value


def apply_overrides(data: Mapping[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``key.path=value`` strings (values parsed as YAML) to a copy of ``data``."""
    tree = copy.deepcopy(dict(data))
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r}: expected KEY.PATH=VALUE, e.g. search.pop_size=20")
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError as err:
            raise ConfigError(f"--set {item!r}: the value is not valid YAML ({err})") from None
        _set_path(tree, key.strip(), value)
    return tree


def config_from_mapping(data: Mapping[str, Any] | None) -> Config:
    return from_mapping(Config, data or {})


def load_config(path: str | Path, overrides: list[str] | None = None) -> Config:
    """Read, override and validate a YAML config; every problem is one ``ConfigError``."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} does not exist")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys, got {type(data).__name__}")
    data.setdefault("name", path.stem)
    try:
        return config_from_mapping(apply_overrides(data, overrides or []))
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None


def dump_config(config: Config) -> str:
    """The resolved config as YAML (every default written out)."""
    return yaml.safe_dump(to_mapping(config), sort_keys=False)
