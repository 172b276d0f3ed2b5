"""The actor plan and how many training tasks share a GPU."""
from __future__ import annotations

import pytest

from evonas.errors import ConfigError, EvonasError
from evonas.engine.placement import ActorPlan, gpu_share, per_gpu_from_memory, plan_actors


def test_plan_without_gpus_is_one_cpu_actor_per_slot() -> None:
    assert plan_actors("auto", cpus=16, gpus=0) == ActorPlan(0, 0.0, 16)
    assert plan_actors("cpu", cpus=16, gpus=1) == ActorPlan(0, 0.0, 16)
    assert plan_actors("cpu", cpus=2, gpus=0, num_actors=1).total == 1
    assert plan_actors("cpu", cpus=16, gpus=1, cpu_actors="auto", actors_per_gpu=4).gpu_actors == 0
    with pytest.raises(ConfigError, match="no GPU"):
        plan_actors("cuda", cpus=16, gpus=0)
    with pytest.raises(EvonasError, match="no room for one scoring worker"):
        plan_actors("auto", cpus=0.5, gpus=0)


def test_auto_on_one_gpu_and_16_cpus_is_not_a_lone_gpu_actor() -> None:
    """The main job's default (actors_per_gpu 2, cpu_actors auto): GPU actors plus CPU actors on the free slots."""
    plan = plan_actors("auto", cpus=16, gpus=1, actors_per_gpu=2, cpu_actors="auto")
    assert plan == ActorPlan(2, 0.5, 14) and plan.total == 16 and not plan.warnings
    assert plan.ray_options("gpu") == {"num_cpus": 1, "num_gpus": 0.5}
    assert plan.ray_options("cpu") == {"num_cpus": 1, "num_gpus": 0}
    assert "2 GPU actor(s) (2 per GPU)" in plan.describe() and "14 CPU" in plan.describe()
    # every score needs the GPU: no idle CPU actors
    assert plan_actors("auto", cpus=16, gpus=1, actors_per_gpu=2, cpu_actors="auto", cpu_work=False) == \
        ActorPlan(2, 0.5, 0)


def test_plan_with_gpus_shares_them_and_fills_cpus_beside() -> None:
    plan = plan_actors("auto", cpus=16, gpus=1, actors_per_gpu=4)
    assert plan == ActorPlan(4, 0.25, 0)
    assert plan.ray_options("gpu") == {"num_cpus": 1, "num_gpus": 0.25}
    mixed = plan_actors("cuda", cpus=16, gpus=1, actors_per_gpu=4, cpu_actors="auto")
    assert mixed == ActorPlan(4, 0.25, 12) and mixed.total == 16
    assert plan_actors("auto", cpus=16, gpus=2, actors_per_gpu=2, num_actors=3) == ActorPlan(3, 0.5, 0)
    two = plan_actors("cuda", cpus=32, gpus=2, actors_per_gpu=4, cpu_actors="auto")
    assert two == ActorPlan(8, 0.25, 24)
    assert plan_actors("cuda", cpus=32, gpus=2, actors_per_gpu=4, cpu_actors=5) == ActorPlan(8, 0.25, 5)


def test_plan_caps_what_the_cluster_cannot_place_with_a_warning_naming_both_numbers() -> None:
    plan = plan_actors("cpu", cpus=2, gpus=0, num_actors=16)
    assert plan == ActorPlan(0, 0.0, 2)
    assert plan.warnings == ("ray.num_actors: 16 workers asked for, but the cluster (2 CPU(s)) can place 2; using 2",)
    one = plan_actors("cuda", cpus=16, gpus=1, num_actors=4)  # 4 actors on 1 GPU at actors_per_gpu 1
    assert one == ActorPlan(1, 1.0, 0) and "4 workers asked for" in one.warnings[0] and "place 1" in one.warnings[0]
    few_cpus = plan_actors("cuda", cpus=3, gpus=2, actors_per_gpu=4)  # a CPU slot per GPU actor too
    assert few_cpus == ActorPlan(3, 0.25, 0) and not few_cpus.warnings  # the default asks for what fits
    beside = plan_actors("cuda", cpus=16, gpus=1, actors_per_gpu=4, cpu_actors=13)
    assert beside == ActorPlan(4, 0.25, 12)
    assert "ray.cpu_actors: 13 workers asked for" in beside.warnings[0] and "can place 12" in beside.warnings[0]
    idle = plan_actors("cuda", cpus=16, gpus=1, cpu_actors=3, cpu_work=False)
    assert idle == ActorPlan(1, 1.0, 0) and "needs the GPU" in idle.warnings[0]
    with pytest.raises(EvonasError, match="no room"):
        plan_actors("cuda", cpus=0, gpus=1)
    with pytest.raises(ConfigError, match=">= 1"):
        gpu_share(0)


def test_per_gpu_from_memory() -> None:
    gib = 1 << 30
    assert per_gpu_from_memory(2 * gib, 80 * gib) == 8  # capped
    assert per_gpu_from_memory(20 * gib, 80 * gib) == 3  # 64 GiB usable
    assert per_gpu_from_memory(100 * gib, 80 * gib) == 1  # never 0
    with pytest.raises(ValueError):
        per_gpu_from_memory(0, 80 * gib)


def test_the_default_counts_are_capped_to_the_cells_the_search_keeps_in_flight() -> None:
    """A generation of 40 on 64 CPU slots starts 40 actors, not 64 that would idle; an explicit count stands."""
    from evonas.config.load import config_from_mapping

    assert plan_actors("auto", cpus=64, gpus=0, busy=40) == ActorPlan(0, 0.0, 40)
    assert plan_actors("auto", cpus=64, gpus=0, busy=40, num_actors=64) == ActorPlan(0, 0.0, 64)
    assert plan_actors("auto", cpus=64, gpus=8, actors_per_gpu=2, cpu_actors="auto", busy=10) == ActorPlan(10, 0.5, 10)
    gen = config_from_mapping({"search": {"pop_size": 40, "n_offsprings": 20}}).search
    asy = config_from_mapping({"search": {"mode": "async", "pop_size": 40, "max_evals": 800}}).search
    assert gen.most_in_flight == 40 and asy.most_in_flight == 800
