"""benchmarks/authors_speed.py without the authors' checkouts: evonas-only rows, the value comparison."""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))


def test_evonas_only_rows_on_one_small_cell(tmp_path, capsys) -> None:
    import authors_speed as bench

    out = tmp_path / "authors.json"
    res = bench.main(["--n", "1", "--C", "8", "--N", "1", "--warmup", "0", "--json", str(out)])
    scores = res["scores"]
    assert list(scores) == [n for f in bench.FAMILIES for n in bench.EVONAS[f]]
    for name, row in scores.items():
        assert row["cells"] == 1 and all(math.isfinite(v) for v in row["evonas_values"])
        assert math.isnan(row["authors_s"]) and math.isnan(row["max_rel_diff"])  # no checkout: evonas only
        assert row["shared_pass"] == (name in ("az_progressivity", "az_trainability"))
        assert row["shared_pass"] or row["evonas_s"] > 0
    assert res["checkouts"] == {}
    assert json.loads(out.read_text())["per_cell"]["knas"]["arches"] == res["per_cell"]["knas"]["arches"]
    table = capsys.readouterr().out
    assert "| vkdnw_entropy | 1 |" in table and "(same pass)" in table


def test_value_comparison_and_missing_checkout(tmp_path) -> None:
    import authors_speed as bench

    assert bench.rel_diff(1.0, 1.0 + 1e-6) == pytest.approx(1e-6, rel=1e-3)
    assert bench.rel_diff(0.0, 0.0) == 0.0 and bench.rel_diff(1.0, -math.inf) == math.inf
    # an identity cell: -inf for the authors, IDENTITY_BLOCK-dominated for evonas; they agree
    both = bench.compare("az_trainability", [-0.5, -6e10], [-0.5 * (1 + 1e-5), -math.inf])
    assert both["identity"] == 1 and both["max_rel_diff"] == pytest.approx(1e-5, rel=1e-3)
    assert bench.compare("az_expressivity", [1.0], [math.nan])["not_finite"] == 1
    with pytest.raises(SystemExit, match="not found"):
        bench.main(["--n", "1", "--families", "aznas", "--aznas", str(tmp_path / "nowhere")])
