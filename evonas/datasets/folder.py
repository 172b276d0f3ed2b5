"""A user's image folder (``data.format: folder``), torchvision ``ImageFolder``'s layout.

``train/<class>/*.{png,jpg,jpeg}`` and ``val/<class>/...`` (``test/`` is taken for ``val/``); or the
class folders directly under ``data.root`` with ``data.val_split`` (that share of each class, drawn
with ``data.split_seed``, is the test split). Images of any size and mode (grey, RGBA, palette) are
decoded with Pillow, converted to RGB, their shorter side resized to ``data.resolution`` and
centre-cropped to a square. Class names are the folder names, labels their sorted order.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from evonas.datasets.reader import Arrays, UserFormat, check_memory, fit_image
from evonas.datasets.spec import DataSource
from evonas.errors import ConfigError, DataError

if TYPE_CHECKING:
    from evonas.config.schema import DataConfig

__all__ = ["ImageFolder", "IMAGE_EXTENSIONS"]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")

Classes = dict[str, list[Path]]


def _images_of(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS
                  and not p.name.startswith(".") and p.is_file())


def _class_folders(split: Path) -> Classes:
    """Class name -> its image files, for one split folder; every class must have images."""
    folders = sorted(d for d in split.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not folders:
        raise DataError(f"{split} has no class folders; it must hold <class>/*.png|jpg|jpeg")
    out = {}
    for d in folders:
        files = _images_of(d)
        if not files:
            raise DataError(f"class folder {d} has no images (*.png, *.jpg, *.jpeg)")
        out[d.name] = files
    return out


def _seeded_split(classes: Classes, share: float, seed: int, where: Path) -> tuple[Classes, Classes]:
    """Each class's files split: ``share`` of them (at least one) to the test split, drawn with ``seed``."""
    rng = np.random.default_rng(seed)
    train, test = {}, {}
    for name, files in classes.items():
        if len(files) < 2:
            raise DataError(f"class folder {where / name} has 1 image; data.val_split needs at least 2 per class")
        order = rng.permutation(len(files))
        k = min(len(files) - 1, max(1, round(share * len(files))))
        test[name] = [files[i] for i in sorted(order[:k])]
        train[name] = [files[i] for i in sorted(order[k:])]
    return train, test


def _folder_splits(source: DataSource) -> tuple[Classes, Classes]:
    root = Path(source.root).expanduser()
    train_dir = root / "train"
    val_dir = next((root / n for n in ("val", "test") if (root / n).is_dir()), None)
    if train_dir.is_dir():
        if val_dir is not None:
            if source.val_split is not None:
                raise DataError(f"data.val_split: {root} has its own {val_dir.name}/ split; drop data.val_split")
            return _class_folders(train_dir), _class_folders(val_dir)
        if source.val_split is None:
            raise DataError(f"missing split: {root} has train/ but no val/; add val/<class>/ or set data.val_split "
                            f"(e.g. 0.2) to hold out part of train/")
        return _seeded_split(_class_folders(train_dir), source.val_split, source.split_seed, train_dir)
    if source.val_split is None:
        raise DataError(f"missing split: {root} has no train/ folder; it must hold train/<class>/ and val/<class>/, "
                        f"or class folders with data.val_split")
    if val_dir is not None:
        raise DataError(f"missing split: {root} has {val_dir.name}/ but no train/; add train/<class>/")
    return _seeded_split(_class_folders(root), source.val_split, source.split_seed, root)


def _decode(path: Path, size: int) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(path) as image:
            image.load()  # decodes every byte: a truncated file fails here, not later
            rgb = image.convert("RGB")
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:
        raise DataError(f"image {path} cannot be read: {err}") from None
    return fit_image(rgb, size)


def _decode_all(files: list[Path], size: int) -> np.ndarray:
    out = np.empty((len(files), size, size, 3), np.uint8)
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:  # Pillow decodes without the GIL
        for i, image in enumerate(pool.map(lambda p: _decode(p, size), files)):
            out[i] = image
    return out


class ImageFolder(UserFormat):
    """Image files in class folders, split into train/ and val/ (or by ``data.val_split``)."""

    name = "folder"
    noun = "an image folder (train/<class>/, val/<class>/)"
    layout = "train/<class>/ and val/<class>/ (or class folders with data.val_split)"

    def check_config(self, data: "DataConfig") -> None:
        if data.resolution is None:
            raise ConfigError("data.resolution: an image folder needs the network's input size, e.g. 32 (images "
                              "are resized and centre-cropped to it)")

    def check(self, source: DataSource) -> None:
        root = Path(source.root).expanduser()
        if not root.is_dir():
            raise DataError(f"data.root {str(root)!r} is not a directory; an image folder holds {self.layout}")

    def read(self, source: DataSource) -> Arrays:
        self.check(source)
        train, test = _folder_splits(source)
        root = Path(source.root).expanduser()
        if set(train) != set(test):
            only_train, only_test = sorted(set(train) - set(test)), sorted(set(test) - set(train))
            raise DataError(f"{root}: the train and val splits have different classes (only in train: {only_train}; "
                            f"only in val: {only_test}); give both splits the same class folders")
        classes = tuple(sorted(train))
        if len(classes) < 2:
            raise DataError(f"{root} holds one class ({classes[0]}); a classifier needs at least 2 class folders")
        size = source.resolution
        assert size is not None  # the config requires data.resolution for a folder
        check_memory(sum(map(len, train.values())) + sum(map(len, test.values())), size, str(root))
        arrays = []
        for split in (train, test):
            files = [f for c in classes for f in split[c]]
            labels = np.array([i for i, c in enumerate(classes) for _ in split[c]], np.int64)
            arrays += [_decode_all(files, size), labels]
        return Arrays(*arrays, classes)
