"""The front's rows for pareto.csv: ground-truth figures of the full benchmark file, when one is configured."""
from __future__ import annotations

from evonas.config.load import config_from_mapping
from evonas.search.pareto import benchmark_columns


class _FakeLookup:
    def lookup(self, index, dataset, hp="200"):
        return {"test_acc": 90.0 + index, "valid_acc": 80.0, "flops_m": 1.5, "params_m": 0.1,
                "latency_ms": None if index else 2.0, "dataset": dataset, "hp": hp}


def test_benchmark_columns_add_nats_figures_only_when_configured():
    rows = [{"id": 0, "index": 0}, {"id": 1, "index": 3}]
    assert benchmark_columns(rows, config_from_mapping({"dataset": "cifar10"})) == rows
    out = benchmark_columns(rows, config_from_mapping({"dataset": "cifar10", "benchmark": {"path": "x", "hp": "12"}}),
                            lookup=_FakeLookup())
    assert out[1]["nats12_test_acc"] == 93.0 and out[0]["nats12_latency_ms"] == 2.0
    assert out[1]["nats12_latency_ms"] is None and out[0]["nats12_valid_acc"] == 80.0
    # exactly the five figures, each under nats<hp>_<field>; the lookup's other keys stay out
    assert {k: v for k, v in out[1].items() if k not in rows[1]} == {
        "nats12_test_acc": 93.0, "nats12_valid_acc": 80.0, "nats12_flops_m": 1.5, "nats12_params_m": 0.1,
        "nats12_latency_ms": None}
