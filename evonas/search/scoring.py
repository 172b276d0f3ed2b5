"""The scoring set-up of a search config: its scorer spec and its score caches."""
from __future__ import annotations

import dataclasses
from typing import Callable

from evonas.config.schema import Config
from evonas.engine.cache import ScoreCache, cache_key
from evonas.engine.records import ScorerSpec
from evonas.space.datasets import DatasetSpec

__all__ = ["scorer_spec", "open_caches"]


def scorer_spec(config: Config, scores: tuple[str, ...] | None = None) -> ScorerSpec:
    """What every worker needs to compute ``scores`` (default: the config's) under ``config``."""
    names = scores or config.score_names
    dataset: str | DatasetSpec = config.dataset
    if config.custom_data:  # the user's data, read and described here (its spec travels to the workers)
        from evonas.nn.images import dataset_of

        dataset = dataset_of(config)
    return ScorerSpec(scores=names, settings={k: v for k, v in config.scores.items() if k in names},
                      dataset=dataset, data_root=config.data.root, n_images=config.data.n_images,
                      seed=config.seed, C=config.network.C, N=config.network.N, device=config.device)


def open_caches(config: Config, spec: ScorerSpec, device_kind: str | Callable[[str], str]) -> dict[str, ScoreCache]:
    """One cache per score under ``cache.dir`` (none when it is null), keyed by the device that
    computes the score (``device_kind``: one name, or a pool's ``device_for``)."""
    if config.cache.dir is None:
        return {}
    settings = spec.validate()
    device = device_kind if callable(device_kind) else (lambda name: device_kind)
    return {name: ScoreCache(config.cache.dir, cache_key(
        name, dataclasses.asdict(settings[name]), seed=spec.seed, dataset=spec.dataset,
        data_root=spec.data_root, C=spec.C, N=spec.N, device_kind=device(name))) for name in spec.scores}
