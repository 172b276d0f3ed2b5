"""Operators keep encodings valid, are reproducible under a seed, and respect isomorphism."""
from __future__ import annotations

import numpy as np
import pytest
from pymoo.core.population import Population

from evonas.config.schema import ObjectiveConfig
from evonas.errors import ConfigError
from evonas.space.cell import N_OPS, Cell
from operators import CanonicalDuplicateElimination, CellSampling, EdgeCrossover, EdgeMutation
from problems import NB201Problem


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


def test_sampling_more_distinct_cells_than_exist_names_the_setting_to_lower():
    with pytest.raises(ConfigError, match=r"could not draw 6462 connected cells .*the space holds 6461\): "
                                          r"lower search.pop_size to at most 6461"):
        CellSampling(max_draws=20_000).do(_problem(), 6462, random_state=np.random.default_rng(0))


def test_sampling_out_of_draws_names_what_to_change():
    with pytest.raises(ConfigError, match=r"in 3 draws \(found [0-3]; the space holds 6461\): lower search.pop_size"
                                          r".*max_draws=3"):
        CellSampling(max_draws=3).do(_problem(), 10, random_state=np.random.default_rng(0))


def test_sampling_may_use_its_last_draw():
    # the draws that fill the population may be all there are
    rng = np.random.default_rng(5)
    ops = rng.integers(0, N_OPS, size=6)
    assert Cell(tuple(ops)).is_connected  # this seed's first draw is a connected cell
    X = CellSampling(max_draws=1).do(_problem(), 1, random_state=np.random.default_rng(5)).get("X")
    assert X.tolist() == [ops.tolist()]


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
