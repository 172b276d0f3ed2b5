"""Scoring records: what a worker is asked to compute (``ScorerSpec``) and what it returns (``Evaluation``).

Plain data with no torch import: the run directory reads and writes evaluations without
loading the scoring stack, and both types travel to Ray actors as they are.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping

from evonas.errors import ConfigError
from evonas.scores.registry import get_score, make_settings
from evonas.space.cell import Cell
from evonas.datasets import DatasetSpec, dataset_spec

if TYPE_CHECKING:
    from evonas.config.schema import Config

__all__ = ["ScorerSpec", "Evaluation", "failed"]


@dataclass(frozen=True)
class ScorerSpec:
    """What every worker needs to score cells (plain data: it travels to Ray actors as it is).

    Checked once, when it is made: ``settings`` (a plain mapping per score, as in a config's
    ``scores``; a score without one gets its defaults) become each score's settings object, one per
    score of ``scores`` and in that order; ``dataset`` is a resolved ``DatasetSpec`` (``dataset_spec(name)``
    gives NB201's, ``Config.dataset_spec`` a config's). Workers use both as they are. A spec
    copied with ``dataclasses.replace`` keeps its settings objects, so it is not checked again in full.

    ``plugins``: the modules every worker imports before it scores (a config's ``plugins``, paths made
    absolute). ``shipped``: the scoring images read once by the driver and put in Ray's object store (an
    ``ObjectRef``, ``evonas.engine.ray_start.ship_images``); a worker given them never reads ``data_root``.
    """

    scores: tuple[str, ...]
    settings: Mapping[str, Any] = field(default_factory=dict)
    dataset: DatasetSpec = dataset_spec("cifar10")
    data_root: str | None = None
    n_images: int | None = None  # None: as many as the scores read
    seed: int = 0
    C: int = 16
    N: int = 5
    device: str = "auto"
    plugins: tuple[str, ...] = ()
    shipped: Any = None  # None: each worker reads the images itself

    def __post_init__(self) -> None:
        if not isinstance(self.dataset, DatasetSpec):
            raise TypeError(f"ScorerSpec.dataset: give a DatasetSpec (dataset_spec({self.dataset!r})), "
                            f"not {type(self.dataset).__name__}")
        scores = tuple(self.scores)
        settings = {name: _settings_of(name, self.settings.get(name)) for name in scores}
        extra = set(self.settings) - set(scores)
        if extra:
            raise ConfigError(f"scores: settings given for {sorted(extra)}, which no objective or score list uses")
        object.__setattr__(self, "scores", scores)
        object.__setattr__(self, "settings", settings)
        object.__setattr__(self, "plugins", tuple(self.plugins))
        need = self.images_needed()
        if self.n_images is not None and self.n_images < need:
            raise ConfigError(f"data.n_images: {self.n_images} is too few; the scores read {need} images")
        spec = self.dataset
        have, read = spec.n_train, self.n_images or need
        if spec.custom and have and read > have:
            raise ConfigError(f"the scores read {read} training images but {spec.source.root} has {have}; add images "
                              f"or lower the scores' image counts (e.g. scores.naswot.batch_size)")

    @classmethod
    def from_config(cls, config: "Config", scores: tuple[str, ...] | None = None) -> "ScorerSpec":
        """What every worker needs to compute ``scores`` (default: the config's objectives) under ``config``.

        The data set is the config's resolved one (``Config.dataset_spec``: a user's is read and described
        once per config); its spec travels to the workers, and so do its plugins.
        """
        from evonas.config.load import plugin_entry

        names = tuple(scores or config.score_names)
        return cls(scores=names, settings={k: v for k, v in config.scores.items() if k in names},
                   dataset=config.dataset_spec, data_root=config.data.root, n_images=config.data.n_images,
                   seed=config.seed, C=config.network.C, N=config.network.N, device=config.device,
                   plugins=tuple(map(plugin_entry, config.plugins)))

    def images_needed(self) -> int:
        """The most scoring images any of the scores reads under its settings."""
        return max([get_score(n).images_needed(s) for n, s in self.settings.items()] + [0])


def _settings_of(name: str, given: Any) -> Any:
    """Score ``name``'s settings object: ``given`` when it is one already (a copied spec), else made
    (and checked) from the plain mapping ``given`` (None: the defaults)."""
    cls = get_score(name).settings
    return given if type(given) is cls else make_settings(name, given)


@dataclass
class Evaluation:
    """The outcome of scoring one cell."""

    arch: str
    index: int
    values: dict[str, float] = field(default_factory=dict)
    times: dict[str, float] = field(default_factory=dict)
    status: str = "ok"  # "ok" | "failed"
    error: str = ""
    wall_time: float = 0.0
    device: str = ""
    attempts: int = 1
    #: per score, wall-clock (``time.time()``) start and end of its computation on the worker
    spans: dict[str, tuple[float, float]] = field(default_factory=dict)
    #: when the pool handed the cell to a worker and when its result came back (``time.time()``; 0: not known)
    started: float = 0.0
    ended: float = 0.0
    actor: str = ""   # the worker(s) that scored it, e.g. "gpu0" or "gpu0 + cpu3"
    node: str = ""    # the Ray node(s) they ran on

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def merge(self, other: "Evaluation") -> "Evaluation":
        """This cell's evaluation with ``other``'s scores (of the same cell) added; failed if either failed."""
        if other.arch != self.arch:
            raise ValueError(f"cannot merge evaluations of {self.arch} and {other.arch}")
        bad = [ev for ev in (self, other) if not ev.ok]
        return Evaluation(self.arch, self.index, {**self.values, **other.values}, {**self.times, **other.times},
                          status="failed" if bad else "ok", error="; ".join(ev.error for ev in bad),
                          wall_time=self.wall_time + other.wall_time,
                          device=_joined(self.device, other.device),
                          attempts=max(self.attempts, other.attempts), spans={**self.spans, **other.spans},
                          started=min((t for t in (self.started, other.started) if t), default=0.0),
                          ended=max(self.ended, other.ended), actor=_joined(self.actor, other.actor),
                          node=_joined(self.node, other.node))


def _joined(a: str, b: str) -> str:
    """Two " + "-joined lists as one, each name once."""
    return " + ".join(dict.fromkeys(x for x in (*a.split(" + "), *b.split(" + ")) if x))


def failed(cell: Cell, error: str, attempts: int = 1, device: str = "") -> Evaluation:
    """A failed evaluation of ``cell`` with the reason."""
    return Evaluation(cell.arch, cell.index, status="failed", error=error, attempts=attempts, device=device)
