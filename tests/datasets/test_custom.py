"""A user's own data: an image folder of real PNG/JPEG files and an .npz, read, described, and every bad case."""
from __future__ import annotations

import numpy as np
import pytest

from evonas.config.load import config_from_mapping
from evonas.errors import ConfigError, DataError
from evonas.datasets import DataSource, check_available, custom, folder, reader, read_user_data
from evonas.nn.images import load_images
from fixtures_data import CLASSES, write_image_folder, write_npz


@pytest.fixture(autouse=True)
def _fresh_reads():
    """Each test reads its files anew (the reader keeps the last data set of the process)."""
    custom._LAST.clear()
    yield
    custom._LAST.clear()


def _folder(root, resolution=16, **data):
    return config_from_mapping({"dataset": "custom", "data": {"root": str(root), "resolution": resolution, **data}})


def test_image_folder_is_read_resized_and_described(tmp_path):
    root = write_image_folder(tmp_path / "imgs")
    spec = _folder(root).dataset_spec
    assert spec.custom and spec.table_prefix is None and spec.name == "custom" and str(spec) == "custom"
    assert spec.classes == CLASSES and spec.num_classes == 3 and spec.resolution == 16
    train, test = load_images(spec), load_images(spec, split="test")
    assert train.images.shape == (24, 3, 16, 16) and test.images.shape == (9, 3, 16, 16)
    assert train.labels.tolist() == [0] * 8 + [1] * 8 + [2] * 8 and train.dataset == spec
    # normalised by the training images' own mean and std
    assert train.images.mean(dim=(0, 2, 3)).abs().max() < 1e-4
    assert (train.images.std(dim=(0, 2, 3)) - 1).abs().max() < 1e-2
    raw = read_user_data(spec.source).x_train
    assert raw.dtype == np.uint8 and raw.shape == (24, 16, 16, 3)
    # every fourth file from the second is grey (2 of each class's 8): its channels are equal after the RGB conversion
    grey = [im for im in raw if np.array_equal(im[..., 0], im[..., 1]) and np.array_equal(im[..., 1], im[..., 2])]
    assert len(grey) >= 6  # (a sample image may be grey already)


def test_seeded_validation_split_of_a_folder_of_classes(tmp_path):
    root = write_image_folder(tmp_path / "flat", per_class=8, per_class_val=2, val=False)
    a = _folder(root, val_split=0.2, split_seed=1).dataset_spec
    train, test = load_images(a), load_images(a, split="test")
    assert (len(train), len(test)) == (24, 6) and sorted(test.labels.tolist()) == [0, 0, 1, 1, 2, 2]
    custom._LAST.clear()
    b = _folder(root, val_split=0.2, split_seed=2).dataset_spec
    assert a.fingerprint != b.fingerprint  # another draw of the held-out images
    custom._LAST.clear()
    assert _folder(root, val_split=0.2, split_seed=1).dataset_spec.fingerprint == a.fingerprint


def test_npz_is_read_at_its_own_size_or_resized(tmp_path):
    path = write_npz(tmp_path / "d.npz")
    own = config_from_mapping({"dataset": "custom", "data": {"root": str(path)}})
    spec = own.dataset_spec
    assert (spec.resolution, spec.classes, spec.source.format) == (32, CLASSES, "npz")
    x = load_images(spec, n=5, seed=0)
    assert x.images.shape == (5, 3, 32, 32)
    custom._LAST.clear()
    small = config_from_mapping({"dataset": "custom", "data": {"root": str(path), "resolution": 16}}).dataset_spec
    assert small.resolution == 16 and load_images(small, split="test").images.shape == (9, 3, 16, 16)
    assert small.fingerprint != spec.fingerprint


def test_npz_without_names_counts_classes_from_labels_and_takes_grey(tmp_path):
    base = write_npz(tmp_path / "a.npz", names=False)
    with np.load(base) as d:
        grey = {k: d[k][..., :1] if k.startswith("x_") else d[k] for k in d.files}
    path = tmp_path / "grey.npz"
    np.savez(path, **grey)
    spec = read_user_data(DataSource("npz", str(path), None)).spec
    assert spec.classes == ("0", "1", "2") and load_images(spec).images.shape[1] == 3


def test_equal_names_different_images_differ_in_fingerprint(tmp_path):
    a = write_image_folder(tmp_path / "a" / "imgs")
    b = write_image_folder(tmp_path / "b" / "imgs")
    first = next((b / "train" / "bird").iterdir())
    from PIL import Image

    with Image.open(first) as im:
        im.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(first)
    fa = _folder(a).dataset_spec.fingerprint
    custom._LAST.clear()
    assert _folder(b).dataset_spec.fingerprint != fa


def test_changed_images_are_refused_by_a_spec_made_before(tmp_path):
    root = write_image_folder(tmp_path / "imgs")
    spec = _folder(root).dataset_spec
    custom._LAST.clear()
    victim = sorted((root / "val" / "bird").iterdir())[0]
    victim.unlink()
    with pytest.raises(DataError, match="changed since this run read them"):
        load_images(spec, split="test")


# -- bad data: one line each, naming the file or folder ------------------------------------------
def _error(config) -> str:
    with pytest.raises((DataError, ConfigError)) as err:
        check_available(config.dataset_spec, None)
    text = str(err.value)
    assert "\n" not in text
    return text


def test_missing_val_split(tmp_path):
    root = write_image_folder(tmp_path / "imgs")
    for f in (root / "val").rglob("*"):
        if f.is_file():
            f.unlink()
    for d in sorted((root / "val").iterdir()):
        d.rmdir()
    (root / "val").rmdir()
    assert "missing split" in _error(_folder(root)) and "val/" in _error(_folder(root))


def test_missing_train_split(tmp_path):
    (tmp_path / "imgs" / "val" / "a").mkdir(parents=True)
    assert "has no train/" in _error(_folder(tmp_path / "imgs"))


def test_not_a_directory(tmp_path):
    assert "is not a directory" in _error(_folder(tmp_path / "nothing"))


def test_class_folder_without_images(tmp_path):
    root = write_image_folder(tmp_path / "imgs")
    (root / "train" / "cat").mkdir()
    (root / "train" / "cat" / "notes.txt").write_text("no images here")
    text = _error(_folder(root))
    assert "class folder" in text and "cat" in text and "no images" in text


def test_one_class_only(tmp_path):
    root = write_image_folder(tmp_path / "imgs", classes=("airplane",))
    assert "one class" in _error(_folder(root))


def test_different_classes_in_train_and_val(tmp_path):
    root = write_image_folder(tmp_path / "imgs")
    (root / "val" / "bird").rename(root / "val" / "boat")
    text = _error(_folder(root))
    assert "different classes" in text and "'bird'" in text and "'boat'" in text


def test_truncated_image_is_named(tmp_path):
    root = write_image_folder(tmp_path / "imgs")
    victim = root / "train" / "automobile" / "000.png"
    victim.write_bytes(victim.read_bytes()[:120])
    text = _error(_folder(root))
    assert str(victim) in text and "cannot be read" in text


def test_unreadable_image_is_named(tmp_path):
    root = write_image_folder(tmp_path / "imgs")
    victim = root / "val" / "bird" / "000.png"
    victim.write_bytes(b"not an image at all")
    assert str(victim) in _error(_folder(root))


def test_resolution_too_small_for_the_network():
    with pytest.raises(ConfigError, match="two stride-2 reductions"):
        _folder("imgs", resolution=4)
    with pytest.raises(ConfigError, match="multiple of 4"):
        _folder("imgs", resolution=30)


def test_npz_too_small_for_the_network(tmp_path):
    path = write_npz(tmp_path / "tiny.npz", size=4)
    assert "stride-2 reductions" in _error(config_from_mapping({"dataset": "custom", "data": {"root": str(path)}}))


def _npz(tmp_path, **replace):
    path = write_npz(tmp_path / "bad.npz", **replace)
    return config_from_mapping({"dataset": "custom", "data": {"root": str(path)}})


def test_npz_labels_out_of_range(tmp_path):
    y = np.array([0, 1, 2] * 3, np.int64)
    y[4] = 7
    text = _error(_npz(tmp_path, y_test=y))
    assert "y_test" in text and "out of range" in text and "0..2" in text
    assert "out of range" in _error(_npz(tmp_path, y_train=np.array([-1] + [0, 1, 2] * 8)[:24])) 


def test_npz_wrong_dtype_and_shape(tmp_path):
    x = np.zeros((24, 32, 32, 3), np.float32)
    assert "float32" in _error(_npz(tmp_path, x_train=x)) and "uint8" in _error(_npz(tmp_path, x_train=x))
    assert "NHWC" in _error(_npz(tmp_path, x_train=np.zeros((24, 3, 32, 32), np.uint8)))
    assert "shape" in _error(_npz(tmp_path, x_train=np.zeros((24, 32, 32), np.uint8)))
    assert "integer labels" in _error(_npz(tmp_path, y_train=np.zeros(24, np.float32)))
    assert "integer labels" in _error(_npz(tmp_path, y_test=np.zeros(4, np.int64)))


_WANT = "x_train, y_train, x_test, y_test (uint8 NHWC images, integer labels)"


def _npz_at(path):
    return config_from_mapping({"dataset": "custom", "data": {"root": str(path)}})


def test_npz_missing_array_and_not_an_npz(tmp_path):
    path = tmp_path / "part.npz"
    np.savez(path, x_train=np.zeros((2, 8, 8, 3), np.uint8), y_train=np.array([0, 1]))
    assert _error(_npz_at(path)) == f"missing split: {path} lacks x_test, y_test; it must hold {_WANT}"
    junk = tmp_path / "junk.npz"
    junk.write_text("x_train,y_train\n1,2\n")  # a text file named .npz: not numpy's allow_pickle advice
    assert _error(_npz_at(junk)) == (f"{junk} is not an .npz archive (the zip of .npy arrays numpy.savez writes); "
                                     f"it must hold {_WANT}")
    one = tmp_path / "one.npz"
    np.save(one.with_suffix(".npy"), np.zeros(3))
    one.with_suffix(".npy").rename(one)  # a single .npy array under an .npz name
    assert "is not an .npz archive" in _error(_npz_at(one))


def test_npz_object_array_is_named_not_unpickled(tmp_path):
    path = write_npz(tmp_path / "obj.npz", classes=np.array(["airplane", "automobile", 3], dtype=object))
    assert _error(_npz_at(path)) == (f"classes of {path} is an array of Python objects (dtype object), which evonas "
                                     f"does not unpickle; save it as a plain string array")


def test_npz_labels_from_1_or_with_a_gap_are_refused(tmp_path):
    """Labels 1..K without names would add a class 0 no image trains and shift every class name by one."""
    y_train, y_test = np.repeat([1, 2, 3], 8), np.repeat([1, 2, 3], 3)
    path = write_npz(tmp_path / "a" / "from1.npz", names=False, y_train=y_train, y_test=y_test)
    assert _error(_npz_at(path)) == (f"y_train of {path} holds the labels 1..3; expected 0..2 (the 3 classes labelled "
                                     f"0..K-1, none skipped, when there is no classes array): relabel them in order")
    gap = write_npz(tmp_path / "b" / "gap.npz", names=False, y_train=np.repeat([0, 1, 3], 8), y_test=y_test - 1)
    assert "holds the labels 0, 1, 3; expected 0..2" in _error(_npz_at(gap))
    # with classes, label i is classes[i]: a named class that no training image has is refused the same way
    named = write_npz(tmp_path / "c" / "named.npz", y_train=y_train - 1, y_test=y_test - 1,
                      classes=np.array(["unused", "airplane", "automobile", "bird"]))
    assert _error(_npz_at(named)) == (f"y_train of {named} holds the labels 0..2, but classes names 4 (labels 0..3): "
                                      f"3 ('bird') has no training image; every class needs one: drop it from "
                                      f"classes and relabel in order")
    ok = write_npz(tmp_path / "d" / "ok.npz", y_train=y_train, y_test=y_test,
                   classes=np.array(["background", "airplane", "automobile", "bird"]))
    with pytest.raises(DataError, match=r"0 \('background'\) has no training image"):
        _npz_at(ok).dataset_spec  # noqa: B018


def test_the_summary_says_what_the_data_set_was_read_as(tmp_path):
    path = write_npz(tmp_path / "d.npz")
    spec = _npz_at(path).dataset_spec
    assert spec.counts == ((8, 3), (8, 3), (8, 3))
    assert spec.summary() == (f"data set custom: 3 classes (train/val images: airplane 8/3, automobile 8/3, bird 8/3) "
                              f"at 32x32, 24 train / 9 val images; data.format npz, {path} "
                              f"(fingerprint {spec.fingerprint})")
    root = write_image_folder(tmp_path / "flat", per_class=8, per_class_val=2, val=False)
    flat = _folder(root, val_split=0.2, split_seed=1).dataset_spec
    assert flat.summary().startswith("data set custom: 3 classes (train/val images: airplane 8/2, automobile 8/2, "
                                     "bird 8/2) at 16x16, 24 train / 6 val images (val: data.val_split 0.2 of each "
                                     f"class, split_seed 1); data.format folder, {root} (fingerprint ")
    from evonas.datasets import DATASETS, spec_from_record, spec_record

    assert spec_from_record(spec_record(spec)) == spec
    assert DATASETS["cifar10"].summary() == "data set cifar10 (NB201's): 10 classes at 32x32"


def test_a_renamed_image_keeps_the_fingerprint_a_moved_or_changed_one_does_not(tmp_path):
    """The fingerprint (and the arrays, so the sampled batches) depend on the images' content by class, not on
    file names or order: a rename keeps a run resumable, another class or other pixels do not."""
    from PIL import Image

    from evonas.errors import RunDirError
    from evonas.run.rundir import RunDir

    root = write_image_folder(tmp_path / "imgs")
    config = _folder(root)
    spec, before = config.dataset_spec, read_user_data(config.dataset_spec.source)
    run = RunDir.create(tmp_path / "run", config)
    run.check_dataset(spec)
    (root / "train" / "bird" / "000.png").rename(root / "train" / "bird" / "zzz.png")  # first in order -> last
    renamed = _folder(root).dataset_spec
    assert renamed.fingerprint == spec.fingerprint
    assert np.array_equal(read_user_data(renamed.source).x_train, before.x_train)
    run.check_dataset(renamed)  # --resume goes on
    (root / "train" / "bird" / "001.png").rename(root / "train" / "airplane" / "moved.png")  # another class
    moved = _folder(root).dataset_spec
    assert moved.fingerprint != spec.fingerprint and moved.counts[0] == (9, 3)
    with pytest.raises(RunDirError, match="changed since the run"):
        run.check_dataset(moved)
    (root / "train" / "airplane" / "moved.png").rename(root / "train" / "bird" / "001.png")
    assert _folder(root).dataset_spec.fingerprint == spec.fingerprint  # back in its class: the same data again
    victim = root / "train" / "bird" / "zzz.png"
    with Image.open(victim) as im:
        im.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(victim)
    assert _folder(root).dataset_spec.fingerprint != spec.fingerprint


def test_npz_one_class_only(tmp_path):
    assert "one class" in _error(_npz(tmp_path, y_train=np.zeros(24, np.int64), y_test=np.zeros(9, np.int64)))


def test_memory_is_checked_before_decoding(tmp_path, monkeypatch):
    root = write_image_folder(tmp_path / "imgs")
    monkeypatch.setattr(reader, "_available_memory", lambda: 1000)
    monkeypatch.setattr(folder, "_decode", lambda *a: pytest.fail("decoded before the memory check"))
    text = _error(_folder(root))
    assert "33 images at 16x16 need about" in text and "lower data.resolution" in text
    assert reader.bytes_needed(33, 16) == 33 * 16 * 16 * 15


def test_config_keys_of_a_user_data_set():
    with pytest.raises(ConfigError, match="data.root: dataset custom needs"):
        config_from_mapping({"dataset": "custom"})
    with pytest.raises(ConfigError, match="data.resolution: an image folder needs"):
        config_from_mapping({"dataset": "custom", "data": {"root": "imgs"}})
    with pytest.raises(ConfigError, match="data.resolution: only for dataset: custom"):
        config_from_mapping({"data": {"resolution": 16}})
    with pytest.raises(ConfigError, match="data.val_split: an .npz has its own"):
        config_from_mapping({"dataset": "custom", "data": {"root": "a.npz", "val_split": 0.2}})
    with pytest.raises(ConfigError, match="train.dataset / train.data_root"):
        config_from_mapping({"dataset": "custom", "data": {"root": "a.npz"}, "train": {"data_root": "x"}})
    with pytest.raises(ConfigError, match="evonas.builders.reference --config CONFIG --out ref.npz"):
        config_from_mapping({"dataset": "custom", "data": {"root": "a.npz"},
                             "objectives": [{"score": "gradient_kernel_agg"}, {"score": "flops"}]})
    with pytest.raises(ConfigError, match="val_split: .*0 < share < 1"):
        config_from_mapping({"dataset": "custom", "data": {"root": "imgs", "resolution": 16, "val_split": 1.5}})
