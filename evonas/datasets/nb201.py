"""NB201's data sets: their python pickles under ``data.root`` (``nb201``), or the packaged samples (``packaged``).

Layouts under ``data.root``:
- CIFAR-10: ``cifar-10-batches-py/{data_batch_1..5,test_batch}`` (the python pickle batches)
- CIFAR-100: ``cifar-100-python/{train,test}`` (fine labels)
- ImageNet16-120: ``ImageNet16/{train_data_batch_1..10,val_data}`` (NB201's down-sampled
  ImageNet pickles, labels 1..1000; classes 1..120 kept and shifted to 0..119)

Without ``data.root`` the samples packaged in ``evonas/data/`` are read (``PACKAGED``).
"""
from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from evonas.data import DATA_DIR
from evonas.datasets.reader import Reader
from evonas.datasets.spec import DatasetSpec
from evonas.errors import DataError

__all__ = ["NB201", "PackagedSamples", "PACKAGED"]

#: packaged samples, by data set
PACKAGED = {"cifar10": "cifar10_sample.npz", "cifar100": "cifar100_sample.npz"}


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


class NB201(Reader):
    """NB201's python pickles under ``data.root`` (``_ON_DISK``)."""

    name = "nb201"

    def layout(self, spec: DatasetSpec) -> str:
        return _ON_DISK[spec.name].expected

    def _root(self, spec: DatasetSpec, root: str | Path | None) -> Path:
        base = Path(root).expanduser()
        if not base.is_dir():
            raise DataError(f"data.root {str(base)!r} is not a directory; it must hold {self.layout(spec)}")
        return base

    def check(self, spec: DatasetSpec, root: str | Path | None) -> None:
        base = self._root(spec, root)
        missing = [f for f in _ON_DISK[spec.name].files if not (base / f).is_file()]
        if missing:
            raise DataError(f"data.root {str(base)!r} lacks {missing[0]}"
                            f"{f' (and {len(missing) - 1} more)' if len(missing) > 1 else ''}; "
                            f"it must hold {self.layout(spec)}")

    def read(self, spec: DatasetSpec, root: str | Path | None, split: str) -> tuple[np.ndarray, np.ndarray]:
        base, disk = self._root(spec, root), _ON_DISK[spec.name]
        try:
            x, y = _read_parts([base / n for n in (disk.train if split == "train" else disk.test)], disk.label_key,
                               spec.resolution)
        except DataError as err:
            raise DataError(f"{err}; data.root must hold {self.layout(spec)}") from None
        return disk.select(x, y) if disk.select is not None else (x, y)


class PackagedSamples(Reader):
    """The small samples packaged in ``evonas/data/`` (``PACKAGED``): read when ``data.root`` is unset."""

    name = "packaged"

    def layout(self, spec: DatasetSpec) -> str:
        return f"evonas/data/{PACKAGED[spec.name]}" if spec.name in PACKAGED else "no packaged sample"

    def where(self, spec: DatasetSpec, root: str | Path | None) -> str:
        return "packaged sample"

    def check(self, spec: DatasetSpec, root: str | Path | None) -> None:
        if spec.name not in PACKAGED:
            raise DataError(f"no packaged sample of {spec.name}; set data.root to a directory holding "
                            f"{_ON_DISK[spec.name].expected}")

    def read(self, spec: DatasetSpec, root: str | Path | None, split: str) -> tuple[np.ndarray, np.ndarray]:
        self.check(spec, root)
        with np.load(DATA_DIR / PACKAGED[spec.name]) as d:
            return d[f"x_{split}"], d[f"y_{split}"]
