"""The search-quality measures of benchmarks/score_correlation.py and the two-stage front of search_quality.py."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from evonas.analysis.quality import hv_ratio, true_front_points, true_objectives, within_bin_tau
from evonas.space.table import load_table

ROOT = Path(__file__).resolve().parents[2]
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


def test_search_quality_trained_fronts_and_generic_settings(tmp_path, capsys) -> None:
    import benchmarks.search_quality as sq

    args = ["--config", str(ROOT / "configs/smoke.yaml"), "--set", "ray.backend=serial", "--set", "search.pop_size=4",
            "--set", f"cache.dir={tmp_path / 'cache'}", "--seeds", "2", "--budgets", "6,12", "--generations", "2",
            "--settings", "valid12+flops,valid_12ep+params,random-valid12", "--train-k", "3,40",
            "--single-n", "8", "--plot", str(tmp_path / "q.png")]
    res = sq.main(args)
    assert res["settings"]["valid_12ep+params"]["objectives"] == ["valid_12ep", "params"]
    assert res["settings"]["random-valid12"]["objectives"] == ["valid_12ep", "flops"]
    for name in ("valid12+flops", "valid_12ep+params"):  # two generations of 4: at most 8 cells, not 12
        assert all(len(r["indices"]) <= 8 for r in res["settings"][name]["runs"])
    assert all(len(r["indices"]) == 12 for r in res["settings"]["random-valid12"]["runs"])
    for name, setting in res["settings"].items():
        at = setting["budgets"]["12"]
        for ds in ("cifar10", "cifar100", "imagenet16-120"):
            assert at[f"{ds}/trained3/size"]["mean"] <= 3
            assert 0 < at[f"{ds}/trained40/hv_ratio"]["mean"] <= at[f"{ds}/evaluated/hv_ratio"]["mean"] + 1e-12
    # searching the 12-epoch accuracy itself: with every cell a candidate, training changes nothing on CIFAR-10
    at = res["settings"]["valid12+flops"]["budgets"]["12"]
    assert at["cifar10/trained40/hv_ratio"]["mean"] == pytest.approx(at["cifar10/returned/hv_ratio"]["mean"])
    assert at["cifar10/trained40/size"]["mean"] == at["cifar10/returned/size"]["mean"]

    with pytest.raises(SystemExit):
        sq.main(args[:args.index("--settings")] + ["--settings", "nope+flops"])
    assert "nope" in capsys.readouterr().err


def test_fill_cache_takes_every_search_quality_setting(tmp_path, capsys) -> None:
    """``fill_cache.py --setting`` parses settings as search_quality.py does: named, SCORE+SCORE, random-SCORE."""
    import benchmarks.fill_cache as fc

    base = ["--config", str(ROOT / "configs/smoke.yaml"), "--set", "ray.backend=serial",
            "--set", f"cache.dir={tmp_path}", "--indices", "6111,9930"]
    generic = fc.main(base + ["--setting", "valid_12ep+params", "--score", "params"])
    assert (generic["score"], generic["cells"], generic["computed"]) == ("params", 2, 2)
    sampled = fc.main(base + ["--setting", "random-valid12", "--score", "valid_12ep"])
    assert sampled["computed"] == 2
    with pytest.raises(fc.ConfigError, match="not an objective"):
        fc.main(base + ["--setting", "valid_12ep+params", "--score", "flops"])
    with pytest.raises(SystemExit):
        fc.main(base + ["--setting", "nope+flops", "--score", "flops"])
    assert "nope" in capsys.readouterr().err
