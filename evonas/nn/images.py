"""Images for scoring and training: the packaged sample, or the full data sets on disk.

Formats read from ``data.root``:
- CIFAR-10: ``cifar-10-batches-py/{data_batch_1..5,test_batch}`` (the python pickle batches)
- CIFAR-100: ``cifar-100-python/{train,test}`` (fine labels)
- ImageNet16-120: ``ImageNet16/{train_data_batch_1..10,val_data}`` (NB201's down-sampled
  ImageNet pickles, labels 1..1000; classes 1..120 kept and shifted to 0..119)

A user's own data (``dataset: custom``: an image folder or an ``.npz``, ``evonas.nn.userdata``) is
named by its spec (``dataset_of(config)``), which says where the images are; ``load_images`` of that
spec reads them, and fails when they changed since the spec was made (its fingerprint).
"""
from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np
import torch

from evonas.data import DATA_DIR
from evonas.errors import DataError
from evonas.nn.userdata import read_user_data
from evonas.space.datasets import CUSTOM, DatasetSpec, DataSource, dataset_spec

if TYPE_CHECKING:
    from evonas.config.schema import Config

__all__ = ["ImageSet", "load_images", "check_available", "dataset_of", "train_dataset_of", "PACKAGED"]

#: packaged samples, by data set
PACKAGED = {"cifar10": "cifar10_sample.npz", "cifar100": "cifar100_sample.npz"}


@dataclass(frozen=True)
class ImageSet:
    """Normalised images (n, 3, H, W) float32 and integer labels (n,)."""

    images: torch.Tensor
    labels: torch.Tensor
    dataset: str | DatasetSpec  # a name, or the spec of a user's data set
    source: str  # "packaged sample" or the directory read

    def __len__(self) -> int:
        return len(self.labels)

    def to(self, device: torch.device | str) -> "ImageSet":
        return ImageSet(self.images.to(device), self.labels.to(device), self.dataset, self.source)


def _read_part(path: Path, label_key: str, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Images (n, size, size, 3) uint8 and labels (n,) of one pickled batch file.

    The file is a dict with ``data`` (n x 3*size*size uint8 rows: the red plane, then green,
    then blue) and ``label_key`` (n ints); anything else is a ``DataError`` naming the file.
    """
    if not path.is_file():
        raise DataError(f"missing data file {path}")
    try:
        with open(path, "rb") as f:
            part = pickle.load(f, encoding="latin1")
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, ImportError) as err:
        raise DataError(f"data file {path} is not a python pickle of the expected format ({err})") from None
    missing = [k for k in ("data", label_key) if not isinstance(part, dict) or k not in part]
    if missing:
        raise DataError(f"data file {path} lacks the key(s) {missing} of the expected format")
    data, labels = np.asarray(part["data"]), np.asarray(part[label_key])
    if data.ndim != 2 or data.shape[1] != 3 * size * size or len(labels) != len(data):
        raise DataError(f"data file {path} holds data of shape {data.shape} and {len(labels)} labels; "
                        f"expected n x {3 * size * size} ({size}x{size} RGB images) and n labels")
    return data.reshape(-1, 3, size, size).transpose(0, 2, 3, 1), labels


def _read_parts(paths: list[Path], label_key: str, size: int) -> tuple[np.ndarray, np.ndarray]:
    parts = [_read_part(p, label_key, size) for p in paths]
    return np.concatenate([x for x, _ in parts]), np.concatenate([y for _, y in parts])


def _first_120_classes(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ImageNet16-120: classes 1..120 of the 1000, shifted to 0..119."""
    keep = (y >= 1) & (y <= 120)
    return x[keep], y[keep] - 1


@dataclass(frozen=True)
class _OnDisk:
    """Where a data set's pickled batches lie under ``data.root``, and how their labels read."""

    train: tuple[str, ...]
    test: tuple[str, ...]
    label_key: str
    expected: str  # the files, in words, for error messages
    select: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]] | None = None

    @property
    def files(self) -> tuple[str, ...]:
        return self.train + self.test


_ON_DISK = {
    "cifar10": _OnDisk(tuple(f"cifar-10-batches-py/data_batch_{i}" for i in range(1, 6)),
                       ("cifar-10-batches-py/test_batch",), "labels",
                       "cifar-10-batches-py/data_batch_1..5 and test_batch (the 'CIFAR-10 python version')"),
    "cifar100": _OnDisk(("cifar-100-python/train",), ("cifar-100-python/test",), "fine_labels",
                        "cifar-100-python/train and test (the 'CIFAR-100 python version')"),
    "imagenet16-120": _OnDisk(tuple(f"ImageNet16/train_data_batch_{i}" for i in range(1, 11)),
                              ("ImageNet16/val_data",), "labels",
                              "ImageNet16/train_data_batch_1..10 and val_data (NB201's ImageNet16 pickles)",
                              _first_120_classes),
}


def _read_disk(dataset: str, root: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Images (n, size, size, 3) uint8 and labels (n,) of ``split`` read from the files under ``root``."""
    disk = _ON_DISK[dataset]
    names = disk.train if split == "train" else disk.test
    x, y = _read_parts([root / n for n in names], disk.label_key, dataset_spec(dataset).resolution)
    return disk.select(x, y) if disk.select is not None else (x, y)


def _no_packaged_sample(dataset: str) -> DataError:
    return DataError(f"no packaged sample of {dataset}; set data.root to a directory holding "
                     f"{_ON_DISK[dataset].expected}")


def _read_packaged(dataset: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    if dataset not in PACKAGED:
        raise _no_packaged_sample(dataset)
    with np.load(DATA_DIR / PACKAGED[dataset]) as d:
        return d[f"x_{split}"], d[f"y_{split}"]


def dataset_of(config: "Config") -> DatasetSpec:
    """The spec of the config's data set; for ``dataset: custom`` read (and checked) from ``data``."""
    if config.dataset != CUSTOM:
        return dataset_spec(config.dataset)
    d = config.data
    fmt = d.format if d.format != "auto" else ("npz" if str(d.root).lower().endswith(".npz") else "folder")
    return read_user_data(DataSource(fmt, str(d.root), d.resolution, d.val_split, d.split_seed)).spec


def train_dataset_of(config: "Config") -> str | DatasetSpec:
    """The training stage's data set: ``train.dataset`` (a name), else the search's (``dataset_of``)."""
    return config.train.dataset or dataset_of(config)


def _read_user(spec: DatasetSpec, split: str) -> tuple[np.ndarray, np.ndarray]:
    assert spec.source is not None
    data = read_user_data(spec.source)
    if spec.fingerprint and data.spec.fingerprint != spec.fingerprint:
        raise DataError(f"the images of {spec.source.root} changed since this run read them (fingerprint "
                        f"{data.spec.fingerprint}, was {spec.fingerprint}); start a new run on the new data")
    return data.split(split)


def load_images(dataset: str | DatasetSpec, *, root: str | Path | None = None, split: str = "train",
                n: int | None = None, seed: int = 0) -> ImageSet:
    """Load ``n`` images (all when None) of ``split``, normalised as NB201 does.

    With ``root`` None the packaged sample is read; otherwise the standard files under
    ``root`` (see the module docstring). A user's data set (its spec) is read from its own
    source (``root`` is ignored) and normalised by its training images' mean and std; its test
    split is the val/ folder (or the held-out share) or ``x_test``. ``seed`` picks which ``n``
    images, reproducibly, and in a nested way: the first k of ``n`` images are the same for every
    ``n >= k``, so a score that reads k images sees the same ones whatever the other scores of a
    run need.
    """
    spec = dataset_spec(dataset)
    dataset = spec.name
    if split not in ("train", "test"):
        raise DataError(f"unknown split {split!r}; choose from ['test', 'train']")
    if spec.source is not None:
        x, y = _read_user(spec, split)
        source = spec.source.root
    elif root is None:
        x, y = _read_packaged(dataset, split)
        source = "packaged sample"
    else:
        expected = _ON_DISK[dataset].expected
        root = Path(root).expanduser()
        if not root.is_dir():
            raise DataError(f"data.root {str(root)!r} is not a directory; it must hold {expected}")
        try:
            x, y = _read_disk(dataset, root, split)
        except DataError as err:
            raise DataError(f"{err}; data.root must hold {expected}") from None
        source = str(root)
    if n is not None:
        if n > len(y):
            raise DataError(f"asked for {n} {split} images of {dataset} but {source} has {len(y)}")
        pick = np.random.default_rng(seed).permutation(len(y))[:n]  # nested: the first k never depend on n
        x, y = x[pick], y[pick]
    mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in (spec.mean, spec.std))
    images = (torch.from_numpy(np.ascontiguousarray(x)).permute(0, 3, 1, 2).float() / 255.0 - mean) / std
    return ImageSet(images.contiguous(), torch.from_numpy(np.asarray(y, dtype=np.int64)),
                    spec if spec.custom else spec.name, source)


def check_available(dataset: str | DatasetSpec, root: str | Path | None) -> None:
    """Fail fast (before any work) when the images a run needs are not there (a user's: unreadable or bad)."""
    spec = dataset_spec(dataset)
    if spec.source is not None:
        _read_user(spec, "train")
        return
    dataset = spec.name
    if root is None:
        if dataset not in PACKAGED:
            raise _no_packaged_sample(dataset)
        return
    expected = _ON_DISK[dataset].expected
    base = Path(root).expanduser()
    if not base.is_dir():
        raise DataError(f"data.root {str(base)!r} is not a directory; it must hold {expected}")
    missing = [f for f in _ON_DISK[dataset].files if not (base / f).is_file()]
    if missing:
        raise DataError(f"data.root {str(base)!r} lacks {missing[0]}"
                        f"{f' (and {len(missing) - 1} more)' if len(missing) > 1 else ''}; "
                        f"it must hold {expected}")
