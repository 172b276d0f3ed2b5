"""A user's own images (``dataset: custom``): an image folder or an ``.npz`` file, read and checked.

Layouts of ``data.root``:

- an image folder, torchvision ``ImageFolder``'s layout: ``train/<class>/*.{png,jpg,jpeg}`` and
  ``val/<class>/...`` (``test/`` is taken for ``val/``); or the class folders directly under
  ``data.root`` with ``data.val_split`` (that share of each class, drawn with ``data.split_seed``,
  is the test split). Images of any size and mode (grey, RGBA, palette) are decoded with Pillow,
  converted to RGB, their shorter side resized to ``data.resolution`` and centre-cropped to a square.
  Class names are the folder names, labels their sorted order.
- an array file: ``.npz`` with ``x_train``, ``y_train``, ``x_test``, ``y_test`` (uint8 NHWC images,
  3 or 1 channels; integer labels 0..K-1) and optionally ``classes`` (K names); K is the number of
  names, else the largest training label + 1. Images not at ``data.resolution`` are resized as above.

Everything is held in memory at the target resolution (``bytes_needed``); before decoding, the size
is checked against the memory available. Bad data is a one-line ``DataError`` naming the file or
folder. ``read_user_data`` keeps the last data set read in this process (until a file under its root
changes: size or modification time), so a driver that checks the data and then scores with it decodes
the images once.
"""
from __future__ import annotations

import hashlib
import os
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from evonas.errors import DataError
from evonas.space.datasets import CUSTOM, DatasetSpec, DataSource, check_resolution

__all__ = ["UserData", "read_user_data", "user_spec", "bytes_needed", "IMAGE_EXTENSIONS", "BYTES_PER_PIXEL"]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")
#: per pixel in a process that trains on the images: 3 uint8 channels decoded, 3 float32 normalised
BYTES_PER_PIXEL = 3 * (1 + 4)
#: the share of the available memory one data set may take
_MEMORY_SHARE = 0.8
_NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")


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
    """The data ``source`` names, decoded, checked and described (the last one read is kept)."""
    key = (source, _signature(source))
    if key in _LAST:
        return _LAST[key]
    x_train, y_train, x_test, y_test, classes = (_read_npz(source) if source.format == "npz"
                                                 else _read_folder(source))
    data = UserData(x_train, y_train, x_test, y_test, _describe(source, x_train, y_train, x_test, y_test, classes))
    _LAST.clear()
    _LAST[key] = data
    return data


def user_spec(source: DataSource) -> DatasetSpec:
    """The spec of a user's data set: classes, resolution, training mean and std, fingerprint."""
    return read_user_data(source).spec


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


def _check_memory(n_images: int, resolution: int, where: str) -> None:
    need, free = bytes_needed(n_images, resolution), _available_memory()
    if free is not None and need > _MEMORY_SHARE * free:
        raise DataError(f"{where}: {n_images} images at {resolution}x{resolution} need about {need / 2**30:.1f} GiB "
                        f"in memory but {free / 2**30:.1f} GiB are available; lower data.resolution or use fewer "
                        f"images")


# -- image folders ------------------------------------------------------------------------
def _images_of(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS
                  and not p.name.startswith(".") and p.is_file())


def _class_folders(split: Path) -> dict[str, list[Path]]:
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


def _seeded_split(classes: dict[str, list[Path]], share: float, seed: int, where: Path
                  ) -> tuple[dict[str, list[Path]], dict[str, list[Path]]]:
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


def _folder_splits(source: DataSource) -> tuple[dict[str, list[Path]], dict[str, list[Path]]]:
    root = Path(source.root).expanduser()
    if not root.is_dir():
        raise DataError(f"data.root {str(root)!r} is not a directory; an image folder holds train/<class>/ and "
                        f"val/<class>/ (or class folders with data.val_split)")
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


def _fit(image, size: int) -> np.ndarray:
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


def _decode(path: Path, size: int) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(path) as image:
            image.load()  # decodes every byte: a truncated file fails here, not later
            rgb = image.convert("RGB")
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:
        raise DataError(f"image {path} cannot be read: {err}") from None
    return _fit(rgb, size)


def _decode_all(files: list[Path], size: int) -> np.ndarray:
    out = np.empty((len(files), size, size, 3), np.uint8)
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:  # Pillow decodes without the GIL
        for i, image in enumerate(pool.map(lambda p: _decode(p, size), files)):
            out[i] = image
    return out


def _read_folder(source: DataSource):
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
    n = sum(map(len, train.values())) + sum(map(len, test.values()))
    _check_memory(n, size, str(root))
    arrays = []
    for split in (train, test):
        files = [f for c in classes for f in split[c]]
        labels = np.array([i for i, c in enumerate(classes) for _ in split[c]], np.int64)
        arrays += [_decode_all(files, size), labels]
    return (*arrays, classes)


# -- array files --------------------------------------------------------------------------
def _read_npz(source: DataSource):
    path = Path(source.root).expanduser()
    want = "x_train, y_train, x_test, y_test (uint8 NHWC images, integer labels)"
    if not path.is_file():
        raise DataError(f"data.root {str(path)!r} is not a file; an .npz array file holds {want}")
    try:
        with np.load(path, allow_pickle=False) as d:
            missing = [k for k in _NPZ_KEYS if k not in d.files]
            if missing:
                raise DataError(f"missing split: {path} lacks {', '.join(missing)}; it must hold {want}")
            arrays = {k: d[k] for k in _NPZ_KEYS}
            names = d["classes"] if "classes" in d.files else None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as err:
        raise DataError(f"{path} is not a readable .npz array file ({err}); it must hold {want}") from None
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.dtype != np.uint8:
            raise DataError(f"x_{split} of {path} is {x.dtype}; expected uint8 images (0..255)")
        if x.ndim != 4 or x.shape[-1] not in (1, 3):
            raise DataError(f"x_{split} of {path} has shape {x.shape}; expected (n, height, width, 3) (NHWC; "
                            f"1 channel for grey)")
        if y.ndim != 1 or not (np.issubdtype(y.dtype, np.integer) or y.dtype == bool) or len(y) != len(x):
            raise DataError(f"y_{split} of {path} has shape {y.shape} and dtype {y.dtype}; expected {len(x)} "
                            f"integer labels, one per image of x_{split}")
        if len(x) == 0:
            raise DataError(f"x_{split} of {path} holds no images")
    y_train, y_test = (arrays[k].astype(np.int64) for k in ("y_train", "y_test"))
    if names is not None:
        classes = tuple(str(c) for c in np.asarray(names).reshape(-1))
    else:
        classes = tuple(str(i) for i in range(max(int(y_train.max()) + 1, 0)))
    for split, y in (("train", y_train), ("test", y_test)):
        if int(y.min()) < 0 or int(y.max()) >= len(classes):
            raise DataError(f"y_{split} of {path} holds labels {int(y.min())}..{int(y.max())}, out of range for "
                            f"{len(classes)} classes (0..{len(classes) - 1}"
                            + (", the names in classes)" if names is not None else ", from y_train)"))
    if len(np.unique(y_train)) < 2:
        raise DataError(f"y_train of {path} holds one class only; a classifier needs at least 2")
    size = source.resolution
    if size is None:
        shapes = {arrays[k].shape[1:3] for k in ("x_train", "x_test")}
        if len(shapes) != 1 or next(iter(shapes))[0] != next(iter(shapes))[1]:
            raise DataError(f"{path} holds images of {sorted(shapes)} (height, width); set data.resolution to "
                            f"resize them to one square size")
        size = int(next(iter(shapes))[0])
        check_resolution(size, f"the images of {path} (set data.resolution to resize them)")
    _check_memory(len(y_train) + len(y_test), size, str(path))
    x_train, x_test = (_fit_array(arrays[k], size) for k in ("x_train", "x_test"))
    return x_train, y_train, x_test, y_test, classes


def _fit_array(x: np.ndarray, size: int) -> np.ndarray:
    """NHWC uint8 images as 3-channel ``size`` x ``size`` (grey repeated; other sizes resized and cropped)."""
    if x.shape[1:3] == (size, size):
        return np.ascontiguousarray(np.repeat(x, 3, axis=-1) if x.shape[-1] == 1 else x)
    from PIL import Image

    out = np.empty((len(x), size, size, 3), np.uint8)
    for i, image in enumerate(x):
        out[i] = _fit(Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).convert("RGB"), size)
    return out


# -- the spec -----------------------------------------------------------------------------
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
    """A hash of the decoded images, labels and class names: equal only for the same data at the same size."""
    h = hashlib.sha256()
    for a in arrays:
        h.update(str(a.shape).encode())
        h.update(np.ascontiguousarray(a).tobytes())
    h.update("\0".join(classes).encode())
    return h.hexdigest()[:20]


def _describe(source: DataSource, x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray,
              y_test: np.ndarray, classes: tuple[str, ...]) -> DatasetSpec:
    mean, std = _mean_std(x_train)
    return DatasetSpec(CUSTOM, int(x_train.shape[1]), len(classes), None, None, mean, std, classes=classes,
                       source=source, fingerprint=_fingerprint((x_train, y_train, x_test, y_test), classes),
                       n_train=len(y_train), n_test=len(y_test))
