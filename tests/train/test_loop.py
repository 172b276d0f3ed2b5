"""The training loop on the packaged CIFAR-10 sample with a tiny network (C=8, N=1): metrics, resume, settings."""
from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch

from evonas.strict import from_mapping
from evonas.errors import ConfigError, DataError, RunDirError
from evonas.nn.images import load_images
from evonas.space.cell import Cell
from evonas.train.loop import _lr_factor, peak_train_memory, train_cell, train_epochs
from evonas.config.schema import TrainSettings

CELL = Cell.parse("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|")
SETTINGS = TrainSettings(epochs=3, batch_size=64, seed=3)
TINY = {"C": 8, "N": 1, "device": "cpu"}


class _Stop(Exception):
    pass


@pytest.fixture(scope="module")
def data():
    torch.set_num_threads(1)
    return load_images("cifar10", split="train", n=256, seed=0), load_images("cifar10", split="test", n=128)


@pytest.fixture(scope="module")
def full_run(data, tmp_path_factory):
    """An uninterrupted 3-epoch run, checkpointed."""
    train, test = data
    path = tmp_path_factory.mktemp("full") / "checkpoint.pt"
    return train_cell(CELL, train=train, test=test, settings=SETTINGS, checkpoint_path=path, **TINY), path


def test_loss_decreases_and_metrics_are_sane(full_run):
    result, _ = full_run
    losses = [h["train_loss"] for h in result.history]
    assert len(losses) == 3 and losses[-1] < losses[0]
    assert 0.0 <= result.test_acc <= 100.0 and 0.0 <= result.train_acc <= 100.0
    assert result.valid_acc is None and result.epochs == 3 and result.arch == CELL.arch
    assert result.train_loss == losses[-1] and not result.model.training
    # the cosine starts at the full rate and the history records each epoch's first rate
    assert result.history[0]["lr"] == pytest.approx(0.1)
    assert result.history[1]["lr"] == pytest.approx(0.1 * 0.5 * (1 + math.cos(math.pi / 3)))


def test_resume_after_one_epoch_matches_the_uninterrupted_run(full_run, data, tmp_path):
    train, test = data
    path = tmp_path / "checkpoint.pt"

    def stop_after_first(epoch, *_):
        if epoch == 1:
            raise _Stop

    with pytest.raises(_Stop):
        train_cell(CELL, train=train, test=test, settings=SETTINGS, checkpoint_path=path, progress=stop_after_first,
                   **TINY)
    seen = []
    resumed = train_cell(CELL, train=train, test=test, settings=SETTINGS, checkpoint_path=path,
                         progress=lambda *a: seen.append(a), **TINY)
    assert [a[0] for a in seen] == [2, 3]  # only the missing epochs ran
    reference = full_run[0].model.state_dict()
    for name, tensor in resumed.model.state_dict().items():
        assert torch.equal(tensor, reference[name]), name
    strip = lambda h: {k: v for k, v in h.items() if k != "seconds"}  # noqa: E731
    assert [strip(h) for h in resumed.history] == [strip(h) for h in full_run[0].history]


def test_finished_checkpoint_returns_without_training(full_run, data):
    result, path = full_run
    calls = []
    again = train_cell(CELL, train=data[0], test=data[1], settings=SETTINGS, checkpoint_path=path,
                       progress=lambda *a: calls.append(a), **TINY)
    assert calls == [] and again.test_acc == result.test_acc
    assert _eval_logits(again.model, data[1]).equal(_eval_logits(result.model, data[1]))


@pytest.mark.parametrize("change", [{"seed": 4}, {"lr": 0.05}, {"epochs": 4}])
def test_mismatching_checkpoint_raises(full_run, data, change):
    _, path = full_run
    with pytest.raises(RunDirError, match="another training run") as info:
        train_cell(CELL, train=data[0], test=data[1], settings=replace(SETTINGS, **change), checkpoint_path=path,
                   **TINY)
    assert str(path) in str(info.value) and next(iter(change)) in str(info.value)


def test_checkpoint_of_another_cell_raises(full_run, data):
    other = Cell.parse("|skip_connect~0|+|nor_conv_1x1~0|none~1|+|skip_connect~0|none~1|nor_conv_3x3~2|")
    with pytest.raises(RunDirError, match="arch"):
        train_cell(other, train=data[0], test=data[1], settings=SETTINGS, checkpoint_path=full_run[1], **TINY)


def test_unreadable_checkpoint_raises(data, tmp_path):
    path = tmp_path / "checkpoint.pt"
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(RunDirError, match="cannot be read"):
        train_cell(CELL, train=data[0], test=data[1], settings=SETTINGS, checkpoint_path=path, **TINY)


def _eval_logits(model: torch.nn.Module, data) -> torch.Tensor:
    with torch.no_grad():
        return model.eval()(data.images[:32])


def test_epochs_as_bytes_write_nothing_and_resume_like_the_file(full_run, data, tmp_path, monkeypatch):
    """``train_epochs`` without a path (a Ray worker's training): each epoch carries its checkpoint as bytes,
    no file is written, and a training resumed from those bytes ends as the uninterrupted one."""
    train, test = data
    monkeypatch.chdir(tmp_path)
    first = next(train_epochs(CELL, train=train, test=test, settings=SETTINGS, **TINY))
    assert first.epoch == 1 and first.checkpoint[:2] == b"PK"  # a torch.save zip, as the file would be
    rest = train_epochs(CELL, train=train, test=test, settings=SETTINGS, resume=first.checkpoint, **TINY)
    seen = []
    while True:
        try:
            seen.append(next(rest).epoch)
        except StopIteration as finished:
            resumed = finished.value
            break
    assert seen == [2, 3] and list(tmp_path.iterdir()) == []
    reference = full_run[0].model.state_dict()
    assert all(torch.equal(t, reference[k]) for k, t in resumed.model.state_dict().items())
    with pytest.raises(RunDirError, match="checkpoint 'RUN/checkpoints/0.pt' belongs to another training run"):
        next(train_epochs(CELL, train=train, test=test, settings=replace(SETTINGS, seed=4), resume=first.checkpoint,
                          resume_name="RUN/checkpoints/0.pt", **TINY))


def test_valid_set_and_eval_every(data):
    train, test = data
    settings = TrainSettings(epochs=2, batch_size=128, eval_every=2, seed=0)
    result = train_cell(CELL, train=train, test=test, valid=test, settings=settings, **TINY)
    assert result.history[0]["test_acc"] is None and result.history[0]["valid_acc"] is None
    assert result.valid_acc == result.test_acc  # the same images, the same network


def test_peak_train_memory_is_none_off_cuda():
    assert peak_train_memory(CELL, num_classes=10, resolution=32, batch_size=8, C=8, N=1, device="cpu") is None


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_training_runs_bf16_channels_last_and_restores_flags(data):
    from evonas.nn.devices import configure_scoring, scoring_flags

    flags = configure_scoring()
    result = train_cell(CELL, train=data[0], test=data[1], settings=replace(SETTINGS, epochs=2), C=8, N=1,
                        device="cuda")
    assert scoring_flags() == flags
    assert 0.0 <= result.test_acc <= 100.0 and result.history[-1]["train_loss"] < result.history[0]["train_loss"] + 1
    assert next(result.model.parameters()).device.type == "cuda"
    peak = peak_train_memory(CELL, num_classes=10, resolution=32, batch_size=64, C=8, N=1)
    assert peak is not None and peak > 0


def test_lr_factor_warmup_then_cosine_to_zero():
    assert [_lr_factor(s, 10, 2) for s in (0, 1)] == [0.5, 1.0]
    assert _lr_factor(2, 10, 2) == 1.0 and _lr_factor(6, 10, 2) == pytest.approx(0.5)
    assert _lr_factor(10, 10, 0) == pytest.approx(0.0, abs=1e-12)


def test_settings_from_config_are_checked():
    assert from_mapping(TrainSettings, {"epochs": 5, "amp": "bf16"}, "train") == TrainSettings(epochs=5, amp="bf16")
    with pytest.raises(ConfigError, match="train.lr"):
        from_mapping(TrainSettings, {"lr": -1.0}, "train")
    with pytest.raises(ConfigError, match="amp"):
        from_mapping(TrainSettings, {"amp": "fp8"}, "train")
    with pytest.raises(ConfigError, match="warmup_epochs"):
        TrainSettings(epochs=2, warmup_epochs=2)


def test_mismatched_image_sets_raise(data):
    train, _ = data
    other = load_images("cifar100", split="test", n=16)
    with pytest.raises(DataError, match="cifar100"):
        train_cell(CELL, train=train, test=other, settings=SETTINGS, **TINY)
