"""NB201's augmentation: crops of the padded image, flips, the padding value, and an epoch's draws made up front."""
from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from evonas.nn.images import load_images
from evonas.train.augment import apply_draws, augment, epoch_plan, padding_fill
from fixtures_data import write_cifar10


def test_augment_crops_windows_of_the_padded_image_and_flips():
    images = torch.arange(2 * 3 * 4 * 4, dtype=torch.float32).view(2, 3, 4, 4)
    fill = torch.tensor([-1.0, -2.0, -3.0])
    assert torch.equal(augment(images, 0, False, fill, torch.Generator().manual_seed(0)), images)
    padded = torch.nn.functional.pad(images, (1, 1, 1, 1))
    for c in range(3):
        padded[:, c][padded[:, c] == 0] = fill[c]
    padded[0, 0, 1, 1] = 0.0  # the one real zero pixel
    windows = [padded[:, :, dy:dy + 4, dx:dx + 4] for dy in range(3) for dx in range(3)]
    for seed in range(20):
        out = augment(images, 1, True, fill, torch.Generator().manual_seed(seed))
        for i in range(2):
            assert any(torch.equal(out[i], w[i]) or torch.equal(out[i], w[i].flip(2)) for w in windows)
    flipped = augment(images, 0, True, fill, torch.Generator().manual_seed(0))
    assert all(torch.equal(flipped[i], images[i]) or torch.equal(flipped[i], images[i].flip(2)) for i in range(2))


def test_padding_fill_is_what_the_data_pipeline_makes_of_a_black_pixel(tmp_path):
    """The crop pads with the value load_images gives a black pixel: read a black image back."""
    written = write_cifar10(tmp_path)
    black = np.zeros((2, 32, 32, 3), dtype=np.uint8)
    with open(tmp_path / "cifar-10-batches-py" / "test_batch", "wb") as f:
        pickle.dump({"batch_label": "testing batch 1 of 1", "data": black.transpose(0, 3, 1, 2).reshape(2, -1),
                     "labels": [0, 1]}, f, protocol=2)
    assert len(written["test"][0]) == 6
    images = load_images("cifar10", root=tmp_path, split="test").images
    fill = padding_fill("cifar10")
    assert fill.shape == (3,)
    torch.testing.assert_close(images, fill.view(1, 3, 1, 1).expand_as(images), rtol=0, atol=1e-6)
    # a crop of a black image padded with the fill is black again, wherever it lands
    cropped = augment(images, 4, True, fill, torch.Generator().manual_seed(0))
    torch.testing.assert_close(cropped, images, rtol=0, atol=1e-6)
    assert fill[0] == pytest.approx((0 - 125.3 / 255) / (63.0 / 255))
    assert not torch.equal(padding_fill("cifar100"), fill)


def test_epoch_plan_repeats_augment_batch_by_batch():
    """The draws made up front for an epoch are those augment would make batch by batch."""
    images = torch.randn(10, 3, 8, 8)
    fill = torch.tensor([0.5, -0.5, 1.0])
    plan = epoch_plan(10, 4, 2, True, torch.Generator().manual_seed(7), torch.device("cpu"))
    g = torch.Generator().manual_seed(7)
    batches = torch.randperm(10, generator=g).split(4)
    assert [b.tolist() for b in plan.batches] == [b.tolist() for b in batches]
    for k, idx in enumerate(batches):
        expected = augment(images[idx], 2, True, fill, g)
        assert torch.equal(apply_draws(images[plan.batches[k]], 2, fill, *plan.draws[k]), expected), k
    bare = epoch_plan(10, 4, 0, False, torch.Generator().manual_seed(7), torch.device("cpu"))
    assert all(d == (None, None, None) for d in bare.draws) and len(bare.batches) == 3
