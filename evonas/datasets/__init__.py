"""Data sets, torch-free: NB201's by name, a user's own, and the formats their images are read from.

- ``spec``: ``DatasetSpec`` (a data set's shape, table columns, normalisation), ``DATASETS`` (NB201's
  three by name), ``CUSTOM`` (a user's) and ``DataSource`` (where a user's images come from).
- ``formats``: the readers by name (``FORMATS``): ``nb201``, ``packaged``, ``folder``, ``npz``; the
  rule that tells a ``data.root``'s format (``detect``) and the checks of the ``data:`` keys.
- ``custom``: a user's data set read through its format, checked and described (``read_user_data``).
- ``resolve``: a config's data set as a spec (``resolve``, ``train_spec``), and a spec's images
  checked for (``check_available``) or read as uint8 arrays (``read_split``).
"""
from __future__ import annotations

from evonas.datasets.custom import UserData, read_user_data, read_user_split
from evonas.datasets.folder import IMAGE_EXTENSIONS
from evonas.datasets.formats import (AUTO, FORMATS, check_data, data_formats, detect, reader_for, register,
                                     source_of, user_format, user_formats)
from evonas.datasets.nb201 import PACKAGED
from evonas.datasets.reader import BYTES_PER_PIXEL, Arrays, Reader, UserFormat, bytes_needed
from evonas.datasets.resolve import Split, check_available, read_split, resolve, train_root, train_spec
from evonas.datasets.spec import (CUSTOM, DATASETS, MIN_RESOLUTION, DatasetSpec, DataSource, check_resolution,
                                  dataset_spec, spec_from_record, spec_record)

__all__ = ["DatasetSpec", "DataSource", "DATASETS", "CUSTOM", "MIN_RESOLUTION", "dataset_spec", "check_resolution",
           "spec_record", "spec_from_record", "FORMATS", "AUTO", "Reader", "UserFormat", "Arrays", "register",
           "user_formats", "data_formats", "user_format", "reader_for", "detect", "source_of", "check_data",
           "PACKAGED", "UserData", "read_user_data", "read_user_split", "bytes_needed", "IMAGE_EXTENSIONS",
           "BYTES_PER_PIXEL", "resolve", "train_spec", "train_root", "check_available", "read_split", "Split"]
