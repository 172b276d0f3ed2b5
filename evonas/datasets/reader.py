"""What a data format is: a reader of NB201's data sets, or a reader of a user's own data set.

Every reader turns files into uint8 NHWC images (3 channels) and int64 labels, checks that its
files are there before any expensive work, and names its on-disk layout in words for error
messages. ``evonas.datasets.formats`` registers them by name.

- ``Reader``: a named data set (``DatasetSpec`` of ``DATASETS``) read one split at a time from
  a root folder (or from the files packaged with evonas).
- ``UserFormat``: a user's data set (``dataset: custom``) read whole from its ``DataSource``: both
  splits and the class names, checked; ``evonas.datasets.custom`` describes it (mean, std,
  fingerprint) and keeps it. Its ``data:`` keys are checked with the config (``check_config``).

The helpers below serve the user formats: the memory check before decoding, and the resize.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from evonas.errors import DataError
from evonas.datasets.spec import DatasetSpec, DataSource

if TYPE_CHECKING:
    from evonas.config.schema import DataConfig

__all__ = ["Reader", "UserFormat", "Arrays", "bytes_needed", "BYTES_PER_PIXEL", "check_memory", "fit_image"]

#: per pixel in a process that trains on the images: 3 uint8 channels decoded, 3 float32 normalised
BYTES_PER_PIXEL = 3 * (1 + 4)
#: the share of the available memory one data set may take
_MEMORY_SHARE = 0.8


class Reader:
    """One layout of NB201's data sets: where a data set's files lie, and how a split reads."""

    name: str = ""

    def layout(self, spec: DatasetSpec) -> str:
        """The files ``spec`` needs, in words (for error messages)."""
        raise NotImplementedError

    def where(self, spec: DatasetSpec, root: str | Path | None) -> str:
        """Where the images come from, as ``ImageSet.source`` names it."""
        return str(Path(root).expanduser())

    def check(self, spec: DatasetSpec, root: str | Path | None) -> None:
        """``DataError`` when the files are not there (cheap: nothing is decoded)."""
        raise NotImplementedError

    def read(self, spec: DatasetSpec, root: str | Path | None, split: str) -> tuple[np.ndarray, np.ndarray]:
        """Images (n, size, size, 3) uint8 and labels (n,) of ``split`` ("train" or "test")."""
        raise NotImplementedError


class Arrays(NamedTuple):
    """A user's data set as read: uint8 NHWC images (3 channels, one square size), int64 labels, class names."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: tuple[str, ...]


class UserFormat:
    """One format of a user's own data (a ``data.format`` value): read whole from ``data.root``."""

    name: str = ""
    #: what ``data.root`` is, for "dataset custom needs the path of ..." ("an .npz file")
    noun: str = ""
    #: the layout in words, for error messages
    layout: str = ""
    #: ``data.format: auto`` picks this format when ``data.root`` ends with one of these (lower case)
    suffixes: tuple[str, ...] = ()

    def check_config(self, data: "DataConfig") -> None:
        """``ConfigError`` naming the ``data.`` key this format cannot take (before anything is read)."""

    def check(self, source: DataSource) -> None:
        """``DataError`` when ``source.root`` is not there or not of this format (cheap)."""

    def read(self, source: DataSource) -> Arrays:
        """Both splits and the class names, checked (``DataError`` naming the file), at ``source.resolution``."""
        raise NotImplementedError


def bytes_needed(n_images: int, resolution: int) -> int:
    """Memory (bytes) that ``n_images`` take at ``resolution`` decoded and normalised (``BYTES_PER_PIXEL``)."""
    return n_images * resolution * resolution * BYTES_PER_PIXEL


def _available_memory() -> int | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_memory(n_images: int, resolution: int, where: str) -> None:
    """``DataError`` when ``n_images`` at ``resolution`` would not fit the memory available (call before decoding)."""
    need, free = bytes_needed(n_images, resolution), _available_memory()
    if free is not None and need > _MEMORY_SHARE * free:
        raise DataError(f"{where}: {n_images} images at {resolution}x{resolution} need about {need / 2**30:.1f} GiB "
                        f"in memory but {free / 2**30:.1f} GiB are available; lower data.resolution or use fewer "
                        f"images")


def fit_image(image: Any, size: int) -> np.ndarray:
    """An RGB Pillow image resized (shorter side to ``size``) and centre-cropped to ``size`` x ``size``."""
    from PIL import Image

    w, h = image.size
    if (w, h) != (size, size):
        scale = size / min(w, h)
        nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
        image = image.resize((nw, nh), Image.Resampling.BILINEAR)
        left, top = (nw - size) // 2, (nh - size) // 2
        image = image.crop((left, top, left + size, top + size))
    return np.asarray(image, dtype=np.uint8)
