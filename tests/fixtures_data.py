"""Tiny data sets written in the real on-disk formats, for the readers' tests.

Each writer fills ``root`` the way the official download unpacks, with random uint8
images, and returns what it wrote as ``{split: (images NHWC uint8, labels)}`` so tests can
compare the reader's output with the truth.
"""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

__all__ = ["write_cifar10", "write_cifar100", "write_imagenet16", "write_image_folder", "write_npz", "CLASSES"]

#: the class folders of ``write_image_folder`` (CIFAR-10 labels 0, 1, 2)
CLASSES = ("airplane", "automobile", "bird")

Written = dict[str, tuple[np.ndarray, np.ndarray]]


def _dump(path: Path, obj: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=2)


def _images(rng: np.random.Generator, n: int, size: int) -> np.ndarray:
    return rng.integers(0, 256, size=(n, size, size, 3), dtype=np.uint8)


def _rows(images: np.ndarray) -> np.ndarray:
    """NHWC -> the files' rows: all red values, then green, then blue (N x 3*H*W)."""
    return images.transpose(0, 3, 1, 2).reshape(len(images), -1)


def write_cifar10(root: Path, *, per_batch: int = 4, n_test: int = 6, seed: int = 0) -> Written:
    """``cifar-10-batches-py/data_batch_1..5`` and ``test_batch`` (keys ``data``, ``labels``)."""
    rng = np.random.default_rng(seed)
    base = Path(root) / "cifar-10-batches-py"
    train_x, train_y = [], []
    for i in range(1, 6):
        x, y = _images(rng, per_batch, 32), rng.integers(0, 10, per_batch)
        _dump(base / f"data_batch_{i}", {"batch_label": f"training batch {i} of 5", "data": _rows(x),
                                           "labels": [int(v) for v in y]})
        train_x.append(x)
        train_y.append(y)
    x, y = _images(rng, n_test, 32), rng.integers(0, 10, n_test)
    _dump(base / "test_batch", {"batch_label": "testing batch 1 of 1", "data": _rows(x), "labels": [int(v) for v in y]})
    return {"train": (np.concatenate(train_x), np.concatenate(train_y)), "test": (x, y)}


def write_cifar100(root: Path, *, n_train: int = 10, n_test: int = 6, seed: int = 0) -> Written:
    """``cifar-100-python/train`` and ``test`` (keys ``data``, ``fine_labels``, ``coarse_labels``)."""
    rng = np.random.default_rng(seed)
    written: Written = {}
    for split, n in (("train", n_train), ("test", n_test)):
        x, fine = _images(rng, n, 32), rng.integers(0, 100, n)
        _dump(Path(root) / "cifar-100-python" / split,
              {"data": _rows(x), "fine_labels": [int(v) for v in fine], "coarse_labels": [int(v) // 5 for v in fine]})
        written[split] = (x, fine)
    return written


def write_imagenet16(root: Path, *, per_batch: int = 6, n_val: int = 8, seed: int = 0) -> Written:
    """NB201's ``ImageNet16/train_data_batch_1..10`` and ``val_data`` (``data`` N x 768, labels 1..1000).

    Labels are drawn from 1..240, so about half fall outside the 120 classes kept; the
    returned labels are the files' (1-based, unfiltered).
    """
    rng = np.random.default_rng(seed)
    base = Path(root) / "ImageNet16"
    train_x, train_y = [], []
    for i in range(1, 11):
        x, y = _images(rng, per_batch, 16), rng.integers(1, 241, per_batch)
        _dump(base / f"train_data_batch_{i}", {"data": _rows(x), "labels": [int(v) for v in y], "mean": np.zeros(768)})
        train_x.append(x)
        train_y.append(y)
    x, y = _images(rng, n_val, 16), rng.integers(1, 241, n_val)
    y[:2] = (1, 120)  # the edges of the kept range
    _dump(base / "val_data", {"data": _rows(x), "labels": [int(v) for v in y]})
    return {"train": (np.concatenate(train_x), np.concatenate(train_y)), "test": (x, y)}


def _sample_by_class(n_classes: int, per_class: int, split: str) -> list[list[np.ndarray]]:
    """Per class (CIFAR-10 labels 0..n_classes-1), ``per_class`` packaged sample images of ``split``."""
    from evonas.data import DATA_DIR

    with np.load(DATA_DIR / "cifar10_sample.npz") as d:
        x, y = d[f"x_{split}"], d[f"y_{split}"]
    return [list(x[y == c][:per_class]) for c in range(n_classes)]


def write_image_folder(root: Path, *, classes: tuple[str, ...] = CLASSES, per_class: int = 8, per_class_val: int = 3,
                       val: bool = True) -> Path:
    """``root/train/<class>/*`` and ``root/val/<class>/*`` (or the class folders alone with ``val=False``):
    packaged CIFAR-10 sample images upscaled to mixed sizes (40x40, 48x36, 36x52), every third as JPEG,
    every fourth grey, one RGBA. Returns ``root``."""
    from PIL import Image

    root = Path(root)
    splits = {"train": per_class, "val": per_class_val} if val else {"": per_class + per_class_val}
    sizes = ((40, 40), (48, 36), (36, 52))
    for split, n in splits.items():
        source = _sample_by_class(len(classes), n, "train" if split != "val" else "test")
        for c, name in enumerate(classes):
            folder = root / split / name if split else root / name
            folder.mkdir(parents=True, exist_ok=True)
            for i, image in enumerate(source[c]):
                im = Image.fromarray(image).resize(sizes[i % 3], Image.Resampling.BILINEAR)
                if i % 4 == 1:
                    im = im.convert("L")
                elif i == 2:
                    im = im.convert("RGBA")
                if i % 3 == 2 and im.mode != "RGBA":
                    im.save(folder / f"{i:03d}.jpg", quality=90)
                else:
                    im.save(folder / f"{i:03d}.png")
    return root


def write_npz(path: Path, *, n_classes: int = 3, per_class: int = 8, per_class_test: int = 3,
              size: int = 32, names: bool = True, **replace: np.ndarray) -> Path:
    """An ``.npz`` with x_train, y_train, x_test, y_test (uint8 NHWC, int labels 0..n_classes-1) of packaged
    CIFAR-10 sample images (and ``classes``); ``replace`` swaps any array (the bad-data tests)."""
    arrays = {}
    for split, n in (("train", per_class), ("test", per_class_test)):
        per = _sample_by_class(n_classes, n, split)
        x = np.stack([im for images in per for im in images])
        if size != 32:
            from PIL import Image

            x = np.stack([np.asarray(Image.fromarray(im).resize((size, size))) for im in x])
        arrays[f"x_{split}"] = x
        arrays[f"y_{split}"] = np.array([c for c, images in enumerate(per) for _ in images], np.int64)
    if names:
        arrays["classes"] = np.array(CLASSES[:n_classes] if n_classes <= 3 else [f"c{i}" for i in range(n_classes)])
    arrays.update(replace)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
    return path
