"""A config's data set as a spec, and a spec's images: checked for, or read as uint8 arrays (torch-free).

``resolve(config)`` is the config's data set (``Config.dataset_spec`` calls it once per config): an
NB201 data set's spec, or a user's read and described from ``data``. ``check_available`` fails fast
when the images a run needs are not there; ``read_split`` reads them through their format's reader.
``evonas.nn.images.load_images`` turns them into normalised tensors.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from evonas.datasets.custom import read_user_data, read_user_split
from evonas.datasets.formats import reader_for, source_of
from evonas.datasets.spec import CUSTOM, DatasetSpec, dataset_spec
from evonas.errors import DataError

if TYPE_CHECKING:
    from evonas.config.schema import Config

__all__ = ["resolve", "train_spec", "train_root", "check_available", "read_split", "Split", "SPLITS"]

SPLITS = ("test", "train")


class Split(NamedTuple):
    """One split's uint8 NHWC images, int64 labels, and where they were read (``ImageSet.source``)."""

    x: np.ndarray
    y: np.ndarray
    source: str


def resolve(config: "Config") -> DatasetSpec:
    """The spec of the config's data set; for ``dataset: custom`` read (and checked) from ``data``."""
    if config.dataset != CUSTOM:
        return dataset_spec(config.dataset)
    return read_user_data(source_of(config.data)).spec


def train_spec(config: "Config") -> DatasetSpec:
    """The training stage's data set: ``train.dataset``, else the search's (``config.dataset_spec``)."""
    return dataset_spec(config.train.dataset) if config.train.dataset else config.dataset_spec


def train_root(config: "Config") -> str | None:
    """Where the training stage reads its images: ``train.data_root``, else ``data.root``."""
    return config.train.data_root if config.train.data_root is not None else config.data.root


def check_available(dataset: str | DatasetSpec, root: str | Path | None) -> None:
    """Fail fast (before any work) when the images a run needs are not there (a user's: unreadable or bad)."""
    spec = dataset_spec(dataset)
    if spec.source is not None:
        read_user_split(spec, "train")
    else:
        reader_for(spec, root).check(spec, root)


def read_split(dataset: str | DatasetSpec, root: str | Path | None, split: str) -> Split:
    """``split`` of the data set: a user's from its own source (``root`` is ignored), NB201's from the
    pickles under ``root`` or, when ``root`` is None, the packaged sample."""
    spec = dataset_spec(dataset)
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r}; choose from {list(SPLITS)}")
    if spec.source is not None:
        return Split(*read_user_split(spec, split), spec.source.root)
    reader = reader_for(spec, root)
    return Split(*reader.read(spec, root, split), reader.where(spec, root))
