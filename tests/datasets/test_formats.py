"""The format registry: the auto rule, the ``data.format`` values, and a new format added in one place."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from evonas.config.load import config_from_mapping
from evonas.datasets import Arrays, DataSource, UserFormat, check_available, custom, formats, reader_for
from evonas.datasets.spec import dataset_spec
from evonas.errors import ConfigError, DataError
from evonas.nn.images import load_images


def test_the_registry_holds_nb201_s_layouts_and_the_user_formats():
    assert list(formats.FORMATS) == ["nb201", "packaged", "folder", "npz"]
    assert formats.user_formats() == ["folder", "npz"] and formats.data_formats() == ["auto", "folder", "npz"]
    assert reader_for(dataset_spec("cifar10"), None).name == "packaged"
    assert reader_for(dataset_spec("cifar10"), "data").name == "nb201"


@pytest.mark.parametrize(("root", "fmt"), [("d.npz", "npz"), ("D.NPZ", "npz"), ("imgs", "folder"),
                                           ("imgs/", "folder"), ("a.npz.d", "folder")])
def test_auto_tells_the_format_by_the_root(root, fmt):
    assert formats.detect(root) == fmt
    config = config_from_mapping({"dataset": "custom", "data": {"root": root, "resolution": 16}})
    assert formats.source_of(config.data).format == fmt


def test_an_unknown_format_names_the_known_ones():
    with pytest.raises(ConfigError, match=r"data.format: unknown data format 'npy' \(did you mean 'npz'\?\); "
                                          r"choose from \['auto', 'folder', 'npz'\]"):
        config_from_mapping({"dataset": "custom", "data": {"root": "x", "format": "npy"}})
    with pytest.raises(ConfigError, match="data.format: unknown data format 'tfrecord'"):
        custom.read_user_data(DataSource("tfrecord", "x", None))


# -- a new format: one reader and one registration, nothing else ---------------------------------------
class NpyPairs(UserFormat):
    """A folder ``*.pairs`` of ``{train,test}_{x,y}.npy``: uint8 NHWC images and their labels."""

    name = "npy"
    noun = "a .pairs folder of .npy files"
    layout = "train_x.npy, train_y.npy, test_x.npy, test_y.npy"
    suffixes = (".pairs",)

    def check_config(self, data) -> None:
        if data.val_split is not None:
            raise ConfigError("data.val_split: a .pairs folder has its own test split; drop val_split")

    def check(self, source: DataSource) -> None:
        missing = [f for f in self.layout.split(", ") if not (Path(source.root) / f).is_file()]
        if missing:
            raise DataError(f"data.root {source.root!r} lacks {missing[0]}; it must hold {self.layout}")

    def read(self, source: DataSource) -> Arrays:
        self.check(source)
        x_train, y_train, x_test, y_test = (np.load(Path(source.root) / f) for f in self.layout.split(", "))
        return Arrays(x_train, y_train, x_test, y_test, ("even", "odd"))


@pytest.fixture
def npy_format(monkeypatch):
    monkeypatch.setattr(formats, "FORMATS", dict(formats.FORMATS))  # registered for this test only
    custom._LAST.clear()
    yield formats.register(NpyPairs())
    custom._LAST.clear()


def _pairs(root: Path) -> Path:
    rng = np.random.default_rng(0)
    root.mkdir()
    for split, n in (("train", 10), ("test", 4)):
        np.save(root / f"{split}_x.npy", rng.integers(0, 256, (n, 8, 8, 3), dtype=np.uint8))
        np.save(root / f"{split}_y.npy", np.arange(n) % 2)
    return root


def test_a_new_format_reads_end_to_end(tmp_path, npy_format):
    root = _pairs(tmp_path / "mine.pairs")
    assert formats.detect(root) == "npy" and "npy" in formats.data_formats()
    for data in ({"root": str(root)}, {"root": str(root), "format": "npy"}):
        spec = config_from_mapping({"dataset": "custom", "data": data}).dataset_spec
        assert (spec.source.format, spec.classes, spec.resolution, spec.n_train, spec.n_test) == \
            ("npy", ("even", "odd"), 8, 10, 4)
    check_available(spec, None)
    train, test = load_images(spec), load_images(spec, split="test", n=3)
    assert train.images.shape == (10, 3, 8, 8) and train.dataset == spec and train.source == str(root)
    assert test.images.shape == (3, 3, 8, 8) and test.labels.dtype == torch.int64
    assert train.images.mean(dim=(0, 2, 3)).abs().max() < 1e-4  # normalised by its own mean and std


def test_a_new_format_s_checks_and_layout_come_with_it(tmp_path, npy_format):
    with pytest.raises(ConfigError, match="data.root: dataset custom needs the path of .* or of a .pairs folder"):
        config_from_mapping({"dataset": "custom", "data": {"format": "npy"}})
    with pytest.raises(ConfigError, match="data.val_split: a .pairs folder has its own test split"):
        config_from_mapping({"dataset": "custom", "data": {"root": "x.pairs", "val_split": 0.2}})
    config = config_from_mapping({"dataset": "custom", "data": {"root": str(tmp_path / "none.pairs")}})
    with pytest.raises(DataError, match="lacks train_x.npy"):
        config.dataset_spec  # noqa: B018


def test_a_format_s_bad_arrays_are_refused_in_one_place(tmp_path, npy_format):
    root = _pairs(tmp_path / "bad.pairs")
    np.save(root / "test_x.npy", np.zeros((4, 16, 16, 3), np.uint8))  # another size than train's
    with pytest.raises(DataError, match="the npy reader of .* gave images"):
        config_from_mapping({"dataset": "custom", "data": {"root": str(root)}}).dataset_spec  # noqa: B018
