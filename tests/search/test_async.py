"""The asynchronous search (``search.mode: async``): a steady-state NSGA-II fed as results arrive, to its
budget, each class scored once, resumed without rescoring, on the serial pool and on real local Ray."""
from __future__ import annotations

import csv

import numpy as np
import pytest

from evonas.config.load import config_from_mapping
from evonas.errors import ConfigError
from evonas.run.rundir import RunDir
from evonas.search.dominance import non_dominated
from evonas.search.nsga2 import run_search
from fixture_scores import SLEEP, VALUE

BASE = {"network": {"C": 8, "N": 1}, "objectives": [{"score": VALUE}, {"score": "flops"}],
        "ray": {"backend": "serial"}, "search": {"mode": "async", "pop_size": 8, "max_evals": 30}}


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _search(tmp_path, name="run", resume=False, **over):
    config = config_from_mapping({**BASE, **over})
    run = RunDir.open(tmp_path / name) if resume else RunDir.create(tmp_path / name, config)
    return config, run, run_search(config, run, resume=resume)


def _minimised(rows):
    return np.array([[-float(r[VALUE]), float(r["flops"])] for r in rows])


def test_the_async_search_scores_its_budget_once_per_class_and_reports_the_front_of_what_it_scored(tmp_path):
    config, run, result = _search(tmp_path)
    rows = _rows(run.file("candidates.csv"))
    assert len(rows) == 30 == result.n_scored and len({r["canonical"] for r in rows}) == 30
    assert all(r["status"] == "ok" and r["actor"] == "serial" and float(r["started"]) <= float(r["ended"])
               for r in rows)
    F = _minimised(rows)
    expected = {rows[i]["canonical"] for i in non_dominated(F)}
    assert {r["canonical"] for r in result.front} == expected
    state = run.state()
    assert state["status"] == "finished" and state["n_evaluated"] == 30 and 0 < state["utilisation"] <= 1


def test_the_steady_state_population_keeps_the_best_and_breeds_from_them():
    """Survival keeps the non-dominated cells at once; offspring (crossover only) take each edge from a parent,
    so cells bred from a population that agrees on edges 0-2 keep them (a random cell would, 1 time in 125)."""
    from evonas.search.steady import SteadyState
    from evonas.space.cell import Cell
    from problems import NB201Problem

    problem = NB201Problem(config_from_mapping(BASE).objectives, lambda cells: [])
    steady = SteadyState(problem, pop_size=6, seed=3, crossover_prob=1.0, mutation_prob=1e-9)
    told = [Cell((1, 2, 3, a, b, c)) for a, b, c in ((1, 1, 1), (2, 2, 2), (3, 3, 3), (1, 2, 3), (3, 2, 1), (2, 3, 1),
                                                     (1, 3, 2), (2, 1, 3))]
    F = [(-k, k) for k in range(6)] + [(0.0, 9.0), (-1.0, 9.0)]  # the last two are dominated
    steady._queue.clear()  # no initial sample: breed from what was told
    steady.tell([(cell, f, 0.0) for cell, f in zip(told[:3], F[:3])])  # told in two batches
    steady.tell([(cell, f, 0.0) for cell, f in zip(told[3:], F[3:])])
    kept = {Cell(tuple(int(v) for v in x)).canonical for x in steady.pop.get("X")}
    assert kept == {c.canonical for c in told[:6]}
    children = steady.ask(4) + steady.ask(6)
    assert all(c.ops[:3] == (1, 2, 3) for c in children)
    asked = {c.canonical for c in children}
    assert len(asked) == 10 and not asked & {c.canonical for c in told}  # none asked twice, up to isomorphism


def test_an_async_run_cut_short_resumes_to_its_budget_without_rescoring(tmp_path):
    _, run, _ = _search(tmp_path)
    path = run.file("candidates.csv")
    rows = _rows(path)
    with open(path, "w", newline="") as f:  # what a run killed after 12 results leaves
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows[:12])
    _, run, result = _search(tmp_path, resume=True)
    again = _rows(path)
    assert again[:12] == rows[:12] and len(again) == 30 and len({r["canonical"] for r in again}) == 30
    assert result.n_scored == 18 and result.n_reused >= 12


def test_max_evals_belongs_to_the_async_search_and_covers_the_first_population():
    with pytest.raises(ConfigError, match="search.max_evals: 30 is the asynchronous search's budget"):
        config_from_mapping({**BASE, "search": {"max_evals": 30}})
    with pytest.raises(ConfigError, match="search.max_evals: 5 is fewer than search.pop_size 8"):
        config_from_mapping({**BASE, "search": {"mode": "async", "pop_size": 8, "max_evals": 5}})
    config = config_from_mapping({**BASE, "search": {"mode": "async", "pop_size": 8, "n_gen": 4, "n_offsprings": 4}})
    assert config.search.budget == 8 + 3 * 4


def test_the_async_search_on_ray_keeps_both_workers_scoring_and_names_them(ray_local, tmp_path):
    """Two actors, a score that takes 0.2 s per cell: each cell names the actor and the (loopback) node that
    scored it, both actors score, and they were busy most of the time."""
    _, run, result = _search(tmp_path, objectives=[{"score": SLEEP}, {"score": VALUE}],
                             ray={"num_actors": 2}, search={"mode": "async", "pop_size": 8, "max_evals": 24})
    rows = _rows(run.file("candidates.csv"))
    assert len(rows) == 24 and all(r["status"] == "ok" for r in rows)
    assert {r["actor"] for r in rows} == {"cpu0", "cpu1"} and {r["node"] for r in rows} == {"127.0.0.1"}
    assert all(float(r["ended"]) - float(r["started"]) >= 0.2 for r in rows)
    assert run.state()["utilisation"] > 0.5
