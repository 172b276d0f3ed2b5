"""The Ray pool's scheduler on real Ray actors (light ones, no torch): device-timing work has its device to
itself while other devices go on, and a dead actor's cell is retried on a replacement, said in the log."""
from __future__ import annotations

import logging
import time

from evonas.engine.records import Evaluation
from evonas.engine.scheduler import Scheduler
from evonas.space.cell import Cell

CELLS = [c for c in (Cell.from_index(i) for i in range(1, 400, 7)) if c.is_connected][:6]


class Fake:
    """Answers like a Scorer: each score takes ``seconds`` and is recorded with its span; the cell ``hang``
    (an NB201 index) never returns, as on a frozen node."""

    def __init__(self, device: str, seconds: float = 0.15, hang: int = -1) -> None:
        self.device, self.seconds, self.hang = device, seconds, hang

    def about(self) -> dict:
        return {"device": self.device}

    def score(self, arch: str, only: tuple[str, ...] | None = None) -> Evaluation:
        cell = Cell.from_string(arch)
        while cell.index == self.hang:
            time.sleep(1)
        ev = Evaluation(arch, cell.index, device=self.device)
        for name in only or ("params", "latency"):
            t0 = time.time()
            time.sleep(self.seconds)
            ev.values[name], ev.spans[name] = 1.0, (t0, time.time())
        return ev


def _scheduler(ray, spawn, **kw) -> Scheduler:
    options = dict(kill=lambda a: ray.kill(a, no_restart=True), scores=("params", "latency"), target_kind="cpu",
                   split=False, beside=lambda s: False, max_retries=1, task_timeout_s=30, start_timeout_s=30,
                   place=lambda about: ("n0", "127.0.0.1", about["device"]))
    return Scheduler(spawn=spawn, **{**options, **kw})


def test_each_device_times_its_own_cells_alone_and_the_devices_time_at_once(ray_local):
    actor = ray_local.remote(num_cpus=1)(Fake)
    scheduler = _scheduler(ray_local, spawn=lambda kind: actor.remote("d9"))
    for device in ("d0", "d1"):
        a = actor.remote(device)
        scheduler.add(a, "cpu", ray_local.get(a.about.remote()))
    try:
        scheduler.submit(CELLS)
        evs = list(scheduler.drain())
        device = {w.label: w.device for w in scheduler.workers.values()}
    finally:
        scheduler.close()
    assert sorted(ev.arch for ev in evs) == sorted(c.arch for c in CELLS) and all(ev.ok for ev in evs)
    assert device == {"cpu0": "d0", "cpu1": "d1"}
    by_device: dict[str, list] = {"d0": [], "d1": []}
    for ev in evs:  # a cell's parts name their actors in order: the latency part's is the last
        labels = ev.actor.split(" + ")
        for name, span in ev.spans.items():
            by_device[device[labels[-1] if name == "latency" else labels[0]]].append((name, span))
    for d, items in by_device.items():
        for name, (s, e) in items:
            if name == "latency":
                assert sum(s2 < e and s < e2 for _, (s2, e2) in items) == 1, f"{d}: work beside a latency"
    timed = [(d, span) for d, items in by_device.items() for name, span in items if name == "latency"]
    assert len(timed) == len(CELLS)
    assert any(d1 != d2 and s1 < e2 and s2 < e1 for d1, (s1, e1) in timed for d2, (s2, e2) in timed)
    assert all(ev.spans["params"][1] <= ev.spans["latency"][0] and ev.started <= ev.ended for ev in evs)


def test_a_dead_actor_is_replaced_its_cell_retried_and_the_log_says_so(ray_local, caplog):
    actor = ray_local.remote(num_cpus=1, max_restarts=0)(Fake)
    scheduler = _scheduler(ray_local, spawn=lambda kind: actor.remote("d0", 0.05), scores=("params",))
    victim = actor.remote("d0", 2.0)
    scheduler.add(victim, "cpu", ray_local.get(victim.about.remote()))
    caplog.set_level(logging.INFO, logger="evonas")
    logging.getLogger("evonas").propagate = True
    try:
        scheduler.submit(CELLS[:1])
        assert scheduler.poll(timeout=0.5) == []  # the first attempt is under way
        ray_local.kill(victim, no_restart=True)
        (ev,) = list(scheduler.drain())
    finally:
        scheduler.close()
    assert ev.ok and ev.attempts == 2 and ev.actor == "cpu1" and scheduler.retries == 1
    text = caplog.text
    assert f"cell {CELLS[0].arch} on cpu0 on 127.0.0.1 (node n0): worker died" in text
    assert "retrying (attempt 2 of 2)" in text
    assert "a replacement Ray worker started (cpu1 on 127.0.0.1 (node n0)); the pool has 1 worker(s)" in text


def test_a_cell_far_slower_than_any_before_is_presumed_stuck_and_retried_before_task_timeout(ray_local, caplog):
    """A hung node answers nothing and Ray may take minutes to declare it dead: once 20 cells have come back,
    a call taking stuck_factor x the slowest of them (floor 1 s here) has its worker replaced, its cell retried."""
    import evonas.engine.scheduler as scheduler_module

    cells = [c for c in (Cell.from_index(i) for i in range(1, 2000, 7)) if c.is_connected][:scheduler_module.STUCK_AFTER + 1]
    hang = cells[-1]
    actor = ray_local.remote(num_cpus=1, max_restarts=0)(Fake)
    scheduler = _scheduler(ray_local, spawn=lambda kind: actor.remote("d0", 0.01), scores=("params",),
                           stuck_factor=5.0, stuck_floor_s=1.0, task_timeout_s=600)
    first = actor.remote("d0", 0.01, hang.index)
    scheduler.add(first, "cpu", ray_local.get(first.about.remote()))
    caplog.set_level(logging.INFO, logger="evonas")
    logging.getLogger("evonas").propagate = True
    t0 = time.monotonic()
    try:
        scheduler.submit(cells)
        evs = {ev.arch: ev for ev in scheduler.drain()}
    finally:
        scheduler.close()
    assert time.monotonic() - t0 < 60 and all(ev.ok for ev in evs.values()) and len(evs) == len(cells)
    assert evs[hang.arch].attempts == 2 and evs[hang.arch].actor == "cpu1"
    assert "presumed stuck, the worker was killed; retrying (attempt 2 of 2)" in caplog.text
