"""benchmarks/fast_aggregate.py on one cell: its fast settings are az_nas_gk's, and the analysis runs on its JSON."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))


def test_one_cell_scored_at_both_settings_and_analysed(tmp_path, capsys) -> None:
    import fast_aggregate as bench
    import torch

    from evonas.datasets import dataset_spec
    from evonas.nn.images import load_images
    from evonas.scores import SCORES, aznas
    from evonas.scores.context import ScoreContext
    from evonas.scores.registry import make_settings
    from evonas.space.table import load_table

    out = tmp_path / "fa.json"
    bench.main(["score", "--seed", "3", "--n", "1", "--json", str(out)])
    (row,) = json.loads(out.read_text())["rows"]
    ctx = ScoreContext(load_table().cell(row["index"]), torch.device("cpu"), dataset_spec("cifar10"),
                       load_images("cifar10", n=64), 0, 16, 5)
    own = make_settings("az_nas_gk", {"half_images": True}).member_settings
    aznas._LAST.clear()
    assert row["train32"] == pytest.approx(SCORES["az_trainability"](ctx, make_settings(
        "az_trainability", own["az_trainability"])), rel=1e-12)
    assert row["gk16"] == pytest.approx(SCORES["gradient_kernel"](ctx, make_settings(
        "gradient_kernel", own["gradient_kernel"])), rel=1e-12)
    assert row["gk32"] != row["gk16"]
    bench.analyse(out, None)
    assert "fast (32 images / 16 examples)" in capsys.readouterr().out
