"""Operators keep encodings valid, are reproducible under a seed, and respect isomorphism."""
from __future__ import annotations

import numpy as np
import pytest
from pymoo.core.population import Population

from evonas.config.schema import ObjectiveConfig
from evonas.space.cell import N_OPS, Cell
from fixture_scores import VALUE
from operators import CanonicalDuplicateElimination, CellSampling, EdgeCrossover, EdgeMutation
from problems import NB201Problem


class _Dummy:
    ok = True

    def __init__(self, values):
        self.values = values


def _problem():
    from evonas.config.schema import ObjectiveConfig

    return NB201Problem([ObjectiveConfig("knas", "max"), ObjectiveConfig("flops", "min")], lambda cells: [])


def test_sampling_gives_distinct_connected_cells_reproducibly():
    p = _problem()
    a = CellSampling().do(p, 60, random_state=np.random.default_rng(1)).get("X")
    b = CellSampling().do(p, 60, random_state=np.random.default_rng(1)).get("X")
    assert np.array_equal(a, b)
    cells = [Cell(tuple(x)) for x in a]
    assert all(c.is_connected for c in cells)
    assert len({c.canonical for c in cells}) == 60
    assert a.min() >= 0 and a.max() < N_OPS


def test_mutation_changes_exactly_the_drawn_edges_and_stays_in_range():
    p = _problem()
    X = np.random.default_rng(0).integers(0, N_OPS, size=(500, 6))
    pop = Population.new("X", X)
    Y = EdgeMutation(edge_prob=0.5).do(p, pop, random_state=np.random.default_rng(2)).get("X")
    Y2 = EdgeMutation(edge_prob=0.5).do(p, Population.new("X", X), random_state=np.random.default_rng(2)).get("X")
    assert np.array_equal(Y, Y2)
    assert Y.min() >= 0 and Y.max() < N_OPS
    changed = (X != Y).mean()
    assert 0.4 < changed < 0.6  # p = 0.5 and a mutated edge always changes


def test_crossover_children_take_each_edge_from_a_parent():
    p = _problem()
    rng = np.random.default_rng(3)
    X = rng.integers(0, N_OPS, size=(40, 6))
    pop = Population.new("X", X)
    parents = np.arange(40).reshape(20, 2)
    off = EdgeCrossover(prob=1.0).do(p, pop, parents, random_state=np.random.default_rng(4)).get("X")
    assert off.shape == (40, 6)
    for k, (i, j) in enumerate(parents):
        children = off[[k, k + 20]]  # pymoo lists first children of all matings, then second children
        for child in children:
            assert np.all((child == X[i]) | (child == X[j]))
        # the two children together hold exactly the parents' genes
        assert np.array_equal(np.sort(children, axis=0), np.sort(X[[i, j]], axis=0))


def test_duplicate_elimination_removes_isomorphic_cells():
    a = (1, 0, 0, 0, 1, 0)  # skip 0->1, skip 1->3
    b = (0, 0, 0, 1, 0, 0)  # skip 0->3: isomorphic to a
    c = (3, 0, 0, 0, 1, 0)
    pop = Population.new("X", np.array([a, b, c]))
    kept = CanonicalDuplicateElimination().do(pop).get("X")
    assert [tuple(x) for x in kept] == [a, c]
    other = Population.new("X", np.array([c]))
    kept = CanonicalDuplicateElimination().do(Population.new("X", np.array([b, c])), other).get("X")
    assert [tuple(x) for x in kept] == [b]


def test_problem_penalises_disconnected_and_failed_cells_without_scoring_them():
    from evonas.engine.evaluator import Evaluator
    from evonas.engine.pool import ScorerSpec, SerialPool
    from problems import WORST

    disconnected, good, bad = Cell((0,) * 6), Cell((3,) * 6), Cell((1,) * 6)
    assert not disconnected.is_connected and good.index % bad.index != 0
    spec = ScorerSpec(scores=(VALUE, "params"), settings={VALUE: {"modulus": bad.index, "value": float("nan")}})
    evaluator = Evaluator(SerialPool(spec), spec.scores)
    p = NB201Problem([ObjectiveConfig(VALUE, "max"), ObjectiveConfig("params", "min")], evaluator)
    F, G = p.evaluate(np.array([disconnected.ops, good.ops, bad.ops]), return_values_of=["F", "G"])
    assert F[0].tolist() == [WORST, WORST] and G[0, 0] > 0
    assert F[1].tolist() == [-good.index / 15625, evaluator.memo[good.canonical].values["params"]] and G[1, 0] <= 0
    assert F[2].tolist() == [WORST, WORST] and G[2, 0] > 0
    assert disconnected.canonical not in evaluator.memo and evaluator.n_scored == 2  # never scored
    failed = evaluator.memo[bad.canonical]
    assert failed.status == "failed" and failed.error == f"{VALUE} = nan is not finite"


def test_problem_gives_non_finite_values_the_worst_objectives_even_when_marked_ok():
    """Values that reach the problem another way (an old cache entry) are still kept off the front."""
    from problems import WORST

    p = NB201Problem([ObjectiveConfig("knas", "max"), ObjectiveConfig("flops", "min")],
                     lambda cells: [_Dummy({"knas": float("nan"), "flops": 5.0}),
                                    _Dummy({"knas": float("inf"), "flops": 5.0}), _Dummy({"knas": 1.0, "flops": 5.0})])
    F, G = p.evaluate(np.array([[3] * 6, [2] * 6, [1] * 6]), return_values_of=["F", "G"])
    assert F[:2].tolist() == [[WORST, WORST]] * 2 and (G[:2, 0] > 0).all()
    assert F[2].tolist() == [-1.0, 5.0] and G[2, 0] <= 0


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_a_search_never_puts_a_non_finite_cell_on_its_front(bad):
    """A small NSGA-II run where every third cell scores ``bad`` (inf would win a max objective)."""
    from pymoo.optimize import minimize

    from evonas.config.schema import config_from_mapping
    from evonas.engine.evaluator import Evaluator
    from evonas.engine.pool import ScorerSpec, SerialPool
    from evonas.search.nsga2 import make_algorithm

    config = config_from_mapping({"objectives": [{"score": VALUE, "direction": "max"}, {"score": "params"}],
                                  "scores": {VALUE: {"modulus": 3, "value": bad}},
                                  "search": {"pop_size": 12, "n_gen": 4}})
    spec = ScorerSpec(scores=config.score_names, settings=config.scores)
    evaluator = Evaluator(SerialPool(spec), spec.scores)
    res = minimize(NB201Problem(config.objectives, evaluator), make_algorithm(config), ("n_gen", 4), seed=1,
                   verbose=False)
    failed = [ev for ev in evaluator.memo.values() if not ev.ok]
    assert failed and all(ev.index % 3 == 0 and VALUE in ev.error for ev in failed)
    assert all(ev.ok for ev in evaluator.memo.values() if ev.index % 3)
    front = [Cell(tuple(int(v) for v in x)) for x in res.opt.get("X")]
    assert front and all(c.index % 3 for c in front)
    assert np.isfinite(res.opt.get("F")).all()
