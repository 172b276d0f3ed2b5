"""The scorer: a failing, non-finite or degenerate score fails the cell with the reason; scoring numerics are set."""
from __future__ import annotations

import dataclasses

import pytest
import torch

from evonas.engine.pool import SerialPool
from evonas.engine.records import ScorerSpec
from evonas.scores import SCORES, get_score
from evonas.space.cell import Cell
from fixture_scores import VALUE


def test_a_failing_score_marks_the_cell_failed_with_its_error():
    spec = ScorerSpec(scores=("knas",), settings={"knas": {"n_batches": 4}}, C=8, N=1, n_images=4,
                      data_root=None)
    with SerialPool(spec) as pool:
        ev = next(pool.map_unordered([Cell.from_index(0)]))
    assert ev.ok  # 4 images suffice for 4 batches of one
    bad = ScorerSpec(scores=("knas",), settings={"knas": {"n_batches": 4, "batch_size": 2}}, C=8, N=1)
    scorer = SerialPool(bad).scorer
    object.__setattr__(scorer, "data", scorer.data.__class__(scorer.data.images[:3], scorer.data.labels[:3],
                                                             "cifar10", "cut"))
    ev = scorer.score(Cell.from_index(0).arch)
    assert ev.status == "failed" and "raise data.n_images" in ev.error


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_a_non_finite_score_fails_the_cell_with_the_score_and_value(value):
    spec = ScorerSpec(scores=(VALUE, "params"), settings={VALUE: {"modulus": 1, "value": value}})
    with SerialPool(spec) as pool:
        (ev,) = list(pool.map_unordered([Cell.from_index(6111)]))
    assert ev.status == "failed"
    assert ev.error == f"{VALUE} = {value!r} is not finite"
    assert VALUE not in ev.values  # never handed on (to the cache, the log's values or pymoo)


@pytest.mark.parametrize("value,ok", [(-5.0, False), (0.5, False), (float("inf"), False), (1.0, True), (12.0, True)])
def test_ntk_cond_below_one_is_a_degenerate_kernel_and_fails_the_cell(monkeypatch, value, ok):
    info = get_score("ntk_cond")
    monkeypatch.setitem(SCORES, "ntk_cond", dataclasses.replace(info, fn=lambda ctx, s: value))
    spec = ScorerSpec(scores=("ntk_cond",), settings={"ntk_cond": {"batch_size": 2, "repeats": 1}}, C=8, N=1)
    ev = SerialPool(spec).scorer.score(Cell.from_index(6111).arch)
    assert ev.ok is ok, ev.error
    if not ok:
        assert "ntk_cond" in ev.error and repr(value) in ev.error
    else:
        assert ev.values == {"ntk_cond": value}


def test_a_scorer_sets_the_scoring_numerics_of_its_process():
    """TF32 off and deterministic cuDNN kernels wherever a scorer starts, whatever the process had before."""
    from evonas.nn.devices import _set_tf32, scoring_flags

    before = scoring_flags()
    _set_tf32(True)
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = False, True
    try:
        SerialPool(ScorerSpec(scores=("params",), device="cpu"))
        assert scoring_flags() == {"tf32_matmul": False, "tf32_conv": False, "cudnn_deterministic": True,
                                   "cudnn_benchmark": False}
    finally:
        _set_tf32(before["tf32_matmul"])
        torch.backends.cudnn.deterministic = before["cudnn_deterministic"]
        torch.backends.cudnn.benchmark = before["cudnn_benchmark"]
