"""The data formats by name, and the one rule that picks a format.

``FORMATS`` holds every reader: ``nb201`` (NB201's pickles under ``data.root``), ``packaged`` (the
samples shipped in ``evonas/data/``), and the user formats of ``dataset: custom``: ``folder`` (an
image folder) and ``npz`` (an array file). A new format is one reader (a ``UserFormat`` subclass,
``evonas.datasets.reader``) and one line below (or ``register(reader)`` from outside the package);
``data.format`` then takes its name, ``data.format: auto`` picks it by its suffixes, and the config,
``resolve`` and ``load_images`` read it like the others.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from evonas.datasets.folder import ImageFolder
from evonas.datasets.nb201 import NB201, PackagedSamples
from evonas.datasets.npz import ArrayFile
from evonas.datasets.reader import Reader, UserFormat
from evonas.datasets.spec import DatasetSpec, DataSource, check_resolution
from evonas.errors import ConfigError

if TYPE_CHECKING:
    from evonas.config.schema import DataConfig

__all__ = ["FORMATS", "AUTO", "DEFAULT_FORMAT", "register", "user_formats", "data_formats", "user_format",
           "reader_for", "detect", "source_of", "check_data"]

#: ``data.format: auto``: the format is told by ``data.root`` (``detect``)
AUTO = "auto"
#: the user format of a ``data.root`` no format's suffix matches
DEFAULT_FORMAT = "folder"

FORMATS: dict[str, Reader | UserFormat] = {reader.name: reader for reader in (
    NB201(),
    PackagedSamples(),
    ImageFolder(),
    ArrayFile(),
)}

R = TypeVar("R", Reader, UserFormat)


def register(reader: R) -> R:
    """Add (or replace) the format ``reader.name``; a ``UserFormat`` becomes a ``data.format`` value."""
    if not reader.name or reader.name == AUTO:
        raise ValueError(f"a format needs a name other than {AUTO!r}, got {reader.name!r}")
    FORMATS[reader.name] = reader
    return reader


def user_formats() -> list[str]:
    """The formats of a user's own data (``dataset: custom``), in registry order."""
    return [name for name, reader in FORMATS.items() if isinstance(reader, UserFormat)]


def data_formats() -> list[str]:
    """The values ``data.format`` takes: ``auto`` and the user formats."""
    return [AUTO, *user_formats()]


def user_format(name: str) -> UserFormat:
    """The user format ``name``; ``ConfigError`` naming the known ones otherwise."""
    reader = FORMATS.get(name)
    if not isinstance(reader, UserFormat):
        raise ConfigError(f"data.format: unknown data format {name!r}; choose from {data_formats()}")
    return reader


def reader_for(spec: DatasetSpec, root: str | Path | None) -> Reader:
    """The reader of an NB201 data set: its pickles under ``root``, or the packaged sample when ``root`` is None."""
    reader = FORMATS["packaged" if root is None else "nb201"]
    assert isinstance(reader, Reader)
    return reader


def detect(root: str | Path) -> str:
    """The user format of ``root`` under ``data.format: auto``: the first whose suffix it ends with, else a folder."""
    low = str(root).lower()
    return next((name for name in user_formats() if low.endswith(user_format(name).suffixes)), DEFAULT_FORMAT)


def source_of(data: "DataConfig") -> DataSource:
    """The ``data:`` keys of ``dataset: custom`` as a ``DataSource`` (``auto`` told by the root)."""
    assert data.root is not None
    fmt = detect(data.root) if data.format == AUTO else data.format
    return DataSource(fmt, str(data.root), data.resolution, data.val_split, data.split_seed)


def check_data(data: "DataConfig") -> None:
    """``ConfigError`` naming the ``data.`` key unless the keys describe a user's data set of a known format."""
    if data.root is None:
        raise ConfigError(f"data.root: dataset custom needs the path of "
                          f"{' or of '.join(user_format(n).noun for n in user_formats())}")
    fmt = user_format(source_of(data).format)
    if data.resolution is not None:
        check_resolution(data.resolution, "data.resolution")
    fmt.check_config(data)
