"""Starting a Ray pool's actors: the plan for the cluster, one actor class per kind, and the wait for them.

How an actor asks Ray for resources has one home: ``ActorPlan.ray_options`` (``evonas.engine.placement``).
"""
from __future__ import annotations

import dataclasses
import logging
from typing import Any, Mapping

from evonas.config.schema import RayConfig
from evonas.engine.placement import ActorPlan, plan_actors
from evonas.engine.records import ScorerSpec
from evonas.engine.scorer import Scorer
from evonas.errors import EvonasError
from evonas.scores import get_score

__all__ = ["runs_beside_gpu", "plan_pool", "actor_classes", "await_start", "first_line"]

log = logging.getLogger("evonas")


def runs_beside_gpu(name: str) -> bool:
    """Whether CPU actors beside GPU actors take score ``name``: it runs no network on the scoring
    images (``needs`` neither data, labels nor gpu) and times nothing (not ``exclusive``),
    e.g. FLOPs and parameter counts, table look-ups, synflow."""
    return not (get_score(name).needs & {"data", "labels", "gpu"}) and not get_score(name).exclusive


def first_line(err: BaseException) -> str:
    """The root cause of a Ray error in one line (its last non-empty line)."""
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    return lines[-1] if lines else type(err).__name__


def plan_pool(spec: ScorerSpec, ray_config: RayConfig, resources: Mapping[str, float]) -> ActorPlan:
    """The actors to start for ``spec`` on a cluster of ``resources`` (``ray.cluster_resources()``); warns of caps."""
    plan = plan_actors(spec.device, cpus=resources.get("CPU", 0), gpus=resources.get("GPU", 0),
                       actors_per_gpu=ray_config.actors_per_gpu, cpu_actors=ray_config.cpu_actors,
                       num_actors=ray_config.num_actors, cpu_work=any(map(runs_beside_gpu, spec.scores)))
    for warning in plan.warnings:
        log.warning(warning)
    return plan


def actor_classes(plan: ActorPlan, spec: ScorerSpec) -> tuple[dict[str, Any], dict[str, ScorerSpec]]:
    """For each kind of actor the plan places (``gpu``, ``cpu``): the Ray actor class, asking Ray for
    ``plan.ray_options(kind)``, and the spec its actors score with (CPU actors: on the CPU)."""
    import ray

    classes: dict[str, Any] = {}
    specs: dict[str, ScorerSpec] = {}
    for kind, n in (("gpu", plan.gpu_actors), ("cpu", plan.cpu_actors)):
        if n:
            classes[kind] = ray.remote(**plan.ray_options(kind))(Scorer)
            specs[kind] = spec if kind == "gpu" else dataclasses.replace(spec, device="cpu")
    return classes, specs


def await_start(actors: list[Any], timeout_s: float, where: str) -> dict[Any, str]:
    """Wait up to ``timeout_s`` for every actor to start: each started actor's device name, in the order they
    started. An actor that fails while starting, or none started in time, is an error; the caller kills
    the actors missing from the answer (a warning says how many started)."""
    import ray
    from ray.exceptions import RayActorError

    pings = {a.ping.remote(): a for a in actors}
    ready, _ = ray.wait(list(pings), num_returns=len(pings), timeout=timeout_s)
    started: dict[Any, str] = {}
    for ref in ready:
        try:
            started[pings[ref]] = ray.get(ref)
        except RayActorError as err:
            raise EvonasError(f"a Ray scoring worker could not start: {first_line(err)}") from None
    if not ready:
        raise EvonasError(f"no Ray worker started within {timeout_s:g} s (ray.start_timeout_s): "
                          f"the cluster ({where}) has no free slot for one, or starting it takes longer")
    if len(ready) < len(pings):
        log.warning(f"only {len(ready)} of {len(pings)} Ray workers started within {timeout_s:g} s "
                    f"(ray.start_timeout_s; the cluster has {where}, some may be in use); going on with "
                    f"{len(ready)}")
    return started
