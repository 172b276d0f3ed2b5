"""The CPU speed-ups of the gradient scores compute the same numbers: channels-last AZ-NAS pass, per-sample
convolution gradients from one grouped weight-gradient convolution, per-sample normalisation over a contiguous axis."""
from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from conftest import REPO
from evonas.datasets import dataset_spec
from evonas.nn.images import load_images
from evonas.scores import SCORES, aznas
from evonas.scores._grad import GroupStatNorm, per_sample_gradients
from evonas.scores.context import ScoreContext
from evonas.scores.registry import make_settings
from evonas.space.cell import Cell

BEFORE = json.loads((REPO / "tests" / "data" / "score_values_before_speedups.json").read_text())["values"]
#: float32 round-off of another kernel order, amplified by AZ's block terms (2 - s - 1/s, near 0) and their minima
RTOL = {"az_expressivity": 1e-5, "az_progressivity": 1e-3, "az_trainability": 1e-3, "gradient_kernel": 1e-5}


@pytest.mark.parametrize("stride, padding, dilation", [(1, 1, 1), (2, 1, 1), (1, 0, 1), (1, 2, 2)])
def test_per_sample_conv_gradients_are_the_unfolded_ones(stride, padding, dilation):
    torch.manual_seed(0)
    conv = nn.Conv2d(3, 5, 3, stride=stride, padding=padding, dilation=dilation, bias=False)
    x = torch.randn(4, 3, 9, 9)
    gout = torch.randn_like(conv(x))
    cols = F.unfold(x, 3, dilation=dilation, padding=padding, stride=stride)
    unfolded = torch.einsum("bol,bkl->bok", gout.flatten(2), cols).reshape(4, -1)
    fast = per_sample_gradients(conv, "weight", x, gout)
    torch.testing.assert_close(fast, unfolded, rtol=1e-5, atol=1e-5)
    # and each row is the gradient of that sample alone
    x0 = x[:1].clone()
    (w,) = torch.autograd.grad((conv(x0) * gout[:1]).sum(), conv.weight)
    torch.testing.assert_close(fast[0], w.flatten(), rtol=1e-5, atol=1e-5)


def test_per_sample_normalisation_is_the_groups():
    torch.manual_seed(0)
    x = torch.randn(6, 4, 5, 5) * 3 + 1
    norm = GroupStatNorm(nn.BatchNorm2d(4), 1)
    g = x.view(6, 1, 4, 25)
    expected = ((g - g.mean(dim=(1, 3), keepdim=True)) / torch.sqrt(g.var(dim=(1, 3), unbiased=False, keepdim=True)
                                                                       + norm.eps)).view_as(x)
    torch.testing.assert_close(norm.normalised(x), expected, rtol=1e-5, atol=1e-6)


def test_the_scores_keep_their_values():
    data = load_images("cifar10", root=None, split="train", n=128, seed=0)
    for key, values in BEFORE.items():
        ds, C, N, arch = key.split("|", 3)
        ctx = ScoreContext(Cell.from_string(arch), torch.device("cpu"), dataset_spec(ds), data, 0, int(C), int(N))
        aznas._LAST.clear()
        for name, value in values.items():
            assert SCORES[name](ctx, make_settings(name, {})) == pytest.approx(value, rel=RTOL[name]), (name, arch)
