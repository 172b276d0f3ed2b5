"""The paper-faithful KNAS score: determinism and agreement with an independent re-implementation."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from evonas.datasets import dataset_spec
from evonas.nn.images import load_images
from evonas.nn.network import build_network
from evonas.scores import ScoreContext, get_score, make_settings
from evonas.space.cell import Cell


@pytest.fixture(scope="module")
def images():
    return load_images("cifar10", n=64, seed=0)


def _ctx(index: int, images, seed: int = 0) -> ScoreContext:
    return ScoreContext(Cell.from_index(index), torch.device("cpu"), dataset_spec("cifar10"), images, seed, C=8, N=2)


def _plain_knas(index: int, images, seed: int, n_batches: int) -> float:
    """The procedure written out directly, with numpy for the arithmetic."""
    net = build_network(Cell.from_index(index), C=8, N=2, num_classes=10, seed=seed)
    net.train()
    kept = []  # n_batches x 11 x 50 (positions read of the 100 kept)
    for b in range(n_batches):
        net.zero_grad()
        x, y = images.images[b:b + 1], images.labels[b:b + 1]
        F.cross_entropy(net(x), y).backward()
        per_tensor = []
        for _, p in net.named_parameters():
            if p.grad is not None and p.grad.numel() >= 50:
                per_tensor.append(p.grad.flatten()[:100].numpy().astype(np.float64)[:50])
            if len(per_tensor) == 11:
                break
        kept.append(per_tensor)
    g = np.array(kept)  # (batches, 11, 100)
    total = 0.0
    half = n_batches // 2
    for t in range(g.shape[1]):
        for pos in range(50):
            u = g[:half, t, pos] - g[:half, t, pos].mean()
            v = g[half:, t, pos] - g[half:, t, pos].mean()
            total += float(u @ v)
    return total / (50 * n_batches)


@pytest.mark.parametrize("index", [0, 1, 6111])
def test_knas_agrees_with_a_plain_reimplementation(index, images):
    settings = make_settings("knas", {"n_batches": 20})
    ours = get_score("knas")(_ctx(index, images), settings)
    ref = _plain_knas(index, images, seed=0, n_batches=20)
    assert ours == pytest.approx(ref, rel=1e-6, abs=1e-12)
    assert ours != 0.0


def test_knas_is_deterministic_and_seed_dependent(images):
    settings = make_settings("knas", {"n_batches": 10})
    knas = get_score("knas")
    a, b = knas(_ctx(1, images, seed=3), settings), knas(_ctx(1, images, seed=3), settings)
    c = knas(_ctx(1, images, seed=4), settings)
    assert a == b
    assert a != c


def test_knas_defaults_are_the_papers():
    s = make_settings("knas")
    assert (s.n_batches, s.batch_size, s.n_tensors, s.min_numel, s.n_entries, s.n_positions) == (50, 1, 11, 50, 100, 50)
    assert s.n_images == 50
    assert get_score("knas").direction == "max"
