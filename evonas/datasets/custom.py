"""A user's own images (``dataset: custom``): read through their format, checked and described.

``data.root`` is read by its user format (``evonas.datasets.formats``: an image folder, an ``.npz``,
...): both splits at ``data.resolution`` and the class names. Each split is put in one order that no
file name or array order sets (by label, then by a hash of each image's pixels), so the fingerprint,
the sampled batches and the scores depend on the images' content by class alone: renaming a file
keeps a run, changed pixels or an image moved to another class (or split) do not. The spec made from
them holds the classes with their image counts, the resolution, the training images' per-channel
mean and std, where they come from and a fingerprint of the decoded images and labels (the score
cache and the run directory key on it); ``DatasetSpec.summary`` says it in one line.

Everything is held in memory at the target resolution (``bytes_needed``); before decoding, the size
is checked against the memory available. Bad data is a one-line ``DataError`` naming the file or
folder. ``read_user_data`` keeps the last data set read in this process (until a file under its root
changes: size or modification time), so a driver that checks the data and then scores with it decodes
the images once.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from evonas.datasets.formats import user_format
from evonas.datasets.reader import Arrays
from evonas.datasets.spec import CUSTOM, DatasetSpec, DataSource
from evonas.errors import DataError

__all__ = ["UserData", "read_user_data", "read_user_split"]


@dataclass(frozen=True)
class UserData:
    """A user's data set decoded at its resolution: uint8 NHWC images, int64 labels, and its spec."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    spec: DatasetSpec

    def split(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        return (self.x_train, self.y_train) if split == "train" else (self.x_test, self.y_test)


_LAST: dict[tuple[DataSource, tuple], UserData] = {}


def _signature(source: DataSource) -> tuple:
    """Every file under the source's root with its size and modification time (a change means a new read)."""
    root = Path(source.root).expanduser()
    try:
        files = sorted(root.rglob("*")) if root.is_dir() else [root]
        return tuple((str(p), st.st_size, st.st_mtime_ns) for p in files for st in [p.stat()])
    except OSError:
        return ()


def read_user_data(source: DataSource) -> UserData:
    """The data ``source`` names, read by its format, checked and described (the last one read is kept)."""
    key = (source, _signature(source))
    if key in _LAST:
        return _LAST[key]
    arrays = _canonical(_checked(user_format(source.format).read(source), source))
    data = UserData(arrays.x_train, arrays.y_train, arrays.x_test, arrays.y_test, _describe(source, arrays))
    _LAST.clear()
    _LAST[key] = data
    return data


def _checked(arrays: Arrays, source: DataSource) -> Arrays:
    """A format's output as the rest expects it: uint8 (n, size, size, 3) images, one int64 label each."""
    size = arrays.x_train.shape[1:2]
    for x, y in ((arrays.x_train, arrays.y_train), (arrays.x_test, arrays.y_test)):
        if x.dtype != np.uint8 or x.ndim != 4 or x.shape[1:] != (*size, *size, 3) or y.shape != (len(x),):
            raise DataError(f"the {source.format} reader of {source.root} gave images {x.shape} {x.dtype} and "
                            f"labels {y.shape}; expected (n, size, size, 3) uint8 and n labels, one size for both")
        if len(y) and (int(y.min()) < 0 or int(y.max()) >= len(arrays.classes)):
            raise DataError(f"the {source.format} reader of {source.root} gave labels {int(y.min())}..{int(y.max())} "
                            f"for {len(arrays.classes)} classes; expected 0..{len(arrays.classes) - 1}")
    return arrays._replace(y_train=arrays.y_train.astype(np.int64, copy=False),
                           y_test=arrays.y_test.astype(np.int64, copy=False))


def _canonical(arrays: Arrays) -> Arrays:
    """Each split sorted by label, then by a hash of each image's pixels: the same images by class read as the
    same arrays whatever their file names or order (equal images are interchangeable)."""
    out: list[np.ndarray] = []
    for x, y in ((arrays.x_train, arrays.y_train), (arrays.x_test, arrays.y_test)):
        digests = b"".join(hashlib.blake2b(image.tobytes(), digest_size=16).digest() for image in x)
        keys = np.frombuffer(digests, dtype=">u8").reshape(len(x), 2)
        order = np.lexsort((keys[:, 1], keys[:, 0], y))
        in_order = bool((order == np.arange(len(order))).all())
        out += [x, y] if in_order else [x[order], y[order]]
    return Arrays(*out, arrays.classes)


def read_user_split(spec: DatasetSpec, split: str) -> tuple[np.ndarray, np.ndarray]:
    """``split`` of the user's data set ``spec``; ``DataError`` when its images changed since the spec was made."""
    assert spec.source is not None
    data = read_user_data(spec.source)
    if spec.fingerprint and data.spec.fingerprint != spec.fingerprint:
        raise DataError(f"the images of {spec.source.root} changed since this run read them (fingerprint "
                        f"{data.spec.fingerprint}, was {spec.fingerprint}); start a new run on the new data")
    return data.split(split)


def _mean_std(x: np.ndarray) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std (0..1 scale) of NHWC uint8 images, summed in chunks in float64."""
    total, squares, count = np.zeros(3), np.zeros(3), 0
    for start in range(0, len(x), 1024):
        chunk = x[start:start + 1024].reshape(-1, 3).astype(np.float64) / 255.0
        total += chunk.sum(0)
        squares += (chunk * chunk).sum(0)
        count += len(chunk)
    mean = total / count
    std = np.sqrt(np.maximum(squares / count - mean * mean, 0.0))
    std = np.where(std > 1e-6, std, 1.0)  # a constant channel is only shifted
    return tuple(float(v) for v in mean), tuple(float(v) for v in std)


def _fingerprint(arrays: tuple[np.ndarray, ...], classes: tuple[str, ...]) -> str:
    """A hash of the decoded images, labels and class names (in ``_canonical``'s order): equal only for the same
    images in the same classes and splits at the same size."""
    h = hashlib.sha256()
    for a in arrays:
        h.update(str(a.shape).encode())
        h.update(np.ascontiguousarray(a).tobytes())
    h.update("\0".join(classes).encode())
    return h.hexdigest()[:20]


def _describe(source: DataSource, arrays: Arrays) -> DatasetSpec:
    x_train, y_train, x_test, y_test, classes = arrays
    mean, std = _mean_std(x_train)
    counts = zip(np.bincount(y_train, minlength=len(classes)), np.bincount(y_test, minlength=len(classes)))
    return DatasetSpec(CUSTOM, int(x_train.shape[1]), len(classes), None, None, mean, std, classes=classes,
                       source=source, fingerprint=_fingerprint((x_train, y_train, x_test, y_test), classes),
                       n_train=len(y_train), n_test=len(y_test), counts=tuple((int(a), int(b)) for a, b in counts))
