"""The search's checks before any work: everything a search of a config needs is there, or one clear error.

``check_search`` reads a user's data set (``dataset: custom``) and checks it, the scores' reference
samples against it, the scores and their settings, the images on disk (the training stage's too
when it follows the search), the NATS-Bench file and the device, so a bad input ends the command
before a run directory is made or a worker is started. Importing this module does nothing.
"""
from __future__ import annotations

from evonas.config.schema import Config
from evonas.datasets import check_available, train_root, train_spec
from evonas.engine.batch import check_references
from evonas.engine.records import ScorerSpec
from evonas.nn.devices import resolve_device

__all__ = ["check_search"]


def check_search(config: Config) -> ScorerSpec:
    """Check everything a search of ``config`` needs; return its scorer spec (``spec.dataset``: the
    data set's spec, a user's read and described here). Every problem is an ``EvonasError``."""
    dataset = config.dataset_spec  # a user's data set is read and checked here, before any other work
    check_references(config.scores, config.score_names, dataset)
    spec = ScorerSpec.from_config(config)  # the scores, their settings and image counts
    check_available(dataset, config.data.root)
    if config.benchmark.path is not None:
        from evonas.space.natsbench import NatsBenchLookup

        NatsBenchLookup(config.benchmark.path)  # a missing or unreadable benchmark fails now
    if config.train.after_search:  # the second stage's data too, before the search spends any time
        check_available(train_spec(config), train_root(config))
    if config.ray.address is None and config.ray.backend == "ray" or config.ray.backend == "serial":
        resolve_device(config.device)  # a GPU asked for where there is none: fail now
    return spec
