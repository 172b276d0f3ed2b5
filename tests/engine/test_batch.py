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
    assert all(ev.actor == "serial" and ev.started <= ev.spans["params"][0] and ev.spans["latency"][1] <= ev.ended
               for ev in evs)


def test_latency_on_a_ray_pool_has_its_device_to_itself_while_the_cells_stream(ray_local):
    """Two CPU actors on one node (one device): no score of any cell runs while a latency is timed, and a
    cell's latency is timed after its own params; every cell names the actor and node that scored it."""
    spec = ScorerSpec(scores=("latency", "params"), settings={"latency": {"warmup": 0, "repeats": 2}}, C=8, N=1)
    cells = _connected(6)
    evs = score_archs(cells, spec, RayConfig(num_actors=2))
    assert all(ev.ok for ev in evs)
    timed = [ev.spans["latency"] for ev in evs]
    others = [span for ev in evs for name, span in ev.spans.items() if name != "latency"]
    for start, end in timed:
        assert not any(s < end and start < e for s, e in others), "a score ran while a latency was timed"
        assert sum(s < end and start < e for s, e in timed) == 1  # only itself
    assert all(ev.spans["params"][1] <= ev.spans["latency"][0] for ev in evs)
    assert {ev.node for ev in evs} == {"127.0.0.1"}
    assert {a for ev in evs for a in ev.actor.split(" + ")} <= {"cpu0", "cpu1"}
