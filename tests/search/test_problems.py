"""The NB201 problem: disconnected, failed and non-finite cells get the worst objectives and never reach the front."""
from __future__ import annotations

import numpy as np
import pytest

from evonas.config.schema import ObjectiveConfig
from evonas.space.cell import Cell
from fixture_scores import VALUE
from problems import NB201Problem


class _Dummy:
    ok = True

    def __init__(self, values):
        self.values = values


def test_problem_penalises_disconnected_and_failed_cells_without_scoring_them():
    from evonas.engine.evaluator import Evaluator
    from evonas.engine.pool import SerialPool
    from evonas.engine.records import ScorerSpec
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

    from evonas.config.load import config_from_mapping
    from evonas.engine.evaluator import Evaluator
    from evonas.engine.pool import SerialPool
    from evonas.engine.records import ScorerSpec
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
