"""The score command's core: device-timing scores are timed after the others."""
from __future__ import annotations

from evonas.config.schema import RayConfig
from evonas.engine.batch import score_archs
from evonas.engine.records import ScorerSpec
from evonas.space.cell import Cell


def _connected(n: int, start: int = 1) -> list[Cell]:
    cells = (Cell.from_index(i) for i in range(start, 15625, 37))
    return [c for c in cells if c.is_connected][:n]


def test_the_score_command_times_latency_after_the_other_scores():
    spec = ScorerSpec(scores=("latency", "params"), settings={"latency": {"warmup": 0, "repeats": 2}}, C=8, N=1)
    cells = _connected(3)
    evs = score_archs(cells, spec, RayConfig(backend="serial"))
    assert [ev.arch for ev in evs] == [c.arch for c in cells]
    assert all(ev.ok and set(ev.values) == {"latency", "params"} for ev in evs)
    assert all(ev.spans["params"][1] <= ev.spans["latency"][0] for ev in evs)
    assert max(ev.spans["params"][1] for ev in evs) <= min(ev.spans["latency"][0] for ev in evs)  # two phases
