"""The model file format: a trained network round-trips exactly; other files are refused by name."""
from __future__ import annotations

import pytest
import torch

from evonas.config.schema import TrainSettings
from evonas.errors import DataError
from evonas.nn.images import load_images
from evonas.space.cell import Cell
from evonas.train.loop import evaluate, train_cell
from evonas.train.models import load_model_file, read_model_file, save_model

CELL = Cell.parse("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|")


@pytest.fixture(scope="module")
def trained():
    """A tiny network (C=8, N=1) trained for one epoch, and its test images."""
    torch.set_num_threads(1)
    train, test = load_images("cifar10", split="train", n=256, seed=0), load_images("cifar10", split="test", n=128)
    result = train_cell(CELL, train=train, test=test, settings=TrainSettings(epochs=1, batch_size=64, seed=3),
                        C=8, N=1, device="cpu")
    return result, test


def _eval_logits(model: torch.nn.Module, data) -> torch.Tensor:
    with torch.no_grad():
        return model.eval()(data.images[:32])


def test_save_load_round_trip_gives_identical_logits(trained, tmp_path):
    result, test = trained
    path = save_model(tmp_path / "model.pt", result.model, CELL, dataset="cifar10", C=8, N=1,
                      metrics={"test_acc": result.test_acc})
    loaded = load_model_file(path)
    assert not loaded.training and loaded.cell == CELL
    assert torch.equal(_eval_logits(loaded, test), _eval_logits(result.model, test))
    assert evaluate(loaded, test) == evaluate(result.model, test)
    assert evaluate(loaded, test)[1] == pytest.approx(result.test_acc)
    blob = read_model_file(path)
    assert blob["format"] == "evonas-model-1" and blob["num_classes"] == 10
    assert (blob["arch"], blob["dataset"], blob["C"], blob["N"]) == (CELL.arch, "cifar10", 8, 1)
    assert blob["metrics"] == {"test_acc": result.test_acc}
    assert not list(tmp_path.glob("*.tmp"))  # written atomically: no temporary file left behind


def test_load_model_file_errors(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_model_file(tmp_path / "missing.pt")
    torch.save({"weights": 1}, tmp_path / "other.pt")
    with pytest.raises(DataError, match="not an evonas model file"):
        load_model_file(tmp_path / "other.pt")
    (tmp_path / "broken.pt").write_bytes(b"not a model")
    with pytest.raises(DataError, match="cannot be read"):
        load_model_file(tmp_path / "broken.pt")
