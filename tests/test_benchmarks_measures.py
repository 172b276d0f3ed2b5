"""The search-quality measures of benchmarks/score_correlation.py and the two-stage front of search_quality.py."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from evonas.quality import hv_ratio, true_front_points, true_objectives, within_bin_tau
from evonas.table import load_table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))


def test_score_correlation_stores_cells_and_reanalyses_them(tmp_path, capsys) -> None:
    import score_correlation as sc

    out = tmp_path / "corr.json"
    res = sc.main(["--scores", "params,flops", "--n", "12", "--seed", "3", "--backend", "serial",
                   "--json", str(out)])
    table = load_table()
    idx = np.asarray(res["per_cell"]["indices"])
    assert len(idx) == 12 and all(table.cell(int(i)).is_connected for i in idx)
    for ds in ("cifar10", "cifar100"):  # the flops score is the shipped fvcore column of each pass's data set
        assert res["per_cell"]["passes"][ds]["values"]["flops"] == pytest.approx(
            table.column(f"flops_{ds}")[idx].tolist(), rel=1e-6)
    T = true_objectives("imagenet16-120", table)[idx]
    flops = res["scores"]["flops"]
    # ImageNet16-120 reuses the CIFAR-10 values, binned by ImageNet16-120's FLOPs and judged on its error
    c10 = np.asarray(res["per_cell"]["passes"]["cifar10"]["values"]["flops"])
    assert flops["tau_within_flops"]["imagenet16-120"] == pytest.approx(within_bin_tau(c10, 100 - T[:, 0], T[:, 1]))
    # minimising FLOPs alone returns the cheapest cell(s) of the sample
    cheapest = T[:, 1] == T[:, 1].min()
    assert flops["front_size"]["imagenet16-120"] == int(cheapest.sum())
    assert flops["front_hv_ratio"]["imagenet16-120"] == pytest.approx(
        hv_ratio(T[cheapest], true_front_points("imagenet16-120", table)))
    assert flops["tau_within_flops_adjusted"]["cifar10"] == -flops["tau_within_flops"]["cifar10"]

    again = sc.main(["--from-json", str(out), "--scores", "flops"])
    assert again["scores"]["flops"] == res["scores"]["flops"]  # floats survive the JSON round trip exactly
    assert json.loads(out.read_text())["bins"] == 5
    with pytest.raises(SystemExit):
        sc.main(["--from-json", str(out), "--scores", "synflow"])
    assert "not in" in capsys.readouterr().err
