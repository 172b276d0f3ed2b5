"""Training checkpoints: the fingerprint of what the weights depend on; save and resume."""
from __future__ import annotations

import pytest
import torch

from evonas.config.schema import TrainSettings
from evonas.errors import RunDirError
from evonas.space.cell import Cell
from evonas.train.checkpoints import fingerprint, resume_checkpoint, save_checkpoint

CELL = Cell.parse("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|")


def test_cuda_switches_are_off_the_cpufingerprint():
    """bf16 and channels-last are CUDA-only: a CPU checkpoint's fingerprint does not change with them."""
    cpu = torch.device("cpu")
    a = fingerprint(CELL, TrainSettings(), "cifar10", 8, 1, 256, cpu)
    b = fingerprint(CELL, TrainSettings(amp="none", channels_last=False), "cifar10", 8, 1, 256, cpu)
    assert a == b and a["amp"] == "none" and "channels_last" not in a
    gpu = fingerprint(CELL, TrainSettings(), "cifar10", 8, 1, 256, torch.device("cuda"))
    assert gpu["amp"] == "bf16" and gpu["channels_last"] is True
    assert TrainSettings().amp == "bf16" and TrainSettings().channels_last


def _parts(seed: int) -> dict:
    torch.manual_seed(seed)
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.randn(4, 3)).sum().backward()
    optimizer.step()
    return {"model": model, "optimizer": optimizer}


def test_save_then_resume_restores_the_parts_the_rng_and_the_history(tmp_path):
    path = tmp_path / "c.pt"
    expected = {"arch": CELL.arch, "seed": 0}
    assert resume_checkpoint(path, expected, _parts(0)) == (0, [], 0.0)  # nothing yet: start afresh
    saved = _parts(1)
    save_checkpoint(path, expected, saved, epoch=2, history=[{"epoch": 1}, {"epoch": 2}], elapsed_s=1.5)
    after_save = torch.rand(3)
    assert torch.load(path, weights_only=True)["format"] == "evonas-train-checkpoint-1"
    assert not list(tmp_path.glob("*.tmp"))
    fresh = _parts(2)
    assert resume_checkpoint(path, expected, fresh) == (2, [{"epoch": 1}, {"epoch": 2}], 1.5)
    assert torch.equal(fresh["model"].weight, saved["model"].weight)
    assert fresh["optimizer"].state_dict()["state"][0]["momentum_buffer"].equal(
        saved["optimizer"].state_dict()["state"][0]["momentum_buffer"])
    assert torch.equal(torch.rand(3), after_save)  # the RNG goes on from where the checkpoint left it
    with pytest.raises(RunDirError, match="seed: checkpoint 0 vs requested 1"):
        resume_checkpoint(path, {**expected, "seed": 1}, _parts(3))
