"""A user's array file (``data.format: npz``): ``x_train``, ``y_train``, ``x_test``, ``y_test``.

uint8 NHWC images (3 or 1 channels) and integer labels 0..K-1, optionally ``classes`` (K names, label i
is ``classes[i]``); K is the number of names, else the largest training label + 1. Every class has
training images, so labels that skip a value (or start at 1) are refused, with or without names:
the network would get an output no image trains, and, without names, every class name would be
off by one. Images not at ``data.resolution``
are resized (shorter side) and centre-cropped; without ``data.resolution`` the arrays' own square
size is taken. ``checked_arrays`` checks and fits such arrays for any format that holds them.
"""
from __future__ import annotations

import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

import numpy as np

from evonas.datasets.reader import Arrays, UserFormat, check_memory, fit_image
from evonas.datasets.spec import DataSource, check_resolution
from evonas.errors import ConfigError, DataError

if TYPE_CHECKING:
    from evonas.config.schema import DataConfig

__all__ = ["ArrayFile", "checked_arrays", "NPZ_KEYS"]

NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")
_WANT = "x_train, y_train, x_test, y_test (uint8 NHWC images, integer labels)"


def checked_arrays(arrays: Mapping[str, np.ndarray], names: Any, resolution: int | None, path: Path | str) -> Arrays:
    """``arrays`` (the ``NPZ_KEYS``) checked, with their class names (``names`` or counted from y_train),
    fitted to ``resolution`` (None: their own square size); ``DataError`` naming ``path`` and the array."""
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
    _check_every_class(np.unique(y_train), classes, names is not None, path)
    size = resolution
    if size is None:
        shapes = {arrays[k].shape[1:3] for k in ("x_train", "x_test")}
        if len(shapes) != 1 or next(iter(shapes))[0] != next(iter(shapes))[1]:
            raise DataError(f"{path} holds images of {sorted(shapes)} (height, width); set data.resolution to "
                            f"resize them to one square size")
        size = int(next(iter(shapes))[0])
        check_resolution(size, f"the images of {path} (set data.resolution to resize them)")
    check_memory(len(y_train) + len(y_test), size, str(path))
    x_train, x_test = (_fit_array(arrays[k], size) for k in ("x_train", "x_test"))
    return Arrays(x_train, y_train, x_test, y_test, classes)


def _label_runs(labels: np.ndarray, most: int = 8) -> str:
    """Sorted distinct ``labels`` as runs, e.g. "1..10" or "0, 1, 3..9" (the first ``most`` runs)."""
    runs: list[list[int]] = []
    for v in (int(v) for v in labels):
        if runs and v == runs[-1][1] + 1:
            runs[-1][1] = v
        else:
            runs.append([v, v])
    text = [str(a) if a == b else f"{a}, {b}" if b == a + 1 else f"{a}..{b}" for a, b in runs]
    return ", ".join(text[:most]) + (f", ... ({len(labels)} distinct)" if len(text) > most else "")


def _check_every_class(used: np.ndarray, classes: tuple[str, ...], named: bool, path: Path | str) -> None:
    """``DataError`` unless every class (label 0..K-1) has training images (``used``: y_train's distinct labels)."""
    if len(used) == len(classes):
        return
    if not named:
        raise DataError(f"y_train of {path} holds the labels {_label_runs(used)}; expected 0..{len(used) - 1} (the "
                        f"{len(used)} classes labelled 0..K-1, none skipped, when there is no classes array): "
                        f"relabel them in order")
    empty = sorted(set(range(len(classes))) - {int(v) for v in used})
    raise DataError(f"y_train of {path} holds the labels {_label_runs(used)}, but classes names {len(classes)} "
                    f"(labels 0..{len(classes) - 1}): "
                    + ", ".join(f"{i} ({classes[i]!r})" for i in empty[:8]) + (", ..." if len(empty) > 8 else "")
                    + f" {'has' if len(empty) == 1 else 'have'} no training image; every class needs one: drop "
                    f"{'it' if len(empty) == 1 else 'them'} from classes and relabel in order")


def _fit_array(x: np.ndarray, size: int) -> np.ndarray:
    """NHWC uint8 images as 3-channel ``size`` x ``size`` (grey repeated; other sizes resized and cropped)."""
    if x.shape[1:3] == (size, size):
        return np.ascontiguousarray(np.repeat(x, 3, axis=-1) if x.shape[-1] == 1 else x)
    from PIL import Image

    out = np.empty((len(x), size, size, 3), np.uint8)
    for i, image in enumerate(x):
        out[i] = fit_image(Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).convert("RGB"), size)
    return out


class ArrayFile(UserFormat):
    """One ``.npz`` holding both splits as arrays."""

    name = "npz"
    noun = "an .npz file"
    layout = _WANT
    suffixes = (".npz",)

    def check_config(self, data: "DataConfig") -> None:
        if data.val_split is not None:
            raise ConfigError("data.val_split: an .npz has its own test split (x_test, y_test); drop val_split")

    def check(self, source: DataSource) -> None:
        path = Path(source.root).expanduser()
        if not path.is_file():
            raise DataError(f"data.root {str(path)!r} is not a file; an .npz array file holds {_WANT}")

    def read(self, source: DataSource) -> Arrays:
        self.check(source)
        path = Path(source.root).expanduser()
        if not zipfile.is_zipfile(path):  # else numpy reads it as a pickle and advises allow_pickle
            raise DataError(f"{path} is not an .npz archive (the zip of .npy arrays numpy.savez writes); it must "
                            f"hold {_WANT}")
        try:
            with np.load(path, allow_pickle=False) as d:
                missing = [k for k in NPZ_KEYS if k not in d.files]
                if not missing:
                    arrays = {k: _array(d, k, path) for k in NPZ_KEYS}
                    names = _array(d, "classes", path) if "classes" in d.files else None
        except DataError:
            raise
        except (OSError, ValueError, zipfile.BadZipFile, EOFError) as err:
            raise DataError(f"{path} is not a readable .npz archive ({err}); it must hold {_WANT}") from None
        if missing:
            raise DataError(f"missing split: {path} lacks {', '.join(missing)}; it must hold {_WANT}")
        return checked_arrays(arrays, names, source.resolution, path)


def _array(npz: Any, key: str, path: Path) -> np.ndarray:
    """Array ``key`` of an open .npz; an array of Python objects (pickled) is a ``DataError`` naming it."""
    try:
        return npz[key]
    except ValueError as err:
        if "allow_pickle" not in str(err):  # numpy's refusal of an object array
            raise
        raise DataError(f"{key} of {path} is an array of Python objects (dtype object), which evonas does not "
                        f"unpickle; save it as a plain {'string' if key == 'classes' else 'numeric'} array") from None
