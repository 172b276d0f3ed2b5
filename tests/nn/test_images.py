"""``load_images``: the packaged samples, and the full data sets' readers on tiny files in the real formats."""
from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from evonas.nn.images import load_images
from evonas.datasets import dataset_spec
from evonas.errors import ConfigError, DataError
from fixtures_data import write_cifar10, write_cifar100, write_imagenet16


def _normalised(x: np.ndarray, dataset: str) -> torch.Tensor:
    """The expected tensor, computed another way: per pixel, per channel, in float64."""
    mean, std = (np.asarray(v).reshape(1, 1, 1, 3) for v in (dataset_spec(dataset).mean, dataset_spec(dataset).std))
    return torch.from_numpy(((x / 255.0 - mean) / std).transpose(0, 3, 1, 2)).float()


@pytest.mark.parametrize(("dataset", "n_train", "n_test"), [("cifar10", 768, 256), ("cifar100", 256, 256)])
def test_packaged_samples_load(dataset, n_train, n_test):
    train, test = load_images(dataset), load_images(dataset, split="test")
    assert (len(train), len(test)) == (n_train, n_test)
    assert train.images.shape == (n_train, 3, 32, 32) and train.images.dtype == torch.float32
    assert train.labels.dtype == torch.int64 and train.source == "packaged sample" and train.dataset == dataset
    classes = 10 if dataset == "cifar10" else 100
    assert 0 <= int(train.labels.min()) and int(train.labels.max()) < classes
    # normalised: roughly zero mean and unit spread per channel
    assert train.images.mean(dim=(0, 2, 3)).abs().max() < 0.3
    assert ((train.images.std(dim=(0, 2, 3)) - 1).abs() < 0.3).all()


def test_packaged_subsample_is_deterministic_and_a_subset():
    full = load_images("cifar10")
    a, b = load_images("cifar10", n=32, seed=5), load_images("cifar10", n=32, seed=5)
    c = load_images("cifar10", n=32, seed=6)
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
    assert not torch.equal(a.images, c.images)
    first = (full.images == a.images[0]).flatten(1).all(1).nonzero().flatten()
    assert len(first) >= 1 and int(full.labels[first[0]]) == int(a.labels[0])


def test_cifar10_files(tmp_path):
    truth = write_cifar10(tmp_path, per_batch=4, n_test=6)
    train, test = load_images("cifar10", root=tmp_path), load_images("cifar10", root=tmp_path, split="test")
    assert train.images.shape == (20, 3, 32, 32) and test.images.shape == (6, 3, 32, 32)
    assert train.source == str(tmp_path)
    for got, (x, y) in ((train, truth["train"]), (test, truth["test"])):
        assert torch.allclose(got.images, _normalised(x, "cifar10"), atol=1e-5)
        assert got.labels.tolist() == y.tolist()


def test_cifar100_files_use_fine_labels(tmp_path):
    truth = write_cifar100(tmp_path, n_train=10, n_test=6)
    for split in ("train", "test"):
        got = load_images("cifar100", root=tmp_path, split=split)
        x, fine = truth[split]
        assert got.images.shape == (len(x), 3, 32, 32)
        assert torch.allclose(got.images, _normalised(x, "cifar100"), atol=1e-5)
        assert got.labels.tolist() == fine.tolist()


def test_imagenet16_keeps_classes_1_to_120_shifted_to_0(tmp_path):
    truth = write_imagenet16(tmp_path, per_batch=6, n_val=8)
    for split in ("train", "test"):
        got = load_images("imagenet16-120", root=tmp_path, split=split)
        x, y = truth[split]
        keep = (y >= 1) & (y <= 120)
        assert 0 < keep.sum() < len(y)  # the fixture has both kinds
        assert got.images.shape == (int(keep.sum()), 3, 16, 16)
        assert got.labels.tolist() == (y[keep] - 1).tolist()
        assert torch.allclose(got.images, _normalised(x[keep], "imagenet16-120"), atol=1e-5)
    test = load_images("imagenet16-120", root=tmp_path, split="test")
    assert test.labels[:2].tolist() == [0, 119]


def test_subsampling_files_is_deterministic(tmp_path):
    truth = write_cifar10(tmp_path, per_batch=4, n_test=6)
    a = load_images("cifar10", root=tmp_path, n=7, seed=1)
    b = load_images("cifar10", root=tmp_path, n=7, seed=1)
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
    pick = np.random.default_rng(1).permutation(20)[:7]
    assert torch.allclose(a.images, _normalised(truth["train"][0][pick], "cifar10"), atol=1e-5)
    assert a.labels.tolist() == truth["train"][1][pick].tolist()
    # nested: the first 4 of 7 are the 4 asked for alone, so a score sees the same images in any run
    c = load_images("cifar10", root=tmp_path, n=4, seed=1)
    assert torch.equal(a.images[:4], c.images) and torch.equal(a.labels[:4], c.labels)
    with pytest.raises(DataError, match="asked for 21 train images of cifar10"):
        load_images("cifar10", root=tmp_path, n=21)


@pytest.mark.parametrize(("dataset", "writer", "removed", "expected"), [
    ("cifar10", write_cifar10, "cifar-10-batches-py/data_batch_3", "cifar-10-batches-py/data_batch_1..5"),
    ("cifar10", write_cifar10, "cifar-10-batches-py/test_batch", "test_batch"),
    ("cifar100", write_cifar100, "cifar-100-python/train", "cifar-100-python/train and test"),
    ("imagenet16-120", write_imagenet16, "ImageNet16/train_data_batch_10", "ImageNet16/train_data_batch_1..10"),
    ("imagenet16-120", write_imagenet16, "ImageNet16/val_data", "val_data"),
])
def test_missing_file_names_the_path_and_what_belongs_there(tmp_path, dataset, writer, removed, expected):
    writer(tmp_path)
    (tmp_path / removed).unlink()
    split = "test" if removed.endswith(("test_batch", "val_data")) else "train"
    with pytest.raises(DataError) as info:
        load_images(dataset, root=tmp_path, split=split)
    message = str(info.value)
    assert str(tmp_path / removed) in message and expected in message


@pytest.mark.parametrize(("dataset", "expected"), [
    ("cifar10", "cifar-10-batches-py"), ("cifar100", "cifar-100-python"), ("imagenet16-120", "ImageNet16"),
])
def test_empty_root_names_the_expected_layout(tmp_path, dataset, expected):
    with pytest.raises(DataError) as info:
        load_images(dataset, root=tmp_path)
    assert str(tmp_path / expected) in str(info.value)


def test_missing_root_directory(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(DataError, match="is not a directory") as info:
        load_images("cifar100", root=missing)
    assert str(missing) in str(info.value) and "cifar-100-python/train and test" in str(info.value)


def test_no_packaged_imagenet16_says_how_to_point_at_the_files():
    with pytest.raises(DataError, match="no packaged sample of imagenet16-120.*data.root.*ImageNet16/train_data_batch"):
        load_images("imagenet16-120")


def test_file_of_the_wrong_format_is_a_data_error(tmp_path):
    write_cifar100(tmp_path)
    (tmp_path / "cifar-100-python" / "train").write_bytes(b"this is not a pickle")
    with pytest.raises(DataError) as info:
        load_images("cifar100", root=tmp_path)
    assert str(tmp_path / "cifar-100-python" / "train") in str(info.value)


def test_bad_arguments():
    with pytest.raises(DataError, match="unknown split 'valid'"):
        load_images("cifar10", split="valid")
    with pytest.raises(ConfigError, match="unknown dataset 'mnist'"):
        load_images("mnist")


def test_files_of_the_wrong_shape_or_keys_are_data_errors(tmp_path):
    write_imagenet16(tmp_path)
    with open(tmp_path / "ImageNet16" / "val_data", "wb") as f:  # CIFAR-sized rows where 16x16 images belong
        pickle.dump({"data": np.zeros((2, 3072), np.uint8), "labels": [1, 2]}, f)
    with pytest.raises(DataError, match=r"val_data holds data of shape \(2, 3072\).*expected n x 768"):
        load_images("imagenet16-120", root=tmp_path, split="test")
    write_cifar100(tmp_path)
    with open(tmp_path / "cifar-100-python" / "test", "wb") as f:  # CIFAR-10's label key
        pickle.dump({"data": np.zeros((2, 3072), np.uint8), "labels": [1, 2]}, f)
    with pytest.raises(DataError, match=r"test lacks the key\(s\) \['fine_labels'\]"):
        load_images("cifar100", root=tmp_path, split="test")
